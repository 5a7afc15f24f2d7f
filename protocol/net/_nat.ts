/**
 * NAT boxes for `MemoryNetwork`, in the terms of RFC 4787 (NAT
 * behavioural requirements for unicast UDP): a mapping behaviour decides when
 * an outbound datagram reuses an external port, a filtering behaviour decides
 * which inbound datagrams a mapping lets through. Kept apart from the network
 * so hosts without a NAT pay one `undefined` check per datagram.
 *
 * @module
 */
import { mulberry32 } from "./_prng.ts";
import type { NetAddress } from "./types.ts";

/**
 * RFC 4787 section 4.1 mapping behaviour: which outbound datagrams of one
 * internal endpoint share an external port.
 *
 * - `"endpoint-independent"`: one port per internal endpoint, whatever the destination (cones).
 * - `"address-dependent"`: one port per internal endpoint and destination host.
 * - `"address-and-port-dependent"`: one port per internal endpoint and destination
 *   endpoint (symmetric NAT).
 *
 * @example
 * ```ts
 * import type { NatMapping } from "@olaf/protocol/memory-network";
 * const mapping: NatMapping = "address-and-port-dependent";
 * console.log(mapping);
 * ```
 */
export type NatMapping =
  | "endpoint-independent"
  | "address-dependent"
  | "address-and-port-dependent";

/**
 * RFC 4787 section 5 filtering behaviour: which remote endpoints may send to
 * an external port once a mapping exists.
 *
 * - `"endpoint-independent"`: anyone (full cone).
 * - `"address-dependent"`: any port of a host the internal endpoint has sent to (restricted cone).
 * - `"address-and-port-dependent"`: only endpoints it has sent to (port-restricted cone,
 *   symmetric, and what Linux conntrack does).
 *
 * @example
 * ```ts
 * import type { NatFiltering } from "@olaf/protocol/memory-network";
 * const filtering: NatFiltering = "address-dependent";
 * console.log(filtering);
 * ```
 */
export type NatFiltering =
  | "endpoint-independent"
  | "address-dependent"
  | "address-and-port-dependent";

/**
 * The four classic (RFC 3489) NAT types, each a mapping plus a filtering
 * behaviour; see {@linkcode NAT_TYPES}.
 *
 * @example
 * ```ts
 * import type { NatType } from "@olaf/protocol/memory-network";
 * const type: NatType = "port-restricted-cone";
 * console.log(type);
 * ```
 */
export type NatType = "full-cone" | "restricted-cone" | "port-restricted-cone" | "symmetric";

/**
 * How a NAT picks the external port of a new mapping; every choice is
 * deterministic for a given network seed and sequence of calls.
 *
 * - `"sequential"`: the next free port of the range, wrapping (a new mapping never reuses
 *   the port an expired one just had, unless the range is exhausted).
 * - `"preserve"`: the internal port when it is in the range and free (Linux masquerade,
 *   natlab's `cone`), else sequential.
 * - `"random"`: a free port drawn from the NAT's own generator, seeded from the network
 *   seed (Linux `masquerade fully-random`, natlab's `symmetric`).
 *
 * @example
 * ```ts
 * import type { NatPortAllocation } from "@olaf/protocol/memory-network";
 * const allocation: NatPortAllocation = "preserve";
 * console.log(allocation);
 * ```
 */
export type NatPortAllocation = "sequential" | "preserve" | "random";

/**
 * Mapping and filtering behaviour of each classic NAT type: full cone is
 * EIM + EIF, restricted cone EIM + ADF, port-restricted cone EIM + APDF and
 * symmetric APDM + APDF.
 *
 * @example
 * ```ts
 * import { NAT_TYPES } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 * assert.deepEqual(NAT_TYPES.symmetric, {
 *   mapping: "address-and-port-dependent",
 *   filtering: "address-and-port-dependent",
 * });
 * ```
 */
export const NAT_TYPES: Readonly<
  Record<NatType, { readonly mapping: NatMapping; readonly filtering: NatFiltering }>
> = Object.freeze({
  "full-cone": Object.freeze({
    mapping: "endpoint-independent",
    filtering: "endpoint-independent",
  }),
  "restricted-cone": Object.freeze({
    mapping: "endpoint-independent",
    filtering: "address-dependent",
  }),
  "port-restricted-cone": Object.freeze({
    mapping: "endpoint-independent",
    filtering: "address-and-port-dependent",
  }),
  symmetric: Object.freeze({
    mapping: "address-and-port-dependent",
    filtering: "address-and-port-dependent",
  }),
});

/**
 * Default {@linkcode NatOptions.mappingTimeoutMs}: RFC 4787 REQ-5's minimum of two minutes.
 *
 * @example
 * ```ts
 * import { DEFAULT_NAT_MAPPING_TIMEOUT_MS, MemoryNetwork } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 * const nat = new MemoryNetwork().addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"] });
 * assert.equal(nat.mappingTimeoutMs, DEFAULT_NAT_MAPPING_TIMEOUT_MS);
 * ```
 */
export const DEFAULT_NAT_MAPPING_TIMEOUT_MS = 120_000;

/**
 * Options for `MemoryNetwork.addNat`.
 *
 * @example A symmetric NAT with a short timeout
 * ```ts
 * import { MemoryNetwork, type NatOptions } from "@olaf/protocol/memory-network";
 * const options: NatOptions = {
 *   publicHostname: "198.51.100.1",
 *   hosts: ["10.1.0.0/24"],
 *   type: "symmetric",
 *   mappingTimeoutMs: 30_000,
 * };
 * const nat = new MemoryNetwork().addNat(options);
 * console.log(nat.mapping); // "address-and-port-dependent"
 * ```
 */
export interface NatOptions {
  /** The NAT's one external address; the NAT owns every port of it (no socket can bind it). */
  publicHostname: string;
  /**
   * The private hosts behind the NAT: exact hostnames (IPv4 or IPv6) or IPv4
   * prefixes such as `"10.1.0.0/24"`. A host belongs to at most one NAT.
   */
  hosts: readonly string[];
  /** A classic type giving mapping and filtering (default `"port-restricted-cone"`). */
  type?: NatType;
  /** Overrides the mapping behaviour of {@linkcode NatOptions.type}. */
  mapping?: NatMapping;
  /** Overrides the filtering behaviour of {@linkcode NatOptions.type}. */
  filtering?: NatFiltering;
  /**
   * A mapping expires after this much virtual time without refresh, default
   * {@linkcode DEFAULT_NAT_MAPPING_TIMEOUT_MS}. Outbound datagrams refresh it.
   */
  mappingTimeoutMs?: number;
  /** Whether inbound datagrams that pass the filter refresh the mapping too (default false). */
  inboundRefresh?: boolean;
  /**
   * Whether a private host's datagram to this NAT's own public address is
   * looped back to the mapped private host (default false, as natlab's
   * nftables masquerade and many home routers).
   */
  hairpinning?: boolean;
  /** External ports the NAT hands out, inclusive; default `{ min: 1024, max: 65535 }`. */
  portRange?: { readonly min: number; readonly max: number };
  /** How external ports are picked, default `"sequential"`. */
  portAllocation?: NatPortAllocation;
}

/**
 * Counters of one NAT, since it was added; a snapshot from
 * {@linkcode MemoryNat.stats}.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, type NatStats } from "@olaf/protocol/memory-network";
 * const nat = new MemoryNetwork().addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"] });
 * const stats: NatStats = nat.stats();
 * console.log(stats.mappingsLive); // 0
 * ```
 */
export interface NatStats {
  /** Mappings alive now. */
  mappingsLive: number;
  /** Mappings created. */
  mappingsCreated: number;
  /** Mappings that expired for lack of refresh. */
  mappingsExpired: number;
  /** Outbound datagrams whose source was rewritten to the public address. */
  translatedOut: number;
  /** Inbound datagrams from the public side translated to a private host. */
  translatedIn: number;
  /** Datagrams a private host sent to the NAT's public address that reached a private host. */
  hairpinned: number;
  /** Inbound datagrams to a live mapping that the filtering behaviour rejected. */
  filtered: number;
  /** Inbound datagrams to a public port without a live mapping. */
  unmapped: number;
  /** Datagrams to the NAT's own public address from behind it, dropped because hairpinning is off. */
  hairpinDropped: number;
  /** Datagrams from outside addressed straight to a private host, which has no public route. */
  unreachable: number;
  /** Outbound datagrams dropped because every port of the range was mapped. */
  portsExhausted: number;
}

/**
 * One live mapping of a NAT, as listed by {@linkcode MemoryNat.mappings}.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, type NatMappingInfo } from "@olaf/protocol/memory-network";
 * const net = new MemoryNetwork();
 * const nat = net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"] });
 * const socket = await net.bind({ hostname: "10.1.0.2" });
 * socket.send(new Uint8Array([1]), { hostname: "203.0.113.1", port: 3478 });
 * const [info]: NatMappingInfo[] = nat.mappings();
 * console.log(info.external); // { hostname: "198.51.100.1", port: 1024 }
 * ```
 */
export interface NatMappingInfo {
  /** The private endpoint. */
  readonly internal: NetAddress;
  /** Its public endpoint, the source address remote hosts see. */
  readonly external: NetAddress;
  /**
   * For a dependent mapping, the destination it is bound to: a host
   * (address-dependent) or `"host:port"` / `"[v6]:port"`; `undefined` for an
   * endpoint-independent one.
   */
  readonly remote: string | undefined;
  /** Virtual time at which it expires unless refreshed. */
  readonly expiresAt: number;
}

/**
 * A NAT box on a `MemoryNetwork`, returned by
 * `MemoryNetwork.addNat`: its configuration, counters and mappings.
 *
 * @example A private host behind a full-cone NAT reaches a public server
 * ```ts
 * import { MemoryNetwork, type MemoryNat } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork();
 * const nat: MemoryNat = net.addNat({
 *   publicHostname: "198.51.100.1",
 *   hosts: ["10.1.0.0/24"],
 *   type: "full-cone",
 * });
 * const seen: string[] = [];
 * const server = await net.bind({
 *   hostname: "203.0.113.1",
 *   port: 3478,
 *   onDatagram: (_data, from) => seen.push(`${from.hostname}:${from.port}`),
 * });
 * const client = await net.bind({ hostname: "10.1.0.2" });
 * client.send(new Uint8Array([1]), server.localAddress);
 * await net.advance(10);
 * assert.deepEqual(seen, ["198.51.100.1:1024"]); // the translated source
 * assert.equal(nat.stats().mappingsLive, 1);
 * ```
 */
export interface MemoryNat {
  /** The NAT's external address. */
  readonly publicHostname: string;
  /** Its mapping behaviour. */
  readonly mapping: NatMapping;
  /** Its filtering behaviour. */
  readonly filtering: NatFiltering;
  /** Inactivity after which a mapping expires, in virtual milliseconds. */
  readonly mappingTimeoutMs: number;
  /** Whether inbound datagrams refresh mappings. */
  readonly inboundRefresh: boolean;
  /** Whether hairpinning is on. */
  readonly hairpinning: boolean;
  /** Whether `hostname` is a private host behind this NAT. */
  isPrivate(hostname: string): boolean;
  /** A snapshot of the counters, expired mappings accounted for. */
  stats(): NatStats;
  /** The live mappings, oldest first. */
  mappings(): NatMappingInfo[];
  /**
   * Expires every mapping now (counted in `mappingsExpired`), as a NAT reboot
   * would: remote hosts lose their way in, and each private host's next
   * outbound datagram gets a new mapping. For rebinding tests.
   */
  expireAll(): void;
}

interface Mapping {
  internal: NetAddress;
  external: NetAddress;
  // What a dependent mapping is bound to, for NatMappingInfo.
  remote: NetAddress | undefined;
  key: string;
  refreshedAt: number;
  // Remote hosts (ADF) or endpoints (APDF) this mapping has sent to; unused for EIF.
  permissions: Set<string>;
}

const ENDPOINT_INDEPENDENT = "endpoint-independent";
const ADDRESS_DEPENDENT = "address-dependent";
const DEFAULT_PORT_RANGE = { min: 1024, max: 65535 };
const RANDOM_TRIES = 16;

class NatBox implements MemoryNat {
  readonly publicHostname: string;
  readonly mapping: NatMapping;
  readonly filtering: NatFiltering;
  readonly mappingTimeoutMs: number;
  readonly inboundRefresh: boolean;
  readonly hairpinning: boolean;
  readonly #exact = new Set<string>();
  readonly #prefixes: { base: number; mask: number }[] = [];
  readonly #portMin: number;
  readonly #portMax: number;
  readonly #allocation: NatPortAllocation;
  readonly #random: () => number;
  readonly #now: () => number;
  #nextPort: number;
  readonly #byInternal = new Map<string, Mapping>();
  readonly #byExternal = new Map<number, Mapping>();
  readonly #stats: NatStats = {
    mappingsLive: 0,
    mappingsCreated: 0,
    mappingsExpired: 0,
    translatedOut: 0,
    translatedIn: 0,
    hairpinned: 0,
    filtered: 0,
    unmapped: 0,
    hairpinDropped: 0,
    unreachable: 0,
    portsExhausted: 0,
  };

  constructor(options: NatOptions, seed: number, now: () => number) {
    if (typeof options.publicHostname !== "string" || options.publicHostname === "") {
      throw new TypeError("addNat: publicHostname must be a non-empty address");
    }
    const preset = NAT_TYPES[options.type ?? "port-restricted-cone"];
    if (preset === undefined) throw new RangeError(`addNat: unknown NAT type ${options.type}`);
    this.publicHostname = options.publicHostname;
    this.mapping = checkBehaviour(options.mapping ?? preset.mapping, "mapping");
    this.filtering = checkBehaviour(options.filtering ?? preset.filtering, "filtering");
    this.mappingTimeoutMs = options.mappingTimeoutMs ?? DEFAULT_NAT_MAPPING_TIMEOUT_MS;
    if (!(this.mappingTimeoutMs > 0)) {
      throw new RangeError(`addNat: mappingTimeoutMs must be > 0, got ${this.mappingTimeoutMs}`);
    }
    this.inboundRefresh = options.inboundRefresh ?? false;
    this.hairpinning = options.hairpinning ?? false;
    const { min, max } = options.portRange ?? DEFAULT_PORT_RANGE;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError("addNat: portRange must be whole ports with 1 <= min <= max <= 65535");
    }
    this.#portMin = min;
    this.#portMax = max;
    this.#nextPort = min;
    this.#allocation = options.portAllocation ?? "sequential";
    if (!["sequential", "preserve", "random"].includes(this.#allocation)) {
      throw new RangeError(`addNat: unknown portAllocation ${this.#allocation}`);
    }
    this.#random = mulberry32(seed);
    this.#now = now;
    if (!Array.isArray(options.hosts) || options.hosts.length === 0) {
      throw new TypeError("addNat: hosts must list at least one private host or prefix");
    }
    for (const host of options.hosts) {
      const prefix = parsePrefix(host);
      if (prefix !== undefined) this.#prefixes.push(prefix);
      else this.#exact.add(host);
    }
    if (this.isPrivate(this.publicHostname)) {
      throw new RangeError("addNat: publicHostname cannot also be one of its private hosts");
    }
  }

  isPrivate(hostname: string): boolean {
    if (this.#exact.has(hostname)) return true;
    if (this.#prefixes.length === 0) return false;
    const ip = parseIPv4(hostname);
    if (ip === undefined) return false;
    return this.#prefixes.some((p) => ((ip & p.mask) >>> 0) === p.base);
  }

  // Whether any of `hosts` (as given to addNat) would be private here: for overlap checks.
  overlaps(other: NatBox): boolean {
    for (const host of other.#exact) if (this.isPrivate(host)) return true;
    for (const host of this.#exact) if (other.isPrivate(host)) return true;
    for (const a of this.#prefixes) {
      for (const b of other.#prefixes) {
        const mask = (a.mask & b.mask) >>> 0;
        if (((a.base & mask) >>> 0) === ((b.base & mask) >>> 0)) return true;
      }
    }
    return false;
  }

  stats(): NatStats {
    this.#sweep();
    return { ...this.#stats };
  }

  mappings(): NatMappingInfo[] {
    this.#sweep();
    return [...this.#byExternal.values()].map((m) => ({
      internal: m.internal,
      external: m.external,
      remote: m.remote === undefined
        ? undefined
        : this.mapping === ADDRESS_DEPENDENT
        ? m.remote.hostname
        : endpointText(m.remote),
      expiresAt: m.refreshedAt + this.mappingTimeoutMs,
    }));
  }

  expireAll(): void {
    for (const mapping of this.#byExternal.values()) this.#expire(mapping);
  }

  /** Rewrites the source of a datagram leaving for the public side; undefined drops it. */
  translate(from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    if (to.hostname === this.publicHostname && !this.hairpinning) {
      this.#stats.hairpinDropped++;
      return undefined;
    }
    const key = this.mapping === ENDPOINT_INDEPENDENT
      ? `${from.hostname}|${from.port}`
      : this.mapping === ADDRESS_DEPENDENT
      ? `${from.hostname}|${from.port}>${to.hostname}`
      : `${from.hostname}|${from.port}>${to.hostname}|${to.port}`;
    let mapping = this.#byInternal.get(key);
    if (mapping !== undefined && now - mapping.refreshedAt >= this.mappingTimeoutMs) {
      this.#expire(mapping);
      mapping = undefined;
    }
    if (mapping === undefined) {
      const port = this.#allocate(from.port, now);
      if (port === undefined) {
        this.#stats.portsExhausted++;
        return undefined;
      }
      mapping = {
        internal: from,
        external: Object.freeze({ hostname: this.publicHostname, port }),
        remote: this.mapping === ENDPOINT_INDEPENDENT ? undefined : to,
        key,
        refreshedAt: now,
        permissions: new Set(),
      };
      this.#byInternal.set(key, mapping);
      this.#byExternal.set(port, mapping);
      this.#stats.mappingsCreated++;
      this.#stats.mappingsLive++;
    }
    mapping.refreshedAt = now;
    if (this.filtering !== ENDPOINT_INDEPENDENT) {
      mapping.permissions.add(
        this.filtering === ADDRESS_DEPENDENT ? to.hostname : `${to.hostname}|${to.port}`,
      );
    }
    this.#stats.translatedOut++;
    return mapping.external;
  }

  /** Translates a datagram arriving at the public address; undefined drops it. */
  receive(from: NetAddress, port: number, now: number): NetAddress | undefined {
    let mapping = this.#byExternal.get(port);
    if (mapping !== undefined && now - mapping.refreshedAt >= this.mappingTimeoutMs) {
      this.#expire(mapping);
      mapping = undefined;
    }
    if (mapping === undefined) {
      this.#stats.unmapped++;
      return undefined;
    }
    if (
      this.filtering !== ENDPOINT_INDEPENDENT &&
      !mapping.permissions.has(
        this.filtering === ADDRESS_DEPENDENT ? from.hostname : `${from.hostname}|${from.port}`,
      )
    ) {
      this.#stats.filtered++;
      return undefined;
    }
    if (this.inboundRefresh) mapping.refreshedAt = now;
    if (from.hostname === this.publicHostname) this.#stats.hairpinned++;
    else this.#stats.translatedIn++;
    return mapping.internal;
  }

  countUnreachable(): void {
    this.#stats.unreachable++;
  }

  #expire(mapping: Mapping): void {
    this.#byInternal.delete(mapping.key);
    this.#byExternal.delete(mapping.external.port);
    this.#stats.mappingsLive--;
    this.#stats.mappingsExpired++;
  }

  #sweep(): void {
    const now = this.#now();
    for (const mapping of this.#byExternal.values()) {
      if (now - mapping.refreshedAt >= this.mappingTimeoutMs) this.#expire(mapping);
    }
  }

  #isFree(port: number, now: number): boolean {
    const mapping = this.#byExternal.get(port);
    if (mapping === undefined) return true;
    if (now - mapping.refreshedAt < this.mappingTimeoutMs) return false;
    this.#expire(mapping);
    return true;
  }

  #allocate(internalPort: number, now: number): number | undefined {
    const min = this.#portMin;
    const size = this.#portMax - min + 1;
    if (this.#allocation === "preserve") {
      if (internalPort >= min && internalPort <= this.#portMax && this.#isFree(internalPort, now)) {
        return internalPort;
      }
    } else if (this.#allocation === "random") {
      for (let i = 0; i < RANDOM_TRIES; i++) {
        const port = min + Math.floor(this.#random() * size);
        if (this.#isFree(port, now)) return port;
      }
    }
    for (let i = 0; i < size; i++) {
      const port = this.#nextPort;
      this.#nextPort = port === this.#portMax ? min : port + 1;
      if (this.#isFree(port, now)) return port;
    }
    return undefined;
  }
}

/**
 * Every NAT of one network, and the two hooks the network calls: outbound
 * (at send) and inbound (at arrival). Private-host lookups are cached per
 * hostname, so a datagram costs a few map lookups.
 */
export class NatTable {
  readonly #boxes: NatBox[] = [];
  readonly #byPublic = new Map<string, NatBox>();
  readonly #hostCache = new Map<string, NatBox | null>();
  readonly #seed: number;
  readonly #now: () => number;

  constructor(seed: number, now: () => number) {
    this.#seed = seed;
    this.#now = now;
  }

  add(options: NatOptions): MemoryNat {
    // Each NAT draws ports from its own generator, so adding one never shifts the others.
    const seed = (this.#seed ^ Math.imul(this.#boxes.length + 1, 0x9e3779b9)) >>> 0;
    const box = new NatBox(options, seed, this.#now);
    for (const other of this.#boxes) {
      if (other.publicHostname === box.publicHostname) {
        throw new RangeError(`addNat: ${box.publicHostname} is already a NAT's public address`);
      }
      if (other.isPrivate(box.publicHostname) || box.isPrivate(other.publicHostname)) {
        throw new RangeError("addNat: a NAT's public address cannot be behind another NAT");
      }
      if (box.overlaps(other)) {
        throw new RangeError("addNat: a private host can be behind one NAT only");
      }
    }
    this.#boxes.push(box);
    this.#byPublic.set(box.publicHostname, box);
    this.#hostCache.clear();
    return box;
  }

  isPublic(hostname: string): boolean {
    return this.#byPublic.has(hostname);
  }

  /** The wire source of a datagram from `from` to `to`: `from` itself unless a NAT rewrites it. */
  outbound(from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    const box = this.#privateBox(from.hostname);
    if (box === undefined || this.#privateBox(to.hostname) === box) return from;
    return box.translate(from, to, now);
  }

  /** Where a datagram on the wire from `from` to `to` is delivered: `to` unless a NAT translates it. */
  inbound(from: NetAddress, to: NetAddress, now: number): NetAddress | undefined {
    const box = this.#byPublic.get(to.hostname);
    if (box !== undefined) return box.receive(from, to.port, now);
    const privateBox = this.#privateBox(to.hostname);
    if (privateBox !== undefined && this.#privateBox(from.hostname) !== privateBox) {
      privateBox.countUnreachable();
      return undefined;
    }
    return to;
  }

  #privateBox(hostname: string): NatBox | undefined {
    let box = this.#hostCache.get(hostname);
    if (box === undefined) {
      box = this.#boxes.find((b) => b.isPrivate(hostname)) ?? null;
      this.#hostCache.set(hostname, box);
    }
    return box ?? undefined;
  }
}

function checkBehaviour<T extends NatMapping>(value: T, name: string): T {
  if (
    value !== "endpoint-independent" && value !== "address-dependent" &&
    value !== "address-and-port-dependent"
  ) {
    throw new RangeError(`addNat: unknown ${name} behaviour ${value}`);
  }
  return value;
}

function endpointText(address: NetAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function parsePrefix(text: string): { base: number; mask: number } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIPv4(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  const bits = Number(bitsText);
  if (ip === undefined || !/^\d{1,2}$/.test(bitsText) || bits > 32) {
    throw new RangeError(`addNat: hosts entry ${text} is not an IPv4 prefix like 10.1.0.0/24`);
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, mask };
}

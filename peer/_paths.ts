/**
 * NAT traversal for one peer (issue 11): per member, a set of candidate
 * paths (its LAN addresses, its public address, the new mapping a symmetric
 * NAT gave it, the relay), `PROBE`s that confirm one, keepalives, relay
 * reservations and the NAT-class check.
 *
 * It sits between the machine and the socket and keeps the machine's view
 * simple: every member is known by its **public address** (what the
 * bootstrap lists), whatever path its datagrams take. Incoming datagrams on
 * another path are handed on as if they came from that address; outgoing
 * ones to it leave on the member's current path (or wrapped in `RELAYED`
 * to the relay). So the machine's path index, gossip and reports stay keyed
 * by what every member agrees on.
 *
 * Rules that keep it safe: a path other than the public address is taken for
 * a member only when a datagram from it claims that member and comes from the
 * same public IP (a symmetric NAT's new port), or from one of the member's
 * LAN candidates; `PROBE` replies are never larger than the request and are
 * rate-bounded; probing is bounded per member and per round; a `RELAYED`
 * is taken only from a bootstrap.
 */
import { type AddressKey, addressKey, normaliseHostname, type PeerRecord } from "@olaf/protocol";
import {
  decodeNatCheck,
  decodeProbe,
  decodeRelayed,
  decodeRelayReserve,
  encodeNatCheck,
  encodeProbe,
  encodeRelayed,
  encodeRelayReserve,
  NAT_CHECK_CODE,
  PROBE_CODE,
  RELAY_RESERVE_CODE,
  RELAYED_CODE,
} from "@olaf/protocol/nat";
import { Fifo, type NetAddress, type Transmit } from "@olaf/protocol/sans-io";

/** How a member is reached: its LAN address, directly over the internet, or through a relay. */
export type PathKind = "direct" | "lan" | "relayed";

/**
 * What the peer learnt about its own NAT from `NAT_CHECK`: the same mapping
 * toward two bootstrap ports (`endpoint-independent`: a cone NAT or none),
 * different ones (`endpoint-dependent`: symmetric), or not known (yet).
 */
export type NatClass = "endpoint-independent" | "endpoint-dependent" | "unknown";

/** Options of NAT traversal ({@linkcode PeerMachineOptions.nat}). */
export interface NatTraversalOptions {
  /** Fall back to the bootstrap's relay when punching fails (if it offers one). Default true. */
  relay?: boolean;
  /** Punch this long before falling back to the relay. Default 3000 ms. */
  punchTimeoutMs?: number;
  /** Probe rounds while punching are this far apart. Default 500 ms. */
  probeIntervalMs?: number;
  /**
   * A path with no traffic for this long gets a `PROBE` keepalive, and a
   * relayed member is probed for a direct path this often. Default 25000 ms
   * (NAT mappings live at least 30 s, RFC 4787 REQ-5 asks for 2 min).
   */
  keepaliveMs?: number;
  /**
   * Our own LAN addresses, offered to members so peers behind one NAT meet on their LAN.
   * `joinRoom` finds them when this is not given (the bound address, or the host's IPv4
   * interfaces with the socket's port).
   */
  lanAddresses?: readonly NetAddress[];
}

/** Where PathTable reports moves; `previous` is `undefined` the first time. */
export type PathChange = (
  canonical: AddressKey,
  path: PathKind,
  previous: PathKind | undefined,
) => void;

interface Candidate {
  readonly address: NetAddress;
  readonly key: AddressKey;
  readonly kind: "direct" | "lan";
  nonce: Uint8Array | undefined;
}

interface Entry {
  readonly canonical: NetAddress;
  readonly key: AddressKey;
  readonly candidates: Map<AddressKey, Candidate>;
  current: { address: NetAddress; key: AddressKey; kind: PathKind } | undefined;
  /** Our own public record as this member reported seeing our probe (NAT class hint). */
  firstUsed: number;
  lastUsed: number;
  lastSent: number;
  nextProbe: number;
  rounds: number;
  /** The punch token of the bootstrap introduction that named this member, if any. */
  token: Uint8Array | undefined;
  /** Its introduction said its NAT is endpoint-dependent (NAT hint 3). */
  symmetric: boolean;
  /** Last datagram that arrived on the current path. */
  heardAt: number;
}

const RANK: Record<PathKind, number> = { relayed: 1, direct: 2, lan: 3 };
/** A current path with nothing heard on it for this long may be replaced by an equal one. */
const SILENT_MS = 5000;
/** Entries are dropped after this long without traffic. */
const ENTRY_IDLE_MS = 60_000;
/** Most members tracked (past it, new destinations go out untouched). */
const MAX_ENTRIES = 1000;
/** Candidates probed per member per round. */
const MAX_CANDIDATES = 4;
/** PROBE replies per second over all senders (burst: one second's worth). */
const PROBE_REPLY_RATE = 50;
/** A refused or unanswered reservation is asked again after this long. */
const RESERVE_RETRY_MS = 30_000;

const PING_CODE = 0;
const APP_R_CODE = 3;

/** `"ip:port"` of the first record of a v1 PING/APP_R, if it has one. */
function firstRecordKey(data: Uint8Array): AddressKey | undefined {
  if (data.length < 13 || ((data[1]! << 8) | data[2]!) === 0) return undefined;
  const port = (data[7]! << 8) | data[8]!;
  if (port === 0) return undefined;
  return addressKey(`${data[3]}.${data[4]}.${data[5]}.${data[6]}`, port);
}

function random8(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(8));
}

function equal8(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined) return false;
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Private or shared address space: a LAN candidate rather than a public one. */
function isPrivate(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number) as [number, number];
  return a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b < 128);
}

/** Per-member paths, probing, relay and NAT class (see the module doc). */
export class PathTable {
  readonly #relayAllowed: boolean;
  readonly #punchMs: number;
  readonly #probeMs: number;
  readonly #keepaliveMs: number;
  readonly #lan: NetAddress[];
  readonly #isBootstrap: (key: AddressKey) => boolean;
  readonly #bootstrap: () => NetAddress;
  readonly #bootstraps: readonly NetAddress[];
  readonly #onChange: PathChange;
  readonly #onAlias: (pathKey: AddressKey) => void;
  readonly #entries = new Map<AddressKey, Entry>();
  /** Path key -> canonical key, for paths that are not the canonical address. */
  readonly #aliases = new Map<AddressKey, AddressKey>();
  readonly #out = new Fifo<Transmit>();
  #self: PeerRecord | undefined;
  /** Cached earliest `nextProbe` (Infinity: none; undefined: to compute). */
  #next: number | undefined = undefined;
  #replyTokens = PROBE_REPLY_RATE;
  #replyRefilled = 0;
  // Relay reservation.
  #relayState: "none" | "requested" | "granted" | "refused" = "none";
  #relayUntil = 0;
  #relayAskedAt = -Infinity;
  #relayLifetime = 0;
  // NAT class.
  #checkNonce: Uint8Array | undefined;
  #checkViews: { port: number; via: AddressKey }[] = [];
  #natClass: NatClass = "unknown";
  /** Counters, for stats and tests. */
  readonly counters = {
    probesSent: 0,
    probesAnswered: 0,
    relayedOut: 0,
    relayedIn: 0,
    /** Malformed probe / relay / NAT-check datagrams, and probe replies past the rate. */
    dropped: 0,
  };

  constructor(
    options: NatTraversalOptions,
    isBootstrap: (key: AddressKey) => boolean,
    bootstrap: () => NetAddress,
    onChange: PathChange,
    onAlias: (pathKey: AddressKey) => void = () => {},
    bootstraps: readonly NetAddress[] = [],
  ) {
    this.#bootstraps = bootstraps;
    this.#onAlias = onAlias;
    this.#relayAllowed = options.relay ?? true;
    this.#punchMs = options.punchTimeoutMs ?? 3000;
    this.#probeMs = options.probeIntervalMs ?? 500;
    this.#keepaliveMs = Math.min(options.keepaliveMs ?? 25_000, 25_000);
    this.#lan = [...(options.lanAddresses ?? [])];
    this.#isBootstrap = isBootstrap;
    this.#bootstrap = bootstrap;
    this.#onChange = onChange;
  }

  /** Our NAT's mapping behaviour, once `NAT_CHECK` answered from two ports. */
  get natClass(): NatClass {
    return this.#natClass;
  }

  /** {@linkcode PathTable.natClass} as the dialect's NAT hint (0 unknown, 2, 3). */
  get natHint(): number {
    return this.#natClass === "endpoint-independent"
      ? 2
      : this.#natClass === "endpoint-dependent"
      ? 3
      : 0;
  }

  /** Whether the relay granted us a reservation that is live at `now`. */
  relayGranted(now: number): boolean {
    return this.#relayState === "granted" && now < this.#relayUntil;
  }

  /** How the member at public address `key` is reached now. */
  kind(key: AddressKey): PathKind {
    return this.#entries.get(key)?.current?.kind ?? "direct";
  }

  /** The address datagrams to the member at `key` leave for now (relay: the bootstrap). */
  pathOf(key: AddressKey): NetAddress | undefined {
    return this.#entries.get(key)?.current?.address;
  }

  /** Our public record, once the bootstrap told us; starts the NAT-class check. */
  setSelf(self: PeerRecord): void {
    const first = this.#self === undefined;
    this.#self = self;
    if (first) {
      // Ask the bootstrap (and a second one, when there is one): different views of our
      // address mean an endpoint-dependent mapping.
      this.#checkNonce = random8();
      const current = this.#bootstrap();
      const others = this.#bootstraps.filter((b) =>
        b.hostname !== current.hostname || b.port !== current.port
      );
      for (const to of [current, ...others.slice(0, 1)]) {
        this.#out.push({ data: encodeNatCheck({ kind: "request", nonce: this.#checkNonce }), to });
      }
    }
  }

  /** Adds LAN (or other) candidates of the member at public address `canonical`. */
  addCandidates(canonical: NetAddress, candidates: readonly NetAddress[], now: number): void {
    const entry = this.#entry(canonical, now);
    if (entry === undefined) return;
    for (const c of candidates) this.#candidate(entry, c, isPrivate(c.hostname) ? "lan" : "direct");
    entry.nextProbe = now;
    this.#next = undefined;
  }

  /**
   * A bootstrap introduction (`WELCOME` member or `INTRODUCE`, codes 26/28): the member's
   * public address, LAN candidates and punch token. Probing starts at once, LAN first, so both
   * sides (introduced at the same moment) punch together; probes carry the token, and a probe
   * with it is taken from any address. `natHint` is the introduction's NAT hint (0 unknown,
   * 1 none, 2 endpoint-independent, 3 endpoint-dependent): two endpoint-dependent NATs cannot
   * be punched, so such a pair goes to the relay without waiting for the punch deadline.
   */
  introduce(
    canonical: NetAddress,
    lan: readonly NetAddress[],
    token: Uint8Array | undefined,
    now: number,
    natHint = 0,
  ): void {
    const entry = this.#entry(canonical, now);
    if (entry === undefined) return;
    entry.symmetric = natHint === 3;
    const settled = entry.current !== undefined && entry.current.kind !== "relayed";
    if (token !== undefined && token.length === 8 && token.some((b) => b !== 0)) {
      entry.token = token.slice();
    }
    for (const c of lan.slice(0, MAX_CANDIDATES)) this.#candidate(entry, c, "lan");
    if (settled && entry.current!.kind === "lan") return; // nothing better to find
    // A refresh of a member already reached directly does not start a new punching round.
    if (settled && lan.length === 0) return;
    entry.nextProbe = now;
    this.#next = undefined;
  }

  // --- incoming ---------------------------------------------------------------

  /**
   * One received datagram: consumed (probe, relay and NAT-check traffic), or
   * handed on, with `from` rewritten to the member's public address when it
   * came on another path or through the relay.
   */
  incoming(
    data: Uint8Array,
    from: NetAddress,
    now: number,
  ): { data: Uint8Array; from: NetAddress } | undefined {
    const hostname = normaliseHostname(from.hostname);
    let key = addressKey(hostname, from.port);
    let viaRelay = false;
    const code = data[0];
    if (code === RELAYED_CODE && this.#isBootstrap(key)) {
      const frame = decodeRelayed(data);
      if (frame === undefined) {
        this.counters.dropped++;
        return undefined;
      }
      viaRelay = true;
      data = frame.data;
      from = { hostname: frame.peer.ip, port: frame.peer.port };
      key = addressKey(frame.peer.ip, frame.peer.port);
      this.counters.relayedIn++;
      const entry = this.#entry(from, now);
      if (entry !== undefined) {
        entry.lastUsed = now;
        if (entry.current === undefined) this.#setCurrent(entry, this.#bootstrap(), "relayed");
      }
    } else if (code === RELAY_RESERVE_CODE && this.#isBootstrap(key)) {
      this.#reserveAnswer(data, now);
      return undefined;
    } else if (code === NAT_CHECK_CODE) {
      this.#checkAnswer(data, key);
      return undefined;
    }
    if (data[0] === PROBE_CODE) {
      this.#probe(data, from, key, viaRelay, now);
      return undefined;
    }
    if (viaRelay) return { data, from };
    const canonical = this.#aliases.get(key);
    if (canonical !== undefined) {
      const entry = this.#entries.get(canonical);
      if (entry !== undefined) {
        entry.lastUsed = now;
        if (entry.current?.key === key) entry.heardAt = now;
        else this.#inboundPath(entry, { hostname, port: from.port }, now);
        return { data, from: entry.canonical };
      }
      this.#aliases.delete(key);
    }
    if (code === PING_CODE || code === APP_R_CODE) {
      // An Olaf PING/APP_R names its sender first: from a NAT's new port, take it as that path.
      const claimed = firstRecordKey(data);
      if (claimed !== undefined && claimed !== key) {
        const e = this.#entries.get(claimed);
        if (e !== undefined && this.#mayAlias(e, { hostname, port: from.port })) {
          this.#candidate(e, { hostname, port: from.port }, isPrivate(hostname) ? "lan" : "direct");
          this.#alias(key, claimed);
          e.lastUsed = now;
          // Whatever reached us from there gets through the sender's NAT the other way too.
          this.#inboundPath(e, { hostname, port: from.port }, now);
          return { data, from: e.canonical };
        }
      }
    }
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.lastUsed = now;
      // The public address itself answers: a direct path, if nothing better is known.
      if (entry.current?.key === key) entry.heardAt = now;
      else this.#inboundPath(entry, entry.canonical, now);
    }
    return { data, from: { hostname, port: from.port } };
  }

  #probe(
    data: Uint8Array,
    from: NetAddress,
    key: AddressKey,
    viaRelay: boolean,
    now: number,
  ): void {
    const frame = decodeProbe(data);
    if (frame === undefined) {
      this.counters.dropped++;
      return;
    }
    const claimed = frame.self;
    const claimedKey = addressKey(claimed.ip, claimed.port);
    if (frame.kind === "request") {
      if (this.#self === undefined || claimed.port === 0) return;
      this.#replyTokens = Math.min(
        PROBE_REPLY_RATE,
        this.#replyTokens + (now - this.#replyRefilled) * PROBE_REPLY_RATE / 1000,
      );
      this.#replyRefilled = now;
      if (this.#replyTokens < 1) {
        this.counters.dropped++;
        return;
      }
      this.#replyTokens--;
      const reply = encodeProbe({
        kind: "reply",
        self: this.#self,
        observed: { ip: from.hostname, port: from.port, id: 0 },
        nonce: frame.nonce,
      });
      this.counters.probesAnswered++;
      if (viaRelay) {
        this.#out.push({
          data: encodeRelayed({ peer: claimed, data: reply }),
          to: this.#bootstrap(),
        });
        return;
      }
      this.#out.push({ data: reply, to: { hostname: from.hostname, port: from.port } });
      // A request on a path that is not the sender's public address: a candidate to confirm.
      // Only for a peer we already talk to: a spoofed claim must not make us probe a third party.
      const entry = this.#entries.get(claimedKey);
      if (entry === undefined || key === claimedKey) return;
      const tokenOk = entry.token !== undefined && frame.token !== undefined &&
        equal8(entry.token, frame.token);
      if (tokenOk || this.#mayAlias(entry, from)) {
        this.#candidate(entry, from, isPrivate(from.hostname) ? "lan" : "direct");
        this.#alias(key, claimedKey);
        this.#inboundPath(entry, from, now, tokenOk);
      }
      return;
    }
    if (viaRelay) {
      // Through the relay, a reply with a zero nonce offers the sender's LAN address.
      if (claimedKey !== key || frame.nonce.some((b) => b !== 0)) return;
      const entry = this.#entry(from, now);
      if (entry === undefined) return;
      const lan = frame.observed;
      if (isPrivate(lan.ip)) {
        this.#candidate(entry, { hostname: lan.ip, port: lan.port }, "lan");
        entry.nextProbe = now;
        this.#next = undefined;
      }
      return;
    }
    // A reply: the candidate whose nonce it echoes is a working path, both ways.
    const entry = this.#entries.get(claimedKey);
    if (entry === undefined) return;
    for (const c of entry.candidates.values()) {
      if (!equal8(c.nonce, frame.nonce)) continue;
      c.nonce = undefined;
      entry.lastUsed = now;
      if (c.key !== entry.key) this.#alias(c.key, entry.key);
      const current = entry.current;
      if (current === undefined || RANK[c.kind] > RANK[current.kind]) {
        this.#setCurrent(entry, c.address, c.kind);
      }
      if (entry.current?.key === c.key) entry.heardAt = now;
      return;
    }
  }

  /**
   * A path a datagram arrived on: it becomes current when nothing is, when it
   * is better, or (same rank) when the current one went silent, as after a NAT
   * rebinding; `strong` (a punch token) wins over an equal one at once.
   */
  #inboundPath(e: Entry, from: NetAddress, now: number, strong = false): void {
    const kind = isPrivate(from.hostname) && !isPrivate(e.canonical.hostname) ? "lan" : "direct";
    const current = e.current;
    const silent = now - e.heardAt >= SILENT_MS;
    if (
      current === undefined || current.kind === "relayed" || RANK[kind] > RANK[current.kind] ||
      (RANK[kind] === RANK[current.kind] && (silent || strong))
    ) {
      this.#setCurrent(e, { hostname: from.hostname, port: from.port }, kind);
      e.heardAt = now;
    }
  }

  #alias(pathKey: AddressKey, canonical: AddressKey): void {
    if (this.#aliases.get(pathKey) === canonical) return;
    this.#aliases.set(pathKey, canonical);
    this.#onAlias(pathKey);
  }

  /** A path other than the public address: same public IP (a NAT's new port), or a LAN candidate. */
  #mayAlias(entry: Entry, from: NetAddress): boolean {
    return from.hostname === entry.canonical.hostname ||
      entry.candidates.has(addressKey(from.hostname, from.port));
  }

  #reserveAnswer(data: Uint8Array, now: number): void {
    const frame = decodeRelayReserve(data);
    if (frame === undefined || frame.kind === "request") return;
    if (frame.kind === "refused") {
      this.#relayState = "refused";
      return;
    }
    this.#relayState = "granted";
    this.#relayLifetime = frame.lifetimeMs;
    this.#relayUntil = now + frame.lifetimeMs;
    // Members we could not punch to go through the relay now.
    for (const e of this.#entries.values()) {
      if (e.current === undefined && now - e.firstUsed >= this.#punchMs) {
        this.#setCurrent(e, this.#bootstrap(), "relayed");
      }
    }
  }

  #checkAnswer(data: Uint8Array, from: AddressKey): void {
    const frame = decodeNatCheck(data);
    if (frame?.kind !== "reply" || !equal8(this.#checkNonce, frame.nonce)) return;
    if (this.#checkViews.some((v) => v.via === from)) return;
    if (this.#checkViews.length >= 4) return;
    this.#checkViews.push({ port: frame.observed.port, via: from });
    const bootstrap = this.#bootstrap();
    // The current bootstrap's reply names its check port: ask there too, once.
    if (frame.checkPort !== 0 && from === addressKey(bootstrap.hostname, bootstrap.port)) {
      this.#out.push({
        data: encodeNatCheck({ kind: "request", nonce: this.#checkNonce! }),
        to: { hostname: bootstrap.hostname, port: frame.checkPort },
      });
    }
    if (this.#checkViews.length >= 2) {
      const port = this.#checkViews[0]!.port;
      this.#natClass = this.#checkViews.every((v) => v.port === port)
        ? "endpoint-independent"
        : "endpoint-dependent";
    }
  }

  // --- outgoing ---------------------------------------------------------------

  /** Probe, relay and NAT-check datagrams of our own, before the machine's. */
  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }

  /** A machine datagram to a member's public address, sent on its current path. */
  outgoing(t: Transmit, now: number): Transmit {
    const to = t.to;
    const key = addressKey(normaliseHostname(to.hostname), to.port);
    if (this.#isBootstrap(key)) return t;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = this.#entry(to, now);
      if (entry === undefined) return t;
    }
    entry.lastSent = now;
    const current = entry.current;
    if (current === undefined) return t; // still punching: the public address, as v1 does
    if (current.kind === "relayed") {
      if (!this.relayGranted(now)) return t;
      this.counters.relayedOut++;
      return {
        data: encodeRelayed({
          peer: { ip: entry.canonical.hostname, port: entry.canonical.port },
          data: t.data,
        }),
        to: this.#bootstrap(),
      };
    }
    return current.key === key ? t : { data: t.data, to: current.address };
  }

  // --- timers -----------------------------------------------------------------

  /** When {@linkcode PathTable.handleTimeout} is next due. */
  pollTimeout(): number | undefined {
    // Called after every datagram: the minimum is cached until a deadline moves earlier.
    if (this.#next !== undefined) return this.#next === Infinity ? undefined : this.#next;
    let next = Infinity;
    for (const e of this.#entries.values()) if (e.nextProbe < next) next = e.nextProbe;
    this.#next = next;
    return next === Infinity ? undefined : next;
  }

  /** Probe rounds, keepalives, relay fallback and renewal, idle entries. */
  handleTimeout(now: number): void {
    this.#next = undefined;
    let wantRelay = false;
    for (const [key, e] of this.#entries) {
      if (now - Math.max(e.lastUsed, e.lastSent) >= ENTRY_IDLE_MS) {
        this.#forget(key, e);
        continue;
      }
      if (e.nextProbe > now) {
        if (e.current?.kind === "relayed") wantRelay = true;
        continue;
      }
      const current = e.current;
      const punching = current === undefined || current.kind === "relayed";
      const hopeless = e.symmetric && this.#natClass === "endpoint-dependent";
      if (current === undefined && (hopeless || now - e.firstUsed >= this.#punchMs)) {
        wantRelay = true;
        if (this.relayGranted(now)) this.#setCurrent(e, this.#bootstrap(), "relayed");
      }
      if (current?.kind === "relayed") wantRelay = true;
      if (punching || now - e.lastSent >= this.#keepaliveMs) this.#probeRound(e, now);
      e.rounds++;
      // Fast rounds while punching, then one every keepalive interval.
      e.nextProbe = now +
        (current === undefined && now - e.firstUsed < this.#punchMs
          ? this.#probeMs
          : this.#keepaliveMs);
    }
    if (this.#natClass === "endpoint-dependent" && this.#entries.size > 0) wantRelay = true;
    if (wantRelay) this.#reserve(now);
  }

  #probeRound(e: Entry, now: number): void {
    const self = this.#self;
    if (self === undefined) return;
    let n = 0;
    // LAN first, then public ones.
    const ordered = [...e.candidates.values()].sort((a, b) => RANK[b.kind] - RANK[a.kind]);
    for (const c of ordered) {
      if (n++ >= MAX_CANDIDATES) break;
      const current = e.current;
      // A confirmed path only needs a keepalive on itself; better candidates are still tried.
      if (
        current !== undefined && current.kind !== "relayed" && RANK[c.kind] < RANK[current.kind]
      ) {
        continue;
      }
      c.nonce = random8();
      this.counters.probesSent++;
      this.#out.push({
        data: encodeProbe({ kind: "request", self, nonce: c.nonce, token: e.token }),
        to: c.address,
      });
    }
    e.lastSent = now;
    if (e.current?.kind === "relayed" && this.relayGranted(now) && this.#lan.length > 0) {
      // Through the relay, offer our LAN addresses: peers behind one NAT then meet on the LAN.
      this.#offerLan(e);
    }
  }

  #offerLan(e: Entry): void {
    const self = this.#self!;
    for (const lan of this.#lan.slice(0, MAX_CANDIDATES)) {
      const probe = encodeProbe({
        kind: "reply",
        self,
        observed: { ip: lan.hostname, port: lan.port, id: 0 },
        nonce: new Uint8Array(8),
      });
      this.#out.push({
        data: encodeRelayed({
          peer: { ip: e.canonical.hostname, port: e.canonical.port },
          data: probe,
        }),
        to: this.#bootstrap(),
      });
    }
  }

  #reserve(now: number): void {
    if (!this.#relayAllowed || this.#self === undefined) return;
    // Renew at half-life: rounds run at least every keepalive (25 s) while relayed.
    const renewDue = this.#relayState === "granted" &&
      now >= this.#relayUntil - this.#relayLifetime / 2;
    const ask = this.#relayState === "none" || renewDue ||
      ((this.#relayState === "refused" || this.#relayState === "requested") &&
        now - this.#relayAskedAt >= RESERVE_RETRY_MS);
    if (!ask) return;
    this.#relayAskedAt = now;
    if (this.#relayState !== "granted") this.#relayState = "requested";
    this.#out.push({ data: encodeRelayReserve({ kind: "request" }), to: this.#bootstrap() });
  }

  // --- entries ----------------------------------------------------------------

  #entry(canonical: NetAddress, now: number): Entry | undefined {
    const key = addressKey(normaliseHostname(canonical.hostname), canonical.port);
    let e = this.#entries.get(key);
    if (e !== undefined) return e;
    if (this.#entries.size >= MAX_ENTRIES || this.#isBootstrap(key)) return undefined;
    e = {
      canonical: { hostname: normaliseHostname(canonical.hostname), port: canonical.port },
      key,
      candidates: new Map(),
      current: undefined,
      firstUsed: now,
      lastUsed: now,
      lastSent: now,
      nextProbe: now,
      rounds: 0,
      token: undefined,
      symmetric: false,
      heardAt: now,
    };
    this.#candidate(e, e.canonical, "direct");
    this.#entries.set(key, e);
    this.#next = undefined;
    return e;
  }

  #candidate(e: Entry, address: NetAddress, kind: "direct" | "lan"): void {
    const key = addressKey(address.hostname, address.port);
    if (e.candidates.has(key) || e.candidates.size >= 2 * MAX_CANDIDATES) return;
    e.candidates.set(key, {
      address: { hostname: address.hostname, port: address.port },
      key,
      kind,
      nonce: undefined,
    });
  }

  #setCurrent(e: Entry, address: NetAddress, kind: PathKind): void {
    const previous = e.current;
    const key = addressKey(address.hostname, address.port);
    if (previous?.key === key && previous.kind === kind) return;
    e.current = { address, key, kind };
    this.#onChange(e.key, kind, previous?.kind);
  }

  #forget(key: AddressKey, e: Entry): void {
    this.#entries.delete(key);
    for (const c of e.candidates.keys()) {
      if (this.#aliases.get(c) === key) this.#aliases.delete(c);
    }
  }
}

/** A member as the Olaf bootstrap dialect describes it (structurally, `DialectMember`). */
export interface IntroducedMember {
  /** Its public record. */
  readonly record: { readonly ip: string; readonly port: number };
  /** Whether it joined with the Olaf dialect. */
  readonly olaf: boolean;
  /** Its LAN candidates. */
  readonly candidates: readonly { readonly ip: string; readonly port: number }[];
  /** The bootstrap's NAT hint. */
  readonly nat: "unknown" | "none" | "independent" | "dependent";
  /** `WELCOME` only: it got an `INTRODUCE` for us (it holds our punch token). */
  readonly introduced: boolean;
}

/** What the dialect's join client offers (structurally, `OlafJoinState`). */
export interface IntroductionSource {
  /** `INTRODUCE`s waiting, oldest first. */
  readonly introductions: {
    shift(): { readonly peer: IntroducedMember; readonly punchToken: Uint8Array } | undefined;
  };
  /** What the latest `WELCOME` said of each member. */
  readonly members: ReadonlyMap<string, IntroducedMember>;
  /** The punch token of our latest `WELCOME`. */
  readonly punchToken: Uint8Array | undefined;
}

const HINTS = { unknown: 0, none: 1, independent: 2, dependent: 3 } as const;

/**
 * Feeds the bootstrap's introductions into the path table: every waiting
 * `INTRODUCE` (the newcomer punches toward us at this moment), and after a
 * `WELCOME` every Olaf member it lists (those flagged `introduced` share its
 * punch token).
 */
export function takeIntroductions(
  paths: PathTable,
  join: IntroductionSource,
  now: number,
  welcome: boolean,
): void {
  const at = (c: { readonly ip: string; readonly port: number }) => ({
    hostname: c.ip,
    port: c.port,
  });
  for (let i = join.introductions.shift(); i !== undefined; i = join.introductions.shift()) {
    const p = i.peer;
    paths.introduce(at(p.record), p.candidates.map(at), i.punchToken, now, HINTS[p.nat] ?? 0);
  }
  if (!welcome) return;
  for (const m of join.members.values()) {
    if (!m.olaf) continue;
    const token = m.introduced ? join.punchToken : undefined;
    paths.introduce(at(m.record), m.candidates.map(at), token, now, HINTS[m.nat] ?? 0);
  }
}

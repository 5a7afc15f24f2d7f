/**
 * The bootstrap's NAT services (issue 11), sans-IO: `NAT_CHECK` answers
 * (from the bootstrap port and from the optional check port) and the relay
 * (`RELAY_RESERVE` reservations, `RELAYED` forwarding between two live
 * reservations), with every limit counted. Answers are never larger than
 * the request, and a relayed datagram leaves at the size it arrived.
 */
import {
  decodeNatCheck,
  decodeRelayed,
  decodeRelayReserve,
  encodeNatCheck,
  encodeRelayed,
  encodeRelayReserve,
  NAT_CHECK_CODE,
  RELAY_RESERVE_CODE,
  RELAYED_CODE,
} from "@olaf/protocol/nat";
import { normaliseHostname } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";

/** Relay limits; every field has a default. */
export interface RelayLimits {
  /** How long a reservation lasts; a peer renews by asking again. Default 120000 ms. */
  lifetimeMs?: number;
  /** Bytes one reservation may send through the relay per lifetime. Default 1 MiB. */
  bytes?: number;
  /** Datagrams per second one reservation may send (burst: one second's worth). Default 50. */
  rate?: number;
  /** Most live reservations. Default 1000. */
  maxReservations?: number;
}

/** Options of the NAT services. */
export interface NatServiceOptions {
  /** Relay between reserved peers (`true` for the default limits). Default off. */
  relay?: boolean | RelayLimits;
  /**
   * Also answer `NAT_CHECK` on this UDP port (0 picks one), so peers can compare two views
   * of their mapping. Default: no second port.
   */
  checkPort?: number;
  /** `NAT_CHECK` answers per second over all sources (burst: one second's worth). Default 200. */
  checkRate?: number;
}

/** Counters of the NAT services (a snapshot). */
export type NatServiceStats = {
  /** Whether relaying is on. */
  relay: boolean;
  /** Live reservations now. */
  reservations: number;
  /** Reservations granted (renewals included). */
  reservationsGranted: number;
  /** Reservation requests refused, by reason. */
  reservationsRefused: Record<string, number>;
  /** Reservations that ended (lifetime over). */
  reservationsExpired: number;
  /** Datagrams forwarded by the relay. */
  relayedDatagrams: number;
  /** Bytes forwarded by the relay (whole `RELAYED` datagrams). */
  relayedBytes: number;
  /** `NAT_CHECK` requests answered. */
  natChecks: number;
  /** Datagrams dropped, by reason. */
  drops: Record<string, number>;
};

/** Which socket a datagram arrived on / leaves from. */
export type NatSocket = "main" | "check";

interface Reservation {
  expires: number;
  bytesLeft: number;
  tokens: number;
  refilled: number;
}

/** A datagram to send, and from which socket. */
export interface NatTransmit {
  readonly data: Uint8Array;
  readonly to: NetAddress;
  readonly via: NatSocket;
}

/** Whether a datagram is one of the codes these services answer (29..31). */
export function isNatDatagram(data: Uint8Array): boolean {
  const t = data[0];
  return data.length > 0 &&
    (t === RELAY_RESERVE_CODE || t === RELAYED_CODE || t === NAT_CHECK_CODE);
}

/** NAT_CHECK answers and the relay, as a sans-IO service (see the module doc). */
export class NatService {
  readonly #relay: Required<RelayLimits> | undefined;
  readonly #checkRate: number;
  #checkTokens: number;
  #checkRefilled = 0;
  /** The check port, told to peers in every `NAT_CHECK` reply (0: none). */
  checkPort = 0;
  readonly #reservations = new Map<string, Reservation>();
  readonly #out: NatTransmit[] = [];
  readonly #stats: NatServiceStats;
  /** Last reservation request per source, for the one-per-second rule. */
  readonly #lastRequest = new Map<string, number>();

  constructor(options: NatServiceOptions = {}) {
    const r = options.relay;
    this.#relay = r
      ? {
        lifetimeMs: (r === true ? undefined : r.lifetimeMs) ?? 120_000,
        bytes: (r === true ? undefined : r.bytes) ?? 1 << 20,
        rate: (r === true ? undefined : r.rate) ?? 50,
        maxReservations: (r === true ? undefined : r.maxReservations) ?? 1000,
      }
      : undefined;
    this.#checkRate = options.checkRate ?? 200;
    this.#checkTokens = this.#checkRate;
    this.#stats = {
      relay: this.#relay !== undefined,
      reservations: 0,
      reservationsGranted: 0,
      reservationsRefused: {},
      reservationsExpired: 0,
      relayedDatagrams: 0,
      relayedBytes: 0,
      natChecks: 0,
      drops: {},
    };
  }

  /** The relay limits in force, or `undefined` when relaying is off. */
  get relayLimits(): Readonly<Required<RelayLimits>> | undefined {
    return this.#relay;
  }

  /** Counters, expiring what is due at `now` first. */
  stats(now: number): NatServiceStats {
    this.#expire(now);
    const s = this.#stats;
    return {
      ...s,
      reservations: this.#reservations.size,
      reservationsRefused: { ...s.reservationsRefused },
      drops: { ...s.drops },
    };
  }

  /** Handles one datagram of code 29..31; never throws for its content. */
  handle(data: Uint8Array, from: NetAddress, now: number, via: NatSocket): void {
    const key = `${normaliseHostname(from.hostname)}:${from.port}`;
    switch (data[0]) {
      case NAT_CHECK_CODE:
        return this.#check(data, from, now, via);
      case RELAY_RESERVE_CODE:
        if (via !== "main") return this.#drop("relay-on-check-port");
        return this.#reserve(data, from, key, now);
      case RELAYED_CODE:
        if (via !== "main") return this.#drop("relay-on-check-port");
        return this.#forward(data, key, now);
      default:
        return this.#drop("unknown-type");
    }
  }

  /** The next datagram to send, or `undefined`. */
  pollTransmit(): NatTransmit | undefined {
    return this.#out.shift();
  }

  #drop(reason: string): void {
    const d = this.#stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }

  #check(data: Uint8Array, from: NetAddress, now: number, via: NatSocket): void {
    const frame = decodeNatCheck(data);
    if (frame === undefined || frame.kind !== "request") return this.#drop("malformed-nat-check");
    this.#checkTokens = Math.min(
      this.#checkRate,
      this.#checkTokens + (now - this.#checkRefilled) * this.#checkRate / 1000,
    );
    this.#checkRefilled = now;
    if (this.#checkTokens < 1) return this.#drop("nat-check-rate");
    this.#checkTokens--;
    this.#stats.natChecks++;
    const observed = { ip: normaliseHostname(from.hostname), port: from.port };
    const reply = encodeNatCheck({
      kind: "reply",
      nonce: frame.nonce,
      observed,
      checkPort: this.checkPort,
    });
    this.#out.push({ data: reply, to: from, via });
  }

  #refuse(reason: "disabled" | "full" | "limited", to: NetAddress): void {
    const r = this.#stats.reservationsRefused;
    r[reason] = (r[reason] ?? 0) + 1;
    this.#out.push({ data: encodeRelayReserve({ kind: "refused", reason }), to, via: "main" });
  }

  #reserve(data: Uint8Array, from: NetAddress, key: string, now: number): void {
    const frame = decodeRelayReserve(data);
    if (frame === undefined || frame.kind !== "request") return this.#drop("malformed-reserve");
    const limits = this.#relay;
    const last = this.#lastRequest.get(key);
    if (last !== undefined && now - last < 1000) return this.#drop("reserve-rate");
    if (this.#lastRequest.size >= 4 * (limits?.maxReservations ?? 1000)) this.#lastRequest.clear();
    this.#lastRequest.set(key, now);
    if (limits === undefined) return this.#refuse("disabled", from);
    this.#expire(now);
    let r = this.#reservations.get(key);
    if (r === undefined && this.#reservations.size >= limits.maxReservations) {
      return this.#refuse("full", from);
    }
    if (r === undefined) {
      r = { expires: 0, bytesLeft: 0, tokens: limits.rate, refilled: now };
      this.#reservations.set(key, r);
    }
    r.expires = now + limits.lifetimeMs;
    r.bytesLeft = limits.bytes; // a renewal is a new lifetime with a new byte budget
    this.#stats.reservationsGranted++;
    this.#out.push({
      data: encodeRelayReserve({
        kind: "grant",
        lifetimeMs: limits.lifetimeMs,
        bytes: limits.bytes,
        rate: limits.rate,
      }),
      to: from,
      via: "main",
    });
  }

  #forward(data: Uint8Array, key: string, now: number): void {
    const limits = this.#relay;
    if (limits === undefined) return this.#drop("relay-disabled");
    const frame = decodeRelayed(data);
    if (frame === undefined) return this.#drop("malformed-relayed");
    const source = this.#live(key, now);
    if (source === undefined) return this.#drop("relay-no-reservation");
    const targetKey = `${frame.peer.ip}:${frame.peer.port}`;
    if (targetKey === key || this.#live(targetKey, now) === undefined) {
      return this.#drop("relay-target-not-reserved");
    }
    source.tokens = Math.min(
      limits.rate,
      source.tokens + (now - source.refilled) * limits.rate / 1000,
    );
    source.refilled = now;
    if (source.tokens < 1) return this.#drop("relay-rate");
    if (source.bytesLeft < data.length) return this.#drop("relay-bytes");
    source.tokens--;
    source.bytesLeft -= data.length;
    const [ip, port] = key.split(":") as [string, string];
    const out = encodeRelayed({ peer: { ip, port: Number(port) }, data: frame.data });
    this.#stats.relayedDatagrams++;
    this.#stats.relayedBytes += out.length;
    this.#out.push({
      data: out,
      to: { hostname: frame.peer.ip, port: frame.peer.port },
      via: "main",
    });
  }

  /** The reservation of `key` if it is live at `now` (an ended one is removed). */
  #live(key: string, now: number): Reservation | undefined {
    const r = this.#reservations.get(key);
    if (r === undefined || r.expires > now) return r;
    this.#reservations.delete(key);
    this.#stats.reservationsExpired++;
    return undefined;
  }

  #expire(now: number): void {
    for (const [key, r] of this.#reservations) {
      if (r.expires <= now) {
        this.#reservations.delete(key);
        this.#stats.reservationsExpired++;
      }
    }
  }
}

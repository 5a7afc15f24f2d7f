/**
 * The peer's anti-amplification budget (issue 12): what it may send toward
 * an address that has not shown it is really there.
 *
 * - Bytes are counted per address, in and out. Toward an address that is not
 *   *validated*, the peer sends at most `3x` the bytes it received from it
 *   (the QUIC rule), so a spoofed datagram draws at most three times its size.
 * - An address is validated when it was heard from directly (a datagram from
 *   it) AND the bootstrap listed it in a `BOOTSTRAP_R` (the one outside
 *   voucher v1 has). Being named in a `PING`, or only by the bootstrap, makes
 *   a *candidate*, not a validated address.
 * - A candidate not heard from at all may get a *probe*: one small datagram
 *   (at most {@linkcode MAX_PROBE_BYTES}), at most one per
 *   `probeIntervalMs` per address, and each probe takes a token from one
 *   bucket shared by every address (`probeRate` per second, burst the same).
 *   A candidate named only in gossip earns one probe per mention; one the
 *   bootstrap listed may be probed every interval until it answers.
 *
 * The table is bounded: past `capacity` addresses the least recently heard
 * unvalidated one goes.
 *
 * @module
 */
import type { AddressKey } from "@olaf/protocol";

/** The amplification bound toward unvalidated addresses: bytes out per byte in. */
export const AMPLIFICATION_FACTOR = 3;

/** Largest probe toward an address never heard from (a `PING` with a few records fits). */
export const MAX_PROBE_BYTES = 64;

/** Probes a candidate the bootstrap listed may get before it answers (then gossip must name it). */
export const VOUCHED_PROBES = 8;

/** Default of `probeRate`: probes to unheard addresses per second, every address together. */
export const DEFAULT_PROBE_RATE = 100;

/** Options of a {@linkcode SendBudget}. */
export interface SendBudgetOptions {
  /** Probes toward unheard addresses per second (token bucket, burst the same); 0 = none. */
  probeRate: number;
  /** Least time between two probes to one address, in ms. */
  probeIntervalMs: number;
  /** Most addresses tracked. */
  capacity: number;
}

/** Why {@linkcode SendBudget.allowProbe} refused. */
export type ProbeRefusal = "probe-rate" | "send-budget";

interface Account {
  received: number;
  sent: number;
  /** First and latest time a datagram came from it. */
  firstAt: number;
  lastAt: number;
  /** The bootstrap listed this address. */
  vouched: boolean;
  /** Probes left from the bootstrap's listing (a listed ghost is not probed forever). */
  vouchedProbes: number;
  /** We named it to the bootstrap ourselves: its listing there proves nothing. */
  introduced: boolean;
  /** Gossip named it since the last probe: one probe earned. */
  earned: boolean;
  lastProbe: number;
}

/** Per-address byte accounts, validation and the probe bucket. */
export class SendBudget {
  readonly #rate: number;
  readonly #intervalMs: number;
  readonly #capacity: number;
  /** Insertion order = least recently heard first (touched entries move to the end). */
  readonly #accounts = new Map<AddressKey, Account>();
  #tokens: number;
  #refilledAt = -Infinity;

  constructor(options: SendBudgetOptions) {
    this.#rate = options.probeRate;
    this.#intervalMs = options.probeIntervalMs;
    this.#capacity = options.capacity;
    this.#tokens = options.probeRate;
  }

  /** A datagram of `bytes` arrived from `key` at `now`: credit toward it grows by 3x. */
  received(key: AddressKey, bytes: number, now: number): void {
    const a = this.#account(key);
    if (a.received === 0) a.firstAt = now;
    a.lastAt = now;
    a.received += Math.max(1, bytes); // an empty datagram still says it was heard from
    this.#accounts.delete(key); // most recently heard goes last
    this.#accounts.set(key, a);
  }

  /**
   * The bootstrap listed `key`: once heard from, it is validated; until then
   * it may get {@linkcode VOUCHED_PROBES} probes. Ignored for an address we
   * introduced ({@linkcode SendBudget.introduce}).
   */
  vouch(key: AddressKey): void {
    const a = this.#account(key);
    if (a.introduced) return;
    a.vouched = true;
    a.vouchedProbes = VOUCHED_PROBES;
  }

  /**
   * We reported `key` to the bootstrap while it was not validated: a later
   * listing of it comes from our own report, so it does not vouch for it.
   */
  introduce(key: AddressKey): void {
    const a = this.#account(key);
    if (!a.vouched) a.introduced = true;
  }

  /** Gossip (or a NAT introduction) named `key`: it may get one more probe. */
  mentioned(key: AddressKey): void {
    this.#account(key).earned = true;
  }

  /**
   * Heard from at least twice, `spanMs` or more apart (as a member pinging
   * every heartbeat is): one spoofed datagram does not make it.
   */
  seasoned(key: AddressKey, spanMs: number): boolean {
    const a = this.#accounts.get(key);
    return a !== undefined && a.received > 0 && a.lastAt - a.firstAt >= spanMs;
  }

  /** Whether `key` was heard from directly. */
  heard(key: AddressKey): boolean {
    return (this.#accounts.get(key)?.received ?? 0) > 0;
  }

  /** Whether the bootstrap listed `key`. */
  vouched(key: AddressKey): boolean {
    return this.#accounts.get(key)?.vouched ?? false;
  }

  /** Heard from directly and listed by the bootstrap: no byte bound toward it. */
  validated(key: AddressKey): boolean {
    const a = this.#accounts.get(key);
    return a !== undefined && a.vouched && a.received > 0;
  }

  /** Bytes that may still go to `key` now (`Infinity` once validated, 0 when never heard from). */
  credit(key: AddressKey): number {
    const a = this.#accounts.get(key);
    if (a === undefined || a.received === 0) return 0;
    return a.vouched ? Infinity : Math.max(0, AMPLIFICATION_FACTOR * a.received - a.sent);
  }

  /**
   * Whether `bytes` more may go to `key` (heard from, or validated) within
   * the 3x bound; when so, they are counted as sent.
   */
  allowSend(key: AddressKey, bytes: number): boolean {
    const a = this.#accounts.get(key);
    if (a === undefined || a.received === 0) return false;
    if (!a.vouched && a.sent + bytes > AMPLIFICATION_FACTOR * a.received) return false;
    a.sent += bytes;
    return true;
  }

  /**
   * Whether a probe of `bytes` may go to `key`, which was not heard from
   * (a candidate, or a hole-punch target): small, earned (named again since
   * the last probe, or listed by the bootstrap), not within `probeIntervalMs`
   * of the last one, and a token left in the shared bucket. When allowed, it
   * is counted (token, time) and the caller sends it.
   *
   * @returns `true`, or why not.
   */
  allowProbe(key: AddressKey, bytes: number, now: number): true | ProbeRefusal {
    const a = this.#account(key);
    if (bytes > MAX_PROBE_BYTES) return "send-budget";
    const byVouch = !a.earned && a.vouched && a.vouchedProbes > 0;
    if (!a.earned && !byVouch) return "send-budget";
    if (now - a.lastProbe < this.#intervalMs) return "send-budget";
    this.#refill(now);
    if (this.#tokens < 1) return "probe-rate";
    this.#tokens--;
    a.lastProbe = now;
    if (byVouch) a.vouchedProbes--;
    a.earned = false;
    a.sent += bytes;
    return true;
  }

  /** Addresses tracked. */
  get size(): number {
    return this.#accounts.size;
  }

  #refill(now: number): void {
    if (this.#rate === Infinity) return; // 0 was given: no bound
    if (this.#refilledAt === -Infinity) this.#refilledAt = now;
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.#rate, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#refilledAt = now;
  }

  #account(key: AddressKey): Account {
    let a = this.#accounts.get(key);
    if (a === undefined) {
      if (this.#accounts.size >= this.#capacity) this.#evict();
      a = {
        received: 0,
        sent: 0,
        firstAt: 0,
        lastAt: 0,
        vouched: false,
        vouchedProbes: 0,
        introduced: false,
        earned: false,
        lastProbe: -Infinity,
      };
      this.#accounts.set(key, a);
    }
    return a;
  }

  /** Drops the least recently heard unvalidated address (validated ones are members). */
  #evict(): void {
    for (const [key, a] of this.#accounts) {
      if (!(a.vouched && a.received > 0)) {
        this.#accounts.delete(key);
        return;
      }
    }
  }
}

/** Most frames held for one address that was not heard from yet. */
const HELD_PER_ADDRESS = 8;

/** Most bytes held for every such address together. */
const HELD_TOTAL_BYTES = 1 << 20;

/**
 * Application frames waiting for a candidate named only in gossip to answer
 * (nothing but a probe goes to an address never heard from). Bounded per
 * address and in total; what does not fit is refused, and the caller counts it.
 */
export class HeldSends<F> {
  readonly #held = new Map<AddressKey, { item: F; bytes: number }[]>();
  #bytes = 0;

  /** Holds `item` (`bytes` long) for `key`; `false` when the bound is reached (the caller drops it). */
  hold(key: AddressKey, item: F, bytes: number): boolean {
    let list = this.#held.get(key);
    if (list === undefined) this.#held.set(key, list = []);
    if (list.length >= HELD_PER_ADDRESS || this.#bytes + bytes > HELD_TOTAL_BYTES) {
      if (list.length === 0) this.#held.delete(key);
      return false;
    }
    list.push({ item, bytes });
    this.#bytes += bytes;
    return true;
  }

  /** The frames held for `key`, oldest first, forgotten here (it answered, or it went). */
  release(key: AddressKey): F[] {
    const list = this.#held.get(key);
    if (list === undefined) return [];
    this.#held.delete(key);
    for (const f of list) this.#bytes -= f.bytes;
    return list.map((f) => f.item);
  }

  /**
   * Forgets what is held for addresses `keep` says no to (candidates that
   * timed out).
   *
   * @returns How many frames were dropped.
   */
  prune(keep: (key: AddressKey) => boolean): number {
    let dropped = 0;
    for (const key of this.#held.keys()) {
      if (!keep(key)) dropped += this.release(key).length;
    }
    return dropped;
  }

  /** Addresses with frames waiting. */
  get size(): number {
    return this.#held.size;
  }
}

/**
 * Retransmission timeout per RFC 6298: smoothed RTT and RTT variance,
 * an initial RTO of 1 s, a floor, a ceiling and exponential backoff.
 *
 * @module
 */

/** Options of {@linkcode RttEstimator}; every field has a default. */
export interface RttOptions {
  /** RTO before the first sample, default 1000 ms (RFC 6298 2.1). */
  initialRtoMs?: number;
  /** Floor of the RTO, default 200 ms (RFC 6298 says 1 s; Linux and QUIC use about 200 ms). */
  minRtoMs?: number;
  /** Ceiling of the RTO, backoff included, default 60 000 ms (RFC 6298 2.5). */
  maxRtoMs?: number;
  /** Clock granularity G, default 1 ms. */
  granularityMs?: number;
}

/**
 * An RFC 6298 estimator. Feed it RTT samples taken only from packets sent
 * once (Karn's rule: the sender decides, see {@linkcode RttEstimator.sample});
 * call {@linkcode RttEstimator.backoff} when the retransmission timer fires.
 * A new sample ends the backoff.
 *
 * @example First sample, then a second (RFC 6298 2.2 and 2.3)
 * ```ts
 * import { RttEstimator } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const rtt = new RttEstimator();
 * assert.equal(rtt.rto, 1000);
 * rtt.sample(100); // SRTT 100, RTTVAR 50, RTO 100 + 4 * 50
 * assert.equal(rtt.srtt, 100);
 * assert.equal(rtt.rto, 300);
 * rtt.backoff();
 * assert.equal(rtt.rto, 600);
 * rtt.sample(100); // RTTVAR 3/4 * 50 + 1/4 * 0 = 37.5, SRTT 100
 * assert.equal(rtt.rto, 250);
 * ```
 */
export class RttEstimator {
  readonly #initial: number;
  readonly #min: number;
  readonly #max: number;
  readonly #g: number;
  #srtt: number | undefined;
  #rttvar = 0;
  #minRtt = Infinity;
  #latest: number | undefined;
  #backoffs = 0;

  /**
   * Creates an estimator with no samples.
   *
   * @param options Bounds; defaults as documented on {@linkcode RttOptions}.
   */
  constructor(options: RttOptions = {}) {
    this.#initial = options.initialRtoMs ?? 1000;
    this.#min = options.minRtoMs ?? 200;
    this.#max = options.maxRtoMs ?? 60_000;
    this.#g = options.granularityMs ?? 1;
    if (!(this.#min > 0 && this.#min <= this.#max)) {
      throw new RangeError(`minRtoMs must be in (0, maxRtoMs], got ${this.#min}`);
    }
  }

  /**
   * Takes one RTT measurement (RFC 6298 2.2 for the first, 2.3 after).
   *
   * @param rttMs The measured round trip in ms (negative values are ignored).
   */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    this.#latest = rttMs;
    if (rttMs < this.#minRtt) this.#minRtt = rttMs;
    if (this.#srtt === undefined) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
    this.#backoffs = 0;
  }

  /** Doubles the RTO (RFC 6298 5.5), up to the ceiling, until the next sample. */
  backoff(): void {
    if (this.rto < this.#max) this.#backoffs++;
  }

  /** The current retransmission timeout in ms, backoff included. */
  get rto(): number {
    const base = this.#srtt === undefined
      ? this.#initial
      : this.#srtt + Math.max(this.#g, 4 * this.#rttvar);
    const clamped = Math.min(this.#max, Math.max(this.#min, base));
    return Math.min(this.#max, clamped * 2 ** this.#backoffs);
  }

  /** Smoothed RTT in ms, `undefined` before the first sample. */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /** RTT variance in ms (0 before the first sample). */
  get rttvar(): number {
    return this.#rttvar;
  }

  /** Smallest sample seen, `undefined` before the first. */
  get minRtt(): number | undefined {
    return this.#minRtt === Infinity ? undefined : this.#minRtt;
  }

  /** The most recent sample, `undefined` before the first. */
  get latest(): number | undefined {
    return this.#latest;
  }

  /** How many times the RTO is doubled now. */
  get backoffs(): number {
    return this.#backoffs;
  }
}

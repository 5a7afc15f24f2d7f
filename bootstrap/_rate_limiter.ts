/**
 * Per-source token buckets: one for requests, one for reply bytes, keyed by
 * the source IPv4 address (the victim of a reflection attack is an address,
 * whatever port is spoofed). The table is bounded: when it is full the oldest
 * entry is evicted. Eviction hands that source a fresh (full) bucket the next
 * time it shows up, so an attacker who wants to refill a victim's bucket must
 * first send `maxSources` datagrams from other addresses: it cannot grow
 * memory, and it buys at most one burst per `maxSources` datagrams.
 */

/** A source's buckets. */
export interface SourceBucket {
  /** Request tokens left. */
  requests: number;
  /** Reply-byte tokens left. */
  bytes: number;
  /** When the buckets were last refilled (ms). */
  at: number;
}

/** Limits of a {@linkcode SourceLimiter}; `Infinity` rates switch a bucket off. */
export interface SourceLimits {
  requestsPerSecond: number;
  requestBurst: number;
  replyBytesPerSecond: number;
  replyBytesBurst: number;
  maxSources: number;
}

/** Token buckets per source address, in a bounded table. */
export class SourceLimiter {
  readonly #limits: SourceLimits;
  readonly #table = new Map<number, SourceBucket>();
  readonly #unlimited: boolean;
  /** Handed out when both rates are infinite: nothing to track. */
  readonly #free: SourceBucket = { requests: Infinity, bytes: Infinity, at: 0 };

  constructor(limits: SourceLimits) {
    // An infinite rate refills at once, but a finite burst would still cap what
    // one millisecond allows: make the burst infinite too, so the bucket is off.
    this.#limits = {
      ...limits,
      requestBurst: limits.requestsPerSecond === Infinity ? Infinity : limits.requestBurst,
      replyBytesBurst: limits.replyBytesPerSecond === Infinity ? Infinity : limits.replyBytesBurst,
    };
    this.#unlimited = limits.requestsPerSecond === Infinity &&
      limits.replyBytesPerSecond === Infinity;
  }

  /**
   * Takes one request token for `ipv4`.
   *
   * @returns The source's bucket (to charge reply bytes to), or `undefined`
   *   when the source is over its request rate.
   */
  request(ipv4: number, now: number): SourceBucket | undefined {
    if (this.#unlimited) return this.#free;
    const limits = this.#limits;
    let bucket = this.#table.get(ipv4);
    if (bucket === undefined) {
      if (this.#table.size >= limits.maxSources) {
        const oldest = this.#table.keys().next().value!;
        this.#table.delete(oldest);
      }
      bucket = { requests: limits.requestBurst, bytes: limits.replyBytesBurst, at: now };
      this.#table.set(ipv4, bucket);
    } else if (now > bucket.at) {
      const elapsed = now - bucket.at;
      bucket.requests = Math.min(
        limits.requestBurst,
        bucket.requests + elapsed * limits.requestsPerSecond / 1000,
      );
      bucket.bytes = Math.min(
        limits.replyBytesBurst,
        bucket.bytes + elapsed * limits.replyBytesPerSecond / 1000,
      );
      bucket.at = now;
    }
    if (bucket.requests < 1) return undefined;
    bucket.requests -= 1;
    return bucket;
  }
}

/**
 * Takes `size` reply-byte tokens from `bucket` if it has them.
 *
 * @returns Whether the reply may be sent.
 */
export function takeBytes(bucket: SourceBucket, size: number): boolean {
  if (bucket.bytes < size) return false;
  bucket.bytes -= size;
  return true;
}

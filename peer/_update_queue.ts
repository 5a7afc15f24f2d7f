/**
 * SWIM's queue of membership updates to pass on (`_swim.ts`): one entry per
 * member, each sent a bounded number of times, the least sent first (as
 * memberlist's transmit-limited queue): news spreads before what most of the
 * room has heard already.
 *
 * Measured in a 1000-member room in one process (tools/udp_room.ts): a plain
 * round-robin sent each newcomer's `ALIVE` behind every older update, so
 * while members kept joining the queues grew and the gossip went on for a
 * minute and a half after the last join; and a `Map` used as the queue
 * (delete the front, set again at the back) cost 6% of the CPU, as V8 keeps
 * deleted slots until it rebuilds the table and each walk steps over them.
 *
 * @module
 */
import type { MemberId } from "./_membership.ts";
import type { SwimUpdate } from "./_swim_wire.ts";

interface Entry {
  readonly id: MemberId;
  readonly update: SwimUpdate;
  /** Sends left. */
  left: number;
  /** False once replaced by a newer update for the same member, used up or pruned. */
  live: boolean;
}

/** Updates waiting to be sent, newest per member, by sends left (most first). */
export class UpdateQueue {
  readonly #byId = new Map<MemberId, Entry>();
  /** `#buckets[left]`: entries with that many sends left, oldest first. */
  #buckets: Entry[][] = [];
  readonly #maxRetain: number;

  /**
   * @param maxRetain Most entries kept: past it, the most-sent go (they have
   *   spread the furthest already).
   */
  constructor(maxRetain = Infinity) {
    this.#maxRetain = maxRetain;
  }

  /** Members with an update queued. */
  get size(): number {
    return this.#byId.size;
  }

  /** Whether an update about `id` is queued. */
  has(id: MemberId): boolean {
    return this.#byId.has(id);
  }

  /** Queues `update` about `id` for `left` sends; it replaces any queued one. */
  set(id: MemberId, update: SwimUpdate, left: number): void {
    const old = this.#byId.get(id);
    if (old !== undefined) old.live = false;
    if (left < 1) {
      this.#byId.delete(id);
      return;
    }
    const entry: Entry = { id, update, left, live: true };
    this.#byId.set(id, entry);
    (this.#buckets[left] ??= []).push(entry);
    if (this.#byId.size > this.#maxRetain) this.#prune();
  }

  /** Up to `max` distinct updates, the least sent first, each counted as sent once. */
  take(max: number): SwimUpdate[] {
    const out: SwimUpdate[] = [];
    const moved: Entry[] = [];
    const buckets = this.#buckets;
    for (let left = buckets.length - 1; left >= 1 && out.length < max; left--) {
      const bucket = buckets[left];
      if (bucket === undefined || bucket.length === 0) continue;
      let i = 0;
      for (; i < bucket.length && out.length < max; i++) {
        const entry = bucket[i]!;
        if (!entry.live) continue;
        out.push(entry.update);
        if (--entry.left > 0) {
          moved.push(entry);
        } else {
          entry.live = false;
          this.#byId.delete(entry.id);
        }
      }
      buckets[left] = i === bucket.length ? [] : bucket.slice(i);
    }
    for (const entry of moved) (buckets[entry.left] ??= []).push(entry);
    this.#trim();
    return out;
  }

  /** Forgets every update. */
  clear(): void {
    this.#byId.clear();
    this.#buckets = [];
  }

  /** Drops the most-sent entries until at most `maxRetain` are left. */
  #prune(): void {
    const buckets = this.#buckets;
    for (let left = 1; left < buckets.length && this.#byId.size > this.#maxRetain; left++) {
      const bucket = buckets[left];
      if (bucket === undefined) continue;
      let i = 0;
      for (; i < bucket.length && this.#byId.size > this.#maxRetain; i++) {
        const entry = bucket[i]!;
        if (!entry.live) continue;
        entry.live = false;
        this.#byId.delete(entry.id);
      }
      buckets[left] = bucket.slice(i);
    }
  }

  #trim(): void {
    const buckets = this.#buckets;
    while (buckets.length > 0 && (buckets[buckets.length - 1]?.length ?? 0) === 0) buckets.pop();
  }
}

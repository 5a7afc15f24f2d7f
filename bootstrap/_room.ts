/**
 * A room's members stored compactly: one `Float64Array` per room holding, for
 * each member, `[endpoint key, id, last seen, newer, older]` (40 bytes), and
 * one `Map` from endpoint key to member index for O(1) lookup. No object and
 * no string per member, so 100,000 rooms of 10 members stay well under 300
 * bytes a member. Members keep their join order (removals compact in place),
 * which is the order replies list them in; `newer`/`older` link them in
 * recency order (most recently seen first), so a reply takes its k most
 * recent members without sorting the room.
 */

/** Float64 slots per member: endpoint key (ip * 65536 + port), id, last seen (ms), links. */
export const STRIDE = 5;
const KEY = 0;
const ID = 1;
const SEEN = 2;
const NEWER = 3;
const OLDER = 4;

const INITIAL_CAPACITY = 4;
/** Ages are clamped to this (ms) when replies rank members, as the v1 sort key did. */
const MAX_AGE_MS = 0x7fffffff;
/** `#lowest` when it must be recomputed. */
const UNKNOWN = -2;

/** Shared scratch for compaction and reply selection (rooms hold at most 65,535 members). */
let scratchA = new Int32Array(64);
let scratchB = new Int32Array(64);
function scratch(size: number): void {
  if (scratchA.length < size) {
    scratchA = new Int32Array(size);
    scratchB = new Int32Array(size);
  }
}

/** One room. Fields are public to the core; nothing else touches them. */
export class Room {
  /** The room name. */
  readonly name: string;
  /** Creation time (ms). */
  readonly createdAt: number;
  /** Last JOIN_B or PEER_COLLECTOR for this room (ms). */
  lastActivity: number;
  /** Number of members. */
  count = 0;
  /** `count * STRIDE` used slots: key, id, lastSeen, newer, older per member. */
  slots: Float64Array;
  /** A lower bound of every member's last-seen time (exact right after a prune). */
  minSeen = Infinity;
  /** Position in the core's expiry heap. */
  heapIndex = -1;
  /** When the core must look at this room again: never later than its real deadline. */
  heapKey = 0;
  /** Endpoint key -> member index. */
  readonly #byKey = new Map<number, number>();
  /** Most recently seen member, or -1. */
  #newest = -1;
  /** Member with the lowest id (first in join order on a tie), -1 when empty, or UNKNOWN. */
  #lowest = -1;

  constructor(name: string, now: number) {
    this.name = name;
    this.createdAt = now;
    this.lastActivity = now;
    this.slots = new Float64Array(INITIAL_CAPACITY * STRIDE);
  }

  /** Endpoint key of member `index`. */
  keyAt(index: number): number {
    return this.slots[index * STRIDE + KEY]!;
  }

  /** Id of member `index`. */
  idAt(index: number): number {
    return this.slots[index * STRIDE + ID]!;
  }

  /** Last-seen time of member `index`. */
  seenAt(index: number): number {
    return this.slots[index * STRIDE + SEEN]!;
  }

  /** Index of the member with endpoint `key`, or -1. O(1). */
  indexOfKey(key: number): number {
    return this.#byKey.get(key) ?? -1;
  }

  /** Index of a member other than `except` whose id is `id`, or -1. */
  indexOfId(id: number, except: number): number {
    const slots = this.slots;
    const end = this.count * STRIDE;
    for (let o = ID, i = 0; o < end; o += STRIDE, i++) {
      if (slots[o] === id && i !== except) return i;
    }
    return -1;
  }

  /** Index of the member with the lowest id, or -1 when empty. */
  lowestIndex(): number {
    if (this.#lowest !== UNKNOWN) return this.#lowest;
    const slots = this.slots;
    const end = this.count * STRIDE;
    let best = -1;
    let bestId = Infinity;
    for (let o = ID, i = 0; o < end; o += STRIDE, i++) {
      if (slots[o]! < bestId) {
        bestId = slots[o]!;
        best = i;
      }
    }
    return (this.#lowest = best);
  }

  /** Changes member `index`'s id. */
  setId(index: number, id: number): void {
    this.slots[index * STRIDE + ID] = id;
    const lowest = this.#lowest;
    if (lowest === UNKNOWN) return;
    const lowestId = this.idAt(lowest);
    if (id < lowestId || (id === lowestId && index < lowest)) this.#lowest = index;
    else if (index === lowest) this.#lowest = UNKNOWN;
  }

  /** Marks member `index` as seen at `now` (never before its last time): it becomes the newest. */
  touch(index: number, now: number): void {
    const slots = this.slots;
    slots[index * STRIDE + SEEN] = now;
    if (index === this.#newest) return;
    this.#unlink(index);
    this.#linkNewest(index);
  }

  /**
   * Appends a member; the caller checks the member limit and that the key is
   * new. Capacity grows by half (at least 4 members) so that small rooms waste
   * little.
   */
  add(key: number, id: number, seen: number, maxMembers: number): number {
    const index = this.count;
    if ((index + 1) * STRIDE > this.slots.length) {
      const capacity = Math.min(
        maxMembers,
        index + Math.max(INITIAL_CAPACITY, index >> 1),
      );
      const grown = new Float64Array(Math.max(capacity, index + 1) * STRIDE);
      grown.set(this.slots.subarray(0, index * STRIDE));
      this.slots = grown;
    }
    const o = index * STRIDE;
    this.slots[o + KEY] = key;
    this.slots[o + ID] = id;
    this.slots[o + SEEN] = seen;
    if (seen < this.minSeen) this.minSeen = seen;
    this.count = index + 1;
    this.#byKey.set(key, index);
    this.#linkNewest(index);
    if (this.#lowest !== UNKNOWN && (this.#lowest < 0 || id < this.idAt(this.#lowest))) {
      this.#lowest = index;
    }
    return index;
  }

  /**
   * Removes every member `drop` says to, compacting in place (join and
   * recency order kept). `minSeen` stays the bound it was (Infinity once the
   * room is empty) unless `exactMinSeen` asks for the survivors' minimum.
   *
   * @param drop Whether member `index` goes; called once per member, in join order.
   * @param exactMinSeen Recompute `minSeen` exactly.
   * @returns How many members were removed.
   */
  removeWhere(drop: (index: number) => boolean, exactMinSeen: boolean): number {
    const count = this.count;
    scratch(count);
    const slots = this.slots;
    // Recency order of the old indices, read before compaction moves the links.
    const order = scratchA;
    let n = 0;
    for (let i = this.#newest; i >= 0; i = slots[i * STRIDE + OLDER]!) order[n++] = i;
    const remap = scratchB;
    let write = 0;
    let minSeen = Infinity;
    for (let read = 0; read < count; read++) {
      const o = read * STRIDE;
      if (drop(read)) {
        this.#byKey.delete(slots[o + KEY]!);
        remap[read] = -1;
        continue;
      }
      if (write !== read) {
        slots.copyWithin(write * STRIDE, o, o + STRIDE);
        this.#byKey.set(slots[write * STRIDE + KEY]!, write);
      }
      const seen = slots[write * STRIDE + SEEN]!;
      if (seen < minSeen) minSeen = seen;
      remap[read] = write++;
    }
    this.count = write;
    if (exactMinSeen || write === 0) this.minSeen = minSeen;
    this.#lowest = write === 0 ? -1 : UNKNOWN;
    this.#newest = -1;
    // Relink from oldest to newest so each survivor in turn becomes the newest.
    for (let j = n - 1; j >= 0; j--) {
      const index = remap[order[j]!]!;
      if (index >= 0) this.#linkNewest(index);
    }
    return count - write;
  }

  /**
   * Writes into `out` (from 0) the indices of the `k` most recently seen
   * members other than `skipA` and `skipB`, ordered by age (clamped to 2^31-1
   * ms), then join order: the order a sort of the whole room by `(age,
   * index)` gives, at the cost of k steps (plus one run of equal ages).
   *
   * @returns How many indices were written (less than `k` in a small room).
   */
  mostRecent(k: number, skipA: number, skipB: number, now: number, out: Int32Array): number {
    const slots = this.slots;
    scratch(this.count);
    const run = scratchA;
    let written = 0;
    let i = this.#newest;
    while (written < k && i >= 0) {
      // One run of members of equal (clamped) age: emitted in join order.
      const age = clampAge(now - slots[i * STRIDE + SEEN]!);
      let n = 0;
      while (i >= 0 && clampAge(now - slots[i * STRIDE + SEEN]!) === age) {
        if (i !== skipA && i !== skipB) run[n++] = i;
        i = slots[i * STRIDE + OLDER]!;
      }
      if (n > 1) run.subarray(0, n).sort();
      for (let j = 0; j < n && written < k; j++) out[written++] = run[j]!;
    }
    return written;
  }

  #unlink(index: number): void {
    const slots = this.slots;
    const o = index * STRIDE;
    const newer = slots[o + NEWER]!;
    const older = slots[o + OLDER]!;
    if (newer >= 0) slots[newer * STRIDE + OLDER] = older;
    else this.#newest = older;
    if (older >= 0) slots[older * STRIDE + NEWER] = newer;
  }

  #linkNewest(index: number): void {
    const slots = this.slots;
    const o = index * STRIDE;
    const head = this.#newest;
    slots[o + NEWER] = -1;
    slots[o + OLDER] = head;
    if (head >= 0) slots[head * STRIDE + NEWER] = index;
    this.#newest = index;
  }
}

function clampAge(age: number): number {
  return age <= 0 ? 0 : age >= MAX_AGE_MS ? MAX_AGE_MS : age;
}

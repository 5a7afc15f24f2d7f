/**
 * A room's members stored compactly: one `Float64Array` per room holding, for
 * each member, `[endpoint key, id, last seen]` (24 bytes). No object and no
 * string per member, so 100,000 rooms of 10 members stay well under 300 bytes
 * a member. Members keep their join order (removals compact in place), which
 * is the order replies list them in.
 */

/** Float64 slots per member: endpoint key (ip * 65536 + port), id, last seen (ms). */
export const STRIDE = 3;

const INITIAL_CAPACITY = 4;

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
  /** `count * STRIDE` used slots: key, id, lastSeen per member. */
  slots: Float64Array;
  /** A lower bound of every member's last-seen time (exact right after a prune). */
  minSeen = Infinity;
  /** Position in the core's expiry heap. */
  heapIndex = -1;
  /** When the core must look at this room again: never later than its real deadline. */
  heapKey = 0;

  constructor(name: string, now: number) {
    this.name = name;
    this.createdAt = now;
    this.lastActivity = now;
    this.slots = new Float64Array(INITIAL_CAPACITY * STRIDE);
  }

  /** Index of the member with endpoint `key`, or -1. */
  indexOfKey(key: number): number {
    const slots = this.slots;
    const end = this.count * STRIDE;
    for (let o = 0; o < end; o += STRIDE) {
      if (slots[o] === key) return o / STRIDE;
    }
    return -1;
  }

  /** Index of a member other than `except` whose id is `id`, or -1. */
  indexOfId(id: number, except: number): number {
    const slots = this.slots;
    const end = this.count * STRIDE;
    for (let o = 1, i = 0; o < end; o += STRIDE, i++) {
      if (slots[o] === id && i !== except) return i;
    }
    return -1;
  }

  /** Index of the member with the lowest id, or -1 when empty. */
  lowestIndex(): number {
    const slots = this.slots;
    const end = this.count * STRIDE;
    let best = -1;
    let bestId = Infinity;
    for (let o = 1, i = 0; o < end; o += STRIDE, i++) {
      if (slots[o]! < bestId) {
        bestId = slots[o]!;
        best = i;
      }
    }
    return best;
  }

  /**
   * Appends a member; the caller checks the member limit. Capacity grows by
   * half (at least 4 slots) so that small rooms waste little.
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
    this.slots[o] = key;
    this.slots[o + 1] = id;
    this.slots[o + 2] = seen;
    if (seen < this.minSeen) this.minSeen = seen;
    this.count = index + 1;
    return index;
  }
}

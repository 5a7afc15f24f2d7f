/**
 * A room's members stored compactly: one `Float64Array` per room holding, for
 * each member, `[endpoint key, id, last seen]` (24 bytes), an `Int32Array`
 * of recency links `[newer, older]` (8 bytes), and one `Map` from endpoint
 * key to member index for O(1) lookup. No object and
 * no string per member, so 100,000 rooms of 10 members stay well under 300
 * bytes a member. Members keep their join order (removals compact in place),
 * which is the order replies list them in; `newer`/`older` link them in
 * recency order (most recently seen first), so a reply takes its k most
 * recent members without sorting the room.
 */

/** Float64 slots per member: endpoint key (ip * 65536 + port), id, last seen (ms). */
export const STRIDE = 3;
const KEY = 0;
const ID = 1;
const SEEN = 2;
/** Int32 link slots per member: the next newer and the next older member (-1: none). */
const NEWER = 0;
const OLDER = 1;

import { PEER_RECORD_BYTES, writeReplyRecord } from "@olaf/protocol";
import { endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";

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
  /** `count * STRIDE` used slots: key, id, lastSeen per member. */
  slots: Float64Array;
  /** `count * 2` used slots: newer, older per member. */
  links: Int32Array;
  /**
   * `count * 10` bytes: each member's peer record as the codec writes it
   * (ip, port, id), so a reply copies records instead of re-encoding them.
   */
  records: Uint8Array;
  /** A view of `records` for {@linkcode copyRecord}. */
  recordsView: DataView;
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
    this.links = new Int32Array(INITIAL_CAPACITY * 2);
    this.records = new Uint8Array(INITIAL_CAPACITY * PEER_RECORD_BYTES);
    this.recordsView = new DataView(this.records.buffer);
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
    this.#encode(index);
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
      const members = Math.max(capacity, index + 1);
      const grown = new Float64Array(members * STRIDE);
      grown.set(this.slots.subarray(0, index * STRIDE));
      this.slots = grown;
      const links = new Int32Array(members * 2);
      links.set(this.links.subarray(0, index * 2));
      this.links = links;
      const records = new Uint8Array(members * PEER_RECORD_BYTES);
      records.set(this.records.subarray(0, index * PEER_RECORD_BYTES));
      this.records = records;
      this.recordsView = new DataView(records.buffer);
    }
    const o = index * STRIDE;
    this.slots[o + KEY] = key;
    this.slots[o + ID] = id;
    this.slots[o + SEEN] = seen;
    this.#encode(index);
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
    const links = this.links;
    for (let i = this.#newest; i >= 0; i = links[i * 2 + OLDER]!) order[n++] = i;
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
        const r = read * PEER_RECORD_BYTES;
        this.records.copyWithin(write * PEER_RECORD_BYTES, r, r + PEER_RECORD_BYTES);
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
    if (k <= 0) return 0;
    const slots = this.slots;
    const links = this.links;
    scratch(this.count);
    const run = scratchA;
    // Members older than the clamp all rank alike: one run, key -Infinity.
    const clampAt = now - MAX_AGE_MS;
    let written = 0;
    let n = 0; // members of the current run of equal age, not yet written
    let runSeen = NaN;
    for (let i = this.#newest; i >= 0; i = links[i * 2 + OLDER]!) {
      const raw = slots[i * STRIDE + SEEN]!;
      const seen = raw <= clampAt ? -Infinity : raw;
      if (seen !== runSeen) {
        if (n === 1) out[written++] = run[0]!;
        else if (n > 1) written = flushRun(run, n, out, written, k);
        n = 0;
        if (written >= k) return written;
        runSeen = seen;
      }
      if (i !== skipA && i !== skipB) run[n++] = i;
    }
    return flushRun(run, n, out, written, k);
  }

  /**
   * Copies the records of the same members {@linkcode Room.mostRecent}
   * picks, in the same order, into `out` from `offset`: the reply's hot
   * loop, one pass over the recency list with no index buffer.
   *
   * @returns The offset after the last record written.
   */
  writeMostRecent(
    k: number,
    skipA: number,
    skipB: number,
    now: number,
    out: DataView,
    offset: number,
  ): number {
    const slots = this.slots;
    const links = this.links;
    const records = this.recordsView;
    scratch(this.count);
    const run = scratchA;
    const clampAt = now - MAX_AGE_MS;
    let left = k;
    let n = 0;
    let runSeen = NaN;
    for (let i = this.#newest; i >= 0 && left > 0; i = links[i * 2 + OLDER]!) {
      const raw = slots[i * STRIDE + SEEN]!;
      const seen = raw <= clampAt ? -Infinity : raw;
      if (seen !== runSeen) {
        if (n > 0) {
          if (n > 1) run.subarray(0, n).sort();
          for (let j = 0; j < n && left > 0; j++, left--) {
            offset = copyRecord(records, run[j]!, out, offset);
          }
          n = 0;
          if (left === 0) return offset;
        }
        runSeen = seen;
        // A member alone in its run (the common case) is written at once.
        const next = links[i * 2 + OLDER]!;
        const nextRaw = next >= 0 ? slots[next * STRIDE + SEEN]! : NaN;
        const nextSeen = nextRaw <= clampAt ? -Infinity : nextRaw;
        if (nextSeen !== seen) {
          if (i !== skipA && i !== skipB) {
            offset = copyRecord(records, i, out, offset);
            left--;
          }
          runSeen = NaN;
          continue;
        }
      }
      if (i !== skipA && i !== skipB) run[n++] = i;
    }
    if (n > 1) run.subarray(0, n).sort();
    for (let j = 0; j < n && left > 0; j++, left--) {
      offset = copyRecord(records, run[j]!, out, offset);
    }
    return offset;
  }

  /** Writes member `index`'s peer record into `records`, through the codec. */
  #encode(index: number): void {
    const key = this.keyAt(index);
    writeReplyRecord(
      this.records,
      index * PEER_RECORD_BYTES,
      endpointKeyIPv4(key),
      endpointKeyPort(key),
      this.idAt(index),
    );
  }

  #unlink(index: number): void {
    const links = this.links;
    const newer = links[index * 2 + NEWER]!;
    const older = links[index * 2 + OLDER]!;
    if (newer >= 0) links[newer * 2 + OLDER] = older;
    else this.#newest = older;
    if (older >= 0) links[older * 2 + NEWER] = newer;
  }

  #linkNewest(index: number): void {
    const links = this.links;
    const head = this.#newest;
    links[index * 2 + NEWER] = -1;
    links[index * 2 + OLDER] = head;
    if (head >= 0) links[head * 2 + NEWER] = index;
    this.#newest = index;
  }
}

/** Copies member `index`'s 10-byte record from `records` to `out` at `offset`. */
export function copyRecord(
  records: DataView,
  index: number,
  out: DataView,
  offset: number,
): number {
  // Three wide moves instead of ten byte moves: this is the reply's inner loop.
  const from = index * PEER_RECORD_BYTES;
  out.setUint32(offset, records.getUint32(from));
  out.setUint32(offset + 4, records.getUint32(from + 4));
  out.setUint16(offset + 8, records.getUint16(from + 8));
  return offset + PEER_RECORD_BYTES;
}

/** Writes up to `k - written` of the run's `n` members (in join order) to `out`. */
function flushRun(run: Int32Array, n: number, out: Int32Array, written: number, k: number): number {
  if (n > 1) run.subarray(0, n).sort();
  for (let j = 0; j < n && written < k; j++) out[written++] = run[j]!;
  return written;
}

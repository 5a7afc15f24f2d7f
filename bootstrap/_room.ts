/**
 * A room's members stored compactly: one `Float64Array` per room holding, for
 * each member, `[endpoint key, id, last seen]` (24 bytes), and an
 * `Int32Array` of recency links `[newer, older]` (8 bytes). No
 * object and no string per member, so 100,000 rooms of 10 members stay well
 * under 300 bytes a member. Members keep their join order (removals compact
 * in place), which is the order full replies list them in; `newer`/`older`
 * link them in recency order (most recently seen first), so a reply takes
 * its k most recent members without sorting the room. A room past
 * `INDEX_FROM` members also keeps an open-addressing hash index (endpoint key
 * to member) in an `Int32Array`: lookup is O(1) at any size, and small rooms
 * pay nothing for it. Such a room also keeps each member's 10-byte peer
 * record as the codec wrote it, so its (partial) replies copy records in
 * three wide moves instead of re-encoding them.
 */
import { PEER_RECORD_BYTES, writeReplyRecord } from "@olaf/protocol";
import { endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";

/** Float64 slots per member: endpoint key (ip * 65536 + port), id, last seen (ms). */
export const STRIDE = 3;
const KEY = 0;
const ID = 1;
const SEEN = 2;
/** In `links` (2 per member): the next newer member's index (-1: none). */
const NEWER = 0;
/** In `links`: the next older member's index (-1: none). */
const OLDER = 1;

const INITIAL_CAPACITY = 4;
/** Rooms up to this many members find a key by scanning (at most 16 compares). */
const INDEX_FROM = 16;
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

/** Hash of an endpoint key (ip * 65536 + port) to 32 bits. */
function hashKey(key: number): number {
  const ipv4 = Math.floor(key / 65536);
  const port = key - ipv4 * 65536;
  return Math.imul(ipv4 ^ Math.imul(port, 0x85ebca6b), 0x9e3779b1);
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
  /** A lower bound of every member's last-seen time (exact right after a prune). */
  minSeen = Infinity;
  /** Position in the core's expiry heap. */
  heapIndex = -1;
  /** When the core must look at this room again: never later than its real deadline. */
  heapKey = 0;
  /** Hash index: member index + 1 per slot, 0 = empty; `undefined` while the room is small. */
  #index: Int32Array | undefined = undefined;
  /** Past `INDEX_FROM` members: every member's peer record (10 bytes each, join order). */
  recordsView: DataView | undefined = undefined;
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
    const slots = this.slots;
    const table = this.#index;
    if (table === undefined) {
      const end = this.count * STRIDE;
      for (let o = KEY; o < end; o += STRIDE) {
        if (slots[o] === key) return o / STRIDE;
      }
      return -1;
    }
    const mask = table.length - 1;
    for (let h = hashKey(key) & mask;; h = (h + 1) & mask) {
      const entry = table[h]!;
      if (entry === 0) return -1;
      if (slots[(entry - 1) * STRIDE + KEY] === key) return entry - 1;
    }
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
    if (this.recordsView !== undefined) this.#encode(this.recordsView, index);
    const lowest = this.#lowest;
    if (lowest === UNKNOWN) return;
    const lowestId = this.idAt(lowest);
    if (id < lowestId || (id === lowestId && index < lowest)) this.#lowest = index;
    else if (index === lowest) this.#lowest = UNKNOWN;
  }

  /** Marks member `index` as seen at `now` (never before its last time): it becomes the newest. */
  touch(index: number, now: number): void {
    this.slots[index * STRIDE + SEEN] = now;
    if (index === this.#newest) return;
    this.#unlink(index);
    this.#linkNewest(index);
  }

  /** Marks every member as seen at `now` (a trusted report named them all). */
  touchAll(now: number): void {
    const slots = this.slots;
    this.#newest = -1;
    for (let i = 0; i < this.count; i++) {
      slots[i * STRIDE + SEEN] = now;
      this.#linkNewest(i);
    }
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
      if (this.recordsView !== undefined) {
        const records = new Uint8Array(members * PEER_RECORD_BYTES);
        records.set(new Uint8Array(this.recordsView.buffer, 0, index * PEER_RECORD_BYTES));
        this.recordsView = new DataView(records.buffer);
      }
    }
    const o = index * STRIDE;
    this.slots[o + KEY] = key;
    this.slots[o + ID] = id;
    this.slots[o + SEEN] = seen;
    if (seen < this.minSeen) this.minSeen = seen;
    this.count = index + 1;
    this.#linkNewest(index);
    if (this.#lowest !== UNKNOWN && (this.#lowest < 0 || id < this.idAt(this.#lowest))) {
      this.#lowest = index;
    }
    if (this.recordsView !== undefined) this.#encode(this.recordsView, index);
    const table = this.#index;
    if (table !== undefined && this.count * 2 <= table.length) this.#insert(table, key, index);
    else if (this.count > INDEX_FROM) this.#reindex();
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
    const links = this.links;
    // Recency order of the old indices, read before compaction moves the links.
    const order = scratchA;
    let n = 0;
    for (let i = this.#newest; i >= 0; i = links[i * 2 + OLDER]!) order[n++] = i;
    const remap = scratchB;
    const records = this.recordsView === undefined
      ? undefined
      : new Uint8Array(this.recordsView.buffer);
    let write = 0;
    let minSeen = Infinity;
    for (let read = 0; read < count; read++) {
      const o = read * STRIDE;
      if (drop(read)) {
        remap[read] = -1;
        continue;
      }
      if (write !== read) {
        slots.copyWithin(write * STRIDE, o, o + STRIDE);
        const r = read * PEER_RECORD_BYTES;
        records?.copyWithin(write * PEER_RECORD_BYTES, r, r + PEER_RECORD_BYTES);
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
    if (write < count) this.#reindex();
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
    let written = 0;
    this.#walkRecent(k, skipA, skipB, now, (index) => void (out[written++] = index));
    return written;
  }

  /**
   * Writes the records of the members {@linkcode Room.mostRecent} picks, in
   * its order, into `out` from `offset`, through the codec's record writer.
   *
   * @returns The offset after the last record.
   */
  writeMostRecent(
    k: number,
    skipA: number,
    skipB: number,
    now: number,
    out: Uint8Array,
    offset: number,
  ): number {
    const records = this.recordsView;
    if (records === undefined) return this.#writeMostRecentSlow(k, skipA, skipB, now, out, offset);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const slots = this.slots;
    const links = this.links;
    const clampAt = now - MAX_AGE_MS;
    scratch(this.count);
    const run = scratchA;
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
            offset = copyRecord(records, run[j]!, view, offset);
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
            offset = copyRecord(records, i, view, offset);
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
      offset = copyRecord(records, run[j]!, view, offset);
    }
    return offset;
  }

  /** {@linkcode Room.writeMostRecent} for a room without records (encodes each). */
  #writeMostRecentSlow(
    k: number,
    skipA: number,
    skipB: number,
    now: number,
    out: Uint8Array,
    offset: number,
  ): number {
    const slots = this.slots;
    const links = this.links;
    const clampAt = now - MAX_AGE_MS;
    scratch(this.count);
    const run = scratchA;
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
            offset = writeMember(out, offset, slots, run[j]!);
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
            offset = writeMember(out, offset, slots, i);
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
      offset = writeMember(out, offset, slots, run[j]!);
    }
    return offset;
  }

  /** Calls `visit` with the indices {@linkcode Room.mostRecent} returns. */
  #walkRecent(
    k: number,
    skipA: number,
    skipB: number,
    now: number,
    visit: (index: number) => void,
  ): void {
    const slots = this.slots;
    const links = this.links;
    const clampAt = now - MAX_AGE_MS;
    scratch(this.count);
    const run = scratchA;
    let left = k;
    let n = 0;
    let runSeen = NaN;
    const flush = () => {
      if (n > 1) run.subarray(0, n).sort();
      for (let j = 0; j < n && left > 0; j++, left--) visit(run[j]!);
      n = 0;
    };
    for (let i = this.#newest; i >= 0 && left > 0; i = links[i * 2 + OLDER]!) {
      const raw = slots[i * STRIDE + SEEN]!;
      const seen = raw <= clampAt ? -Infinity : raw;
      if (seen !== runSeen) {
        flush();
        runSeen = seen;
      }
      if (i !== skipA && i !== skipB) run[n++] = i;
    }
    flush();
  }

  #insert(table: Int32Array, key: number, index: number): void {
    const mask = table.length - 1;
    let h = hashKey(key) & mask;
    while (table[h] !== 0) h = (h + 1) & mask;
    table[h] = index + 1;
  }

  /** Rebuilds the hash index (at most a quarter full) and the records, or drops them. */
  #reindex(): void {
    if (this.count <= INDEX_FROM) {
      this.#index = undefined;
      this.recordsView = undefined;
      return;
    }
    if (this.recordsView === undefined) {
      const records = new DataView(
        new ArrayBuffer((this.slots.length / STRIDE) * PEER_RECORD_BYTES),
      );
      for (let i = 0; i < this.count; i++) this.#encode(records, i);
      this.recordsView = records;
    }
    let size = 64;
    while (size < this.count * 4) size *= 2;
    let table = this.#index;
    if (table === undefined || table.length !== size) table = new Int32Array(size);
    else table.fill(0);
    const slots = this.slots;
    for (let i = 0; i < this.count; i++) this.#insert(table, slots[i * STRIDE + KEY]!, i);
    this.#index = table;
  }

  /** Writes member `index`'s record into `records`, through the codec. */
  #encode(records: DataView, index: number): void {
    const bytes = new Uint8Array(records.buffer);
    writeMember(bytes, index * PEER_RECORD_BYTES, this.slots, index);
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

/** Copies member `index`'s record from `records` to `out` at `offset` (three wide moves). */
function copyRecord(records: DataView, index: number, out: DataView, offset: number): number {
  const from = index * PEER_RECORD_BYTES;
  out.setUint32(offset, records.getUint32(from));
  out.setUint32(offset + 4, records.getUint32(from + 4));
  out.setUint16(offset + 8, records.getUint16(from + 8));
  return offset + PEER_RECORD_BYTES;
}

/** Writes member `index`'s record at `offset` through the codec; returns the offset after it. */
export function writeMember(
  out: Uint8Array,
  offset: number,
  slots: Float64Array,
  index: number,
): number {
  const o = index * STRIDE;
  const key = slots[o + KEY]!;
  return writeReplyRecord(out, offset, endpointKeyIPv4(key), endpointKeyPort(key), slots[o + ID]!);
}

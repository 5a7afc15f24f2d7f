/**
 * A room's members stored compactly: one `Float64Array` per room holding, for
 * each member, `[endpoint key, id, last seen]` (24 bytes). No object and no
 * string per member, so 100,000 rooms of 10 members stay well under 300 bytes
 * a member. Members keep their join order (removals compact in place), which
 * is the order full replies list them in.
 *
 * A room past `BIG_FROM` members also keeps a {@linkcode BigRoom}: an
 * open-addressing hash index (endpoint key to member, O(1) lookup) and a log
 * of the members' 10-byte peer records ordered by recency, most recent
 * first, so a partial reply's "most recently active" part is one or a few
 * contiguous copies out of the log. Small rooms pay nothing for either.
 */
import { PEER_RECORD_BYTES, writeReplyRecord } from "@olaf/protocol";
import { endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";

/**
 * Float64 slots per member: endpoint key (ip * 65536 + port), id, last seen
 * (ms), and last heard from directly (ms; a report's naming does not count).
 */
export const STRIDE = 4;
const KEY = 0;
const ID = 1;
const SEEN = 2;
const DIRECT = 3;

const INITIAL_CAPACITY = 4;
/** Rooms up to this many members scan (at most 16 compares) and sort; past it they index. */
const BIG_FROM = 16;
/** Ages are clamped to this (ms) when replies rank members, as the v1 sort key did. */
const MAX_AGE_MS = 0x7fffffff;
/** `lowest` when it must be recomputed. */
const UNKNOWN = -2;
/** Equal-time entries a push steps over to keep join order before it leaves the sort to the reader. */
const MAX_WALK = 8;
/** Holes a reply may walk past before it closes them (keeps replies O(k) amortized). */
const MAX_HOLES = 32;
const R = PEER_RECORD_BYTES;

/** Shared scratch for compaction and reply selection (rooms hold at most 65,535 members). */
let scratchA = new Int32Array(64);
let scratchB = new Int32Array(64);
let scratchF = new Float64Array(64);
function scratch(size: number): void {
  if (scratchA.length < size) {
    scratchA = new Int32Array(size);
    scratchB = new Int32Array(size);
    scratchF = new Float64Array(size);
  }
}

/** Hash of an endpoint key (ip * 65536 + port) to 32 bits. */
function hashKey(key: number): number {
  const ipv4 = Math.floor(key / 65536);
  const port = key - ipv4 * 65536;
  return Math.imul(ipv4 ^ Math.imul(port, 0x85ebca6b), 0x9e3779b1);
}

/**
 * The index and recency log of a big room. The log holds `2 * capacity`
 * entries; live ones sit in `[head, end)`, most recently seen first (a
 * touched member's old entry becomes a hole, -1 in `member`). When `head`
 * reaches 0 the live entries are packed to the end again: O(capacity) every
 * at least `capacity` touches.
 */
class BigRoom {
  /** Hash index: member index + 1 per slot, 0 = empty; at most half full. */
  table: Int32Array;
  /** Peer records, one per log entry. */
  readonly log: Uint8Array;
  /** Member index per log entry, -1 for a hole. */
  readonly member: Int32Array;
  /** Log entry per member index. */
  readonly pos: Int32Array;
  /** First live entry. */
  head: number;
  /** Member with the lowest id (first in join order on a tie), -1 when empty, or UNKNOWN. */
  lowest = UNKNOWN;
  /** Set when time went backwards: the log is re-sorted before the next reply. */
  dirty = false;
  /** Set when the head run of equal times may be out of join order (sorted before it is read). */
  unsorted = false;
  /** Set when log and table are out of date (a member report): rebuilt when next read. */
  stale = false;
  /** Set when only the table is out of date (members were removed): rebuilt when next read. */
  tableStale = false;

  constructor(capacity: number) {
    this.table = new Int32Array(0);
    this.log = new Uint8Array(capacity * 2 * R);
    this.member = new Int32Array(capacity * 2).fill(-1);
    this.pos = new Int32Array(capacity);
    this.head = capacity * 2;
  }

  /** Sorts the head run of equal times into join order (see {@linkcode BigRoom.push}). */
  sortHeadRun(slots: Float64Array): void {
    this.unsorted = false;
    const member = this.member;
    const end = member.length;
    const head = this.head;
    if (head >= end) return;
    const seen = slots[member[head]! * STRIDE + SEEN]!;
    let runEnd = head;
    let n = 0;
    for (; runEnd < end; runEnd++) {
      const q = member[runEnd]!;
      if (q < 0) continue;
      if (slots[q * STRIDE + SEEN] !== seen) break;
      n++;
    }
    scratch(n);
    const run = scratchA;
    n = 0;
    for (let e = head; e < runEnd; e++) {
      const q = member[e]!;
      if (q >= 0) run[n++] = q;
    }
    run.subarray(0, n).sort();
    const at = runEnd - n;
    member.fill(-1, head, at);
    for (let t = 0; t < n; t++) {
      const q = run[t]!;
      member[at + t] = q;
      this.pos[q] = at + t;
      writeMember(this.log, (at + t) * R, slots, q);
    }
    this.head = at;
  }

  /** Packs the live entries of `[head, upto)` against `upto` (order kept). */
  pack(upto: number): void {
    const member = this.member;
    const log = this.log;
    const pos = this.pos;
    const head = this.head;
    let w = upto;
    for (let r = upto - 1; r >= head; r--) {
      const m = member[r]!;
      if (m < 0) continue;
      w--;
      if (w !== r) {
        log.copyWithin(w * R, r * R, r * R + R);
        member[w] = m;
        pos[m] = w;
      }
    }
    member.fill(-1, head, w);
    this.head = w;
  }

  /**
   * A new log entry for member `index`, seen at `seen`, at the head, or just
   * behind the head's members seen at the same time with a lower index:
   * every run of equal times stays in join order, so replies copy it as is.
   * Returns the entry; its record is written by the caller.
   */
  push(index: number, seen: number, slots: Float64Array): number {
    if (this.head === 0) this.pack(this.member.length);
    const member = this.member;
    const end = member.length;
    let old = this.head;
    let w = old;
    if (old < end) {
      const headSeen = slots[member[old]! * STRIDE + SEEN]!;
      if (seen < headSeen) this.dirty = true;
      else if (seen > headSeen && this.unsorted) {
        this.sortHeadRun(slots);
        old = w = this.head;
      }
      // A long walk (many equal times) gives up: the run is sorted once, when read.
      if (!this.unsorted) {
        for (let steps = 0; w < end; w++) {
          const q = member[w]!;
          if (q < 0) continue;
          if (q > index || slots[q * STRIDE + SEEN] !== seen) break;
          if (++steps > MAX_WALK) {
            this.unsorted = true;
            w = old;
            break;
          }
        }
      }
    }
    // Holes at the end of the stretch stay where they are.
    while (w > old && member[w - 1]! < 0) w--;
    const at = old - 1;
    if (w > old) {
      member.copyWithin(at, old, w);
      this.log.copyWithin(at * R, old * R, w * R);
      const pos = this.pos;
      for (let e = at; e < w - 1; e++) {
        const q = member[e]!;
        if (q >= 0) pos[q] = e;
      }
    }
    this.head = at;
    const to = w - 1;
    member[to] = index;
    this.pos[index] = to;
    return to;
  }
}

/** The big rooms' indexes and logs. */
const bigRooms = new WeakMap<Room, BigRoom>();
/** The last room looked up in `bigRooms`, and what it found. */
let lastRoom: Room | undefined = undefined;
let lastBig: BigRoom | undefined = undefined;

/**
 * A room's index and recency log once past `BIG_FROM` members; `undefined`
 * while it is small. Kept beside the room, not in it, so that small rooms stay
 * as compact as they were; only a room whose capacity passed `BIG_FROM` looks
 * it up.
 */
function bigOf(room: Room): BigRoom | undefined {
  if (room.slots.length <= BIG_FROM * STRIDE) return undefined;
  // One room is usually asked many times in a row (a report adds all its members).
  if (room !== lastRoom) {
    lastRoom = room;
    lastBig = bigRooms.get(room);
  }
  return lastBig;
}

function setBig(room: Room, big: BigRoom | undefined): void {
  if (big === undefined) bigRooms.delete(room);
  else bigRooms.set(room, big);
  lastRoom = room;
  lastBig = big;
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
  /** A lower bound of every member's last-seen time (exact right after a prune). */
  minSeen = Infinity;
  /** Position in the core's expiry heap. */
  heapIndex = -1;
  /** When the core must look at this room again: never later than its real deadline. */
  heapKey = 0;
  /** Issue 12: endpoint key of the source that created the room (-1: unknown). */
  creator = -1;
  /** Issue 12: set once a source other than the creator sent this room a request. */
  shared = false;
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

  /** When member `index` was last heard from directly (-Infinity: only named by reports). */
  directAt(index: number): number {
    return this.slots[index * STRIDE + DIRECT]!;
  }

  /** Index of the member with endpoint `key`, or -1. O(1). */
  indexOfKey(key: number): number {
    const slots = this.slots;
    let big = bigOf(this);
    if (big === undefined) {
      const end = this.count * STRIDE;
      for (let o = KEY; o < end; o += STRIDE) {
        if (slots[o] === key) return o / STRIDE;
      }
      return -1;
    }
    if (big.stale) {
      this.#refresh();
      big = bigOf(this)!;
    } else if (big.tableStale) this.#rebuildTable(big);
    const table = big.table;
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
    const big = bigOf(this);
    if (big !== undefined && big.lowest !== UNKNOWN) return big.lowest;
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
    if (big !== undefined) big.lowest = best;
    return best;
  }

  /** Changes member `index`'s id. */
  setId(index: number, id: number): void {
    this.slots[index * STRIDE + ID] = id;
    const big = bigOf(this);
    if (big === undefined) return;
    if (!big.stale) writeMember(big.log, big.pos[index]! * R, this.slots, index);
    const lowest = big.lowest;
    if (lowest === UNKNOWN) return;
    const lowestId = this.idAt(lowest);
    if (id < lowestId || (id === lowestId && index < lowest)) big.lowest = index;
    else if (index === lowest) big.lowest = UNKNOWN;
  }

  /** Marks member `index` as seen at `now` (never before its last time): it becomes the newest. */
  touch(index: number, now: number): void {
    this.slots[index * STRIDE + DIRECT] = now; // only direct evidence touches one member
    const big = bigOf(this);
    if (big === undefined || big.stale) {
      this.slots[index * STRIDE + SEEN] = now;
      return;
    }
    // A run that may be out of order is sorted while it is still the head run.
    if (big.unsorted && now !== this.seenAt(index)) big.sortHeadRun(this.slots);
    this.slots[index * STRIDE + SEEN] = now;
    if (big.pos[index] === big.head) return;
    const from = big.pos[index]!;
    big.member[from] = -1;
    // A full log is packed first; the member's record is rewritten, not moved.
    const at = big.push(index, now, this.slots);
    writeMember(big.log, at * R, this.slots, index);
  }

  /** Marks every member as seen at `now` (a trusted report named them all). */
  touchAll(now: number): void {
    const slots = this.slots;
    for (let i = 0; i < this.count; i++) slots[i * STRIDE + SEEN] = now;
    // All tie now: recency order is join order. Rebuilt when next read (a
    // report goes on to add the members it names).
    const big = bigOf(this);
    if (big !== undefined) big.stale = true;
  }

  /**
   * Appends a member; the caller checks the member limit and that the key is
   * new. Capacity grows by half (at least 4 members) so that small rooms waste
   * little.
   */
  add(key: number, id: number, seen: number, maxMembers: number, direct = seen): number {
    const index = this.count;
    let grown = false;
    if ((index + 1) * STRIDE > this.slots.length) {
      const capacity = Math.min(
        maxMembers,
        index + Math.max(INITIAL_CAPACITY, index >> 1),
      );
      const slots = new Float64Array(Math.max(capacity, index + 1) * STRIDE);
      slots.set(this.slots.subarray(0, index * STRIDE));
      this.slots = slots;
      grown = true;
    }
    const o = index * STRIDE;
    this.slots[o + KEY] = key;
    this.slots[o + ID] = id;
    this.slots[o + SEEN] = seen;
    this.slots[o + DIRECT] = direct;
    if (seen < this.minSeen) this.minSeen = seen;
    const big = bigOf(this);
    if (big !== undefined && (big.stale || !grown)) {
      this.count = index + 1;
      // A stale room is rebuilt (at its new capacity) when next read.
      if (grown) big.stale = true;
      if (!big.stale) {
        if (!big.tableStale) insert(big.table, key, index);
        const at = big.push(index, seen, this.slots);
        writeMember(big.log, at * R, this.slots, index);
      }
      const lowest = big.lowest;
      if (lowest !== UNKNOWN && (lowest < 0 || id < this.idAt(lowest))) big.lowest = index;
    } else if (index + 1 > BIG_FROM) {
      // (Re)build from the recency order so far, then log the newcomer.
      const order = this.#order();
      this.count = index + 1;
      this.#rebuild(order, index);
      const rebuilt = bigOf(this)!;
      writeMember(rebuilt.log, rebuilt.push(index, seen, this.slots) * R, this.slots, index);
    } else {
      this.count = index + 1;
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
    const big = bigOf(this);
    scratch(count);
    const remap = scratchB;
    const slots = this.slots;
    let write = 0;
    let minSeen = Infinity;
    for (let read = 0; read < count; read++) {
      const o = read * STRIDE;
      if (drop(read)) {
        remap[read] = -1;
        continue;
      }
      if (write !== read) slots.copyWithin(write * STRIDE, o, o + STRIDE);
      const seen = slots[write * STRIDE + SEEN]!;
      if (seen < minSeen) minSeen = seen;
      remap[read] = write++;
    }
    this.count = write;
    if (exactMinSeen || write === 0) this.minSeen = minSeen;
    if (big !== undefined && write < count) {
      big.lowest = UNKNOWN;
      if (!big.stale) {
        // Renumber the log in place (records stay valid); the table is rebuilt when next read.
        const member = big.member;
        const pos = big.pos;
        const end = member.length;
        for (let e = big.head; e < end; e++) {
          const m = member[e]!;
          if (m < 0) continue;
          const to = remap[m]!;
          member[e] = to;
          if (to >= 0) pos[to] = e;
        }
        while (big.head < end && member[big.head]! < 0) big.head++;
        big.tableStale = true;
      }
    }
    return count - write;
  }

  /**
   * Writes into `out` (from 0) the indices of the `k` most recently seen
   * members other than `skipA` and `skipB`, ordered by age (clamped to 2^31-1
   * ms), then join order: the order a sort of the whole room by `(age,
   * index)` gives.
   *
   * @returns How many indices were written (less than `k` in a small room).
   */
  mostRecent(k: number, skipA: number, skipB: number, now: number, out: Int32Array): number {
    const count = this.count;
    scratch(count);
    const ranked = scratchF;
    const slots = this.slots;
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (i === skipA || i === skipB) continue;
      const age = Math.min(MAX_AGE_MS, Math.max(0, now - slots[i * STRIDE + SEEN]!));
      ranked[n++] = age * 65536 + i;
    }
    const sorted = ranked.subarray(0, n).sort();
    const written = Math.min(k, n);
    for (let j = 0; j < written; j++) out[j] = sorted[j]! % 65536;
    return written;
  }

  /**
   * Writes the records of the members {@linkcode Room.mostRecent} picks, in
   * its order, into `out` from `offset`. A big room copies them out of its
   * recency log, a contiguous stretch at a time.
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
    let big = bigOf(this);
    const slots = this.slots;
    if (big === undefined) {
      scratch(this.count);
      const picked = scratchA;
      const n = this.mostRecent(k, skipA, skipB, now, picked);
      for (let j = 0; j < n; j++) offset = writeMember(out, offset, slots, picked[j]!);
      return offset;
    }
    if (big.stale) {
      this.#refresh();
      big = bigOf(this)!;
    }
    if (big.dirty) {
      this.#rebuild(this.#order(true), this.count);
      return this.writeMostRecent(k, skipA, skipB, now, out, offset);
    }
    if (big.unsorted) big.sortHeadRun(slots);
    const member = big.member;
    const log = big.log;
    const end = member.length;
    const start = offset;
    let left = k;
    let holes = 0;
    // The pending stretch of log entries [a, b) to copy. Runs of equal times
    // are in join order (see BigRoom.push), so log order is reply order.
    let a = 0;
    let b = -1;
    let e = big.head;
    for (; e < end && left > 0; e++) {
      const m = member[e]!;
      if (m < 0) {
        holes++;
        continue;
      }
      if (m === skipA || m === skipB) continue;
      if (e !== b) {
        if (b > a) {
          out.set(log.subarray(a * R, b * R), offset);
          offset += (b - a) * R;
        }
        a = e;
      }
      b = e + 1;
      left--;
    }
    if (b > a) {
      out.set(log.subarray(a * R, b * R), offset);
      offset += (b - a) * R;
    }
    // Ages clamped to 2^31-1 ms all tie: rare enough for the scan and sort.
    if (b > a && slots[member[b - 1]! * STRIDE + SEEN]! <= now - MAX_AGE_MS) {
      scratch(this.count);
      const picked = scratchA;
      const n = this.mostRecent(k, skipA, skipB, now, picked);
      offset = start;
      for (let j = 0; j < n; j++) offset = writeMember(out, offset, slots, picked[j]!);
    }
    if (holes > MAX_HOLES) big.pack(e);
    return offset;
  }

  /** The current recency order (most recent first) of a big room, in scratch space. */
  #order(sort = false): Int32Array {
    if (!sort && bigOf(this)?.stale) this.#refresh();
    const big = sort ? undefined : bigOf(this);
    if (big !== undefined && big.unsorted) big.sortHeadRun(this.slots);
    const capacity = this.slots.length / STRIDE;
    scratch(Math.max(capacity, this.count + 1));
    const order = scratchA;
    if (big === undefined) {
      // Sorted by (age, index), as replies rank.
      this.mostRecent(this.count, -1, -1, this.#newestSeen(), order);
      return order;
    }
    const member = big.member;
    let n = 0;
    for (let e = big.head; e < member.length; e++) {
      const m = member[e]!;
      if (m >= 0) order[n++] = m;
    }
    return order;
  }

  #newestSeen(): number {
    let newest = -Infinity;
    for (let i = 0; i < this.count; i++) {
      const seen = this.slots[i * STRIDE + SEEN]!;
      if (seen > newest) newest = seen;
    }
    return newest;
  }

  /** Builds the index and log from `order` (`n` members, most recent first), or drops them. */
  #rebuild(order: Int32Array, n: number): void {
    // Once big, a room keeps its index and log (a member report empties and refills it).
    if (this.count <= BIG_FROM && bigOf(this) === undefined) return;
    const capacity = this.slots.length / STRIDE;
    let big = bigOf(this);
    if (big === undefined || big.pos.length !== capacity) big = new BigRoom(capacity);
    else big.member.fill(-1);
    // At most half full until the next growth rebuilds it.
    let size = 64;
    while (size < capacity * 2) size *= 2;
    if (big.table.length !== size) big.table = new Int32Array(size);
    const slots = this.slots;
    const at = big.member.length - n;
    for (let t = 0; t < n; t++) {
      const m = order[t]!;
      big.member[at + t] = m;
      big.pos[m] = at + t;
      writeMember(big.log, (at + t) * R, slots, m);
    }
    big.head = at;
    this.#rebuildTable(big);
    big.lowest = UNKNOWN;
    big.dirty = false;
    big.unsorted = false;
    big.stale = false;
    setBig(this, big);
  }

  #rebuildTable(big: BigRoom): void {
    const table = big.table;
    table.fill(0);
    const slots = this.slots;
    for (let i = 0; i < this.count; i++) insert(table, slots[i * STRIDE + KEY]!, i);
    big.tableStale = false;
  }

  /** Rebuilds a stale log: join order when every member was seen at once (a report), else sorted. */
  #refresh(): void {
    const slots = this.slots;
    const count = this.count;
    const first = count > 0 ? slots[SEEN]! : 0;
    let tie = true;
    for (let o = SEEN; o < count * STRIDE && tie; o += STRIDE) tie = slots[o] === first;
    let order: Int32Array;
    if (tie) {
      scratch(Math.max(this.slots.length / STRIDE, count + 1));
      order = scratchA;
      for (let i = 0; i < count; i++) order[i] = i;
    } else order = this.#order(true);
    this.#rebuild(order, count);
  }
}

function insert(table: Int32Array, key: number, index: number): void {
  const mask = table.length - 1;
  let h = hashKey(key) & mask;
  while (table[h] !== 0) h = (h + 1) & mask;
  table[h] = index + 1;
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

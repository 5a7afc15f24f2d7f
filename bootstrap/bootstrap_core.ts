import {
  decode,
  type DecodeOptions,
  endpointKey,
  endpointKeyIPv4,
  endpointKeyPort,
  formatIPv4,
  HEADER_BYTES,
  isIPv4,
  type Message,
  MessageType,
  normaliseHostname,
  parseIPv4,
  PEER_RECORD_BYTES,
  type PeerList,
  peersThatFit,
  ProtocolError,
  Slab,
  writePeerFields,
} from "@olaf/protocol";
import { Fifo, type NetAddress, type Transmit } from "@olaf/protocol/net";
import { MAX_ROOM_NAME_BYTES } from "@olaf/protocol"; // issue 16: one room-name limit

export type { Transmit } from "@olaf/protocol/net";
import { Room, STRIDE } from "./_room.ts";
import { type SourceBucket, SourceLimiter, takeBytes } from "./_rate_limiter.ts";
import type {
  BootstrapEvent,
  BootstrapStats,
  MemberInfo,
  RoomDetail,
  RoomSummary,
} from "@olaf/control";

/**
 * Limits and timeouts of a bootstrap. Every field is optional; the defaults
 * match the deployed v1 bootstrap where it had one and are safe for a public
 * server otherwise.
 */
export interface BootstrapLimits {
  /** A room with no `JOIN_B` or `PEER_COLLECTOR` for this long is deleted. Default 15,000 ms. */
  roomTimeoutMs?: number;
  /**
   * A member not heard from for this long is dropped from its room (see the
   * README's membership policy). Default: `roomTimeoutMs`.
   */
  memberTimeoutMs?: number;
  /** Concurrent rooms; a `JOIN_B` that would create one more gets `ROOM_FULL`. Default 10. */
  maxRooms?: number;
  /** Members per room (1..65535); a newcomer past it gets `ROOM_FULL`. Default 1000. */
  maxMembersPerRoom?: number;
  /** Longest room name in UTF-8 bytes; longer names are dropped. Default 255. */
  maxRoomNameBytes?: number;
  /** Longest datagram accepted; longer ones are dropped. Default 16,384. */
  maxDatagramBytes?: number;
  /**
   * Largest reply in bytes. Default 1024, which deployed peers can read: a
   * `BOOTSTRAP_R` then lists at most 101 members.
   */
  replyBudgetBytes?: number;
  /** Requests accepted per second from one source IPv4 address. Default 20; `Infinity` = off. */
  requestsPerSecond?: number;
  /** Request burst per source address. Default 40. */
  requestBurst?: number;
  /** Reply bytes sent per second to one IPv4 address. Default 16,384; `Infinity` = off. */
  replyBytesPerSecond?: number;
  /** Reply-byte burst per address. Default 32,768. */
  replyBytesBurst?: number;
  /** Source addresses tracked by the rate limiter (oldest evicted past it). Default 65,536. */
  maxTrackedSources?: number;
}

/** Options of a {@linkcode BootstrapCore}. */
export interface BootstrapCoreOptions extends BootstrapLimits {
  /** Start time in ms since the epoch (for `stats().startedAt`). Default 0. */
  startedAt?: number;
  /** Queue events for {@linkcode BootstrapCore.pollEvent}. Default `true`. */
  emitEvents?: boolean;
  /** Events kept when nobody polls them (oldest dropped past it). Default 65,536. */
  maxQueuedEvents?: number;
}

/** Every limit with its default applied. */
export type ResolvedBootstrapLimits = Required<BootstrapLimits>;

/** Where a datagram came from: a socket address, or an IPv4 number and port. */
export type SourceAddress = NetAddress | { readonly ipv4: number; readonly port: number };

/** The defaults of every {@linkcode BootstrapLimits} field. */
export const DEFAULT_LIMITS: Readonly<ResolvedBootstrapLimits> = Object.freeze({
  roomTimeoutMs: 15_000,
  memberTimeoutMs: 15_000,
  maxRooms: 10,
  maxMembersPerRoom: 1000,
  maxRoomNameBytes: MAX_ROOM_NAME_BYTES, // the peer refuses longer names up front
  maxDatagramBytes: 16_384,
  replyBudgetBytes: 1024,
  requestsPerSecond: 20,
  requestBurst: 40,
  replyBytesPerSecond: 16_384,
  replyBytesBurst: 32_768,
  maxTrackedSources: 65_536,
});

const ROOM_FULL_BYTES = HEADER_BYTES + 4;
/** Largest UDP payload over IPv4. */
const MAX_UDP_PAYLOAD_BYTES = 65_507;
/** Replies kept when nobody polls them (each datagram makes at most one). */
const MAX_QUEUED_TRANSMITS = 4096;
const MAX_ID = 0xffffffff;
/** Ages are clamped to this (ms) in the recency sort key so that key stays exact. */
const MAX_AGE_MS = 0x7fffffff;

function positive(name: string, value: number, integer: boolean, max = Infinity): number {
  const ok = integer ? Number.isInteger(value) : !Number.isNaN(value);
  if (!ok || value <= 0 || value > max) {
    const kind = integer ? "a positive integer" : "a positive number";
    throw new RangeError(
      `${name} must be ${kind}${max < Infinity ? ` <= ${max}` : ""}, got ${value}`,
    );
  }
  return value;
}

/**
 * Applies defaults and checks every limit.
 *
 * @param limits Limits to check.
 * @returns Every limit, defaults filled in.
 * @throws {RangeError} For a value that is not a positive number (or integer where one is needed).
 *
 * @example
 * ```ts
 * import { resolveLimits } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * assert.equal(resolveLimits({ maxRooms: 50 }).roomTimeoutMs, 15_000);
 * assert.throws(() => resolveLimits({ maxRooms: 0 }), RangeError);
 * ```
 */
export function resolveLimits(limits: BootstrapLimits = {}): ResolvedBootstrapLimits {
  /** The named limit, else `fallback`, checked to be a positive number or integer up to `max`. */
  const limit = (
    name: keyof BootstrapLimits,
    integer: boolean,
    max = Infinity,
    fallback: number = DEFAULT_LIMITS[name],
  ): number => positive(name, limits[name] ?? fallback, integer, max);

  const roomTimeoutMs = limit("roomTimeoutMs", false);
  const replyBudgetBytes = limit("replyBudgetBytes", true, MAX_UDP_PAYLOAD_BYTES);
  if (replyBudgetBytes < HEADER_BYTES + 2 * PEER_RECORD_BYTES) {
    throw new RangeError(`replyBudgetBytes must be at least 23, got ${replyBudgetBytes}`);
  }
  return {
    roomTimeoutMs,
    memberTimeoutMs: limit("memberTimeoutMs", false, Infinity, roomTimeoutMs),
    maxRooms: limit("maxRooms", true),
    maxMembersPerRoom: limit("maxMembersPerRoom", true, 65_535), // the u16 peer count
    maxRoomNameBytes: limit("maxRoomNameBytes", true),
    maxDatagramBytes: limit("maxDatagramBytes", true, MAX_UDP_PAYLOAD_BYTES),
    replyBudgetBytes,
    requestsPerSecond: limit("requestsPerSecond", false),
    requestBurst: limit("requestBurst", false),
    replyBytesPerSecond: limit("replyBytesPerSecond", false),
    replyBytesBurst: limit("replyBytesBurst", false),
    maxTrackedSources: limit("maxTrackedSources", true),
  };
}

/** IPv4 number of a socket hostname (`"::ffff:a.b.c.d"` included), or -1. */
function sourceIPv4(hostname: string): number {
  const text = normaliseHostname(hostname);
  return isIPv4(text) ? parseIPv4(text) : -1;
}

/**
 * The bootstrap's room logic, sans-IO: feed it datagrams and the time, take
 * replies, events and its next deadline out. No sockets, timers or clocks;
 * the same inputs always give the same outputs. {@linkcode startBootstrap}
 * drives one over UDP (or the in-memory network).
 *
 * Behaviour, per the v1 spec with the deployed defects fixed:
 * - `JOIN_B`: adds the source to the room (creating it, or `ROOM_FULL` past
 *   `maxRooms`), and answers `BOOTSTRAP_R`. A re-join that carries the
 *   sender's own record keeps its id when the record's ip:port is the source.
 *   New ids are unique and increase with join time: Unix seconds where free,
 *   else the next free number.
 * - `PEER_COLLECTOR`: refreshes the room (the heartbeat keeps it alive) and
 *   answers `BOOTSTRAP_R`. A member report is trusted only when the source is
 *   in it; the room's membership is then reconciled to it, and an unknown
 *   room is recreated from it (restart recovery), never past the limits.
 * - Members not heard from for `memberTimeoutMs` are dropped; rooms without
 *   activity for `roomTimeoutMs` are deleted.
 * - Replies fit `replyBudgetBytes`: a big room's reply lists the recipient,
 *   the lowest id and the most recently active others.
 * - Malformed datagrams are counted by reason and dropped; per-source rate
 *   limits bound requests and reply bytes.
 *
 * @example Join a room and read the reply
 * ```ts
 * import { BootstrapCore } from "@olaf/bootstrap";
 * import { decode, encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const core = new BootstrapCore();
 * const now = 1_763_700_000_000;
 * const join = encode({ type: "JOIN_B", peers: [], room: "lobby" });
 * core.handleDatagram(join, { hostname: "203.0.113.7", port: 40000 }, now);
 *
 * const out = core.pollTransmit()!;
 * assert.deepEqual(out.to, { hostname: "203.0.113.7", port: 40000 });
 * const reply = decode(out.data);
 * assert.equal(reply.type, "BOOTSTRAP_R");
 * if (reply.type === "BOOTSTRAP_R") {
 *   assert.deepEqual(reply.self, { ip: "203.0.113.7", port: 40000, id: 1_763_700_000 });
 * }
 * assert.equal(core.pollEvent()?.type, "room-created");
 * assert.equal(core.pollTimeout(), now + 15_000);
 * ```
 */
export class BootstrapCore {
  /** The limits in force, defaults applied. */
  readonly limits: Readonly<ResolvedBootstrapLimits>;
  /**
   * Whether events are queued for {@linkcode BootstrapCore.pollEvent}. A
   * driver may switch it off while nobody listens, to save the allocations.
   */
  emitEvents: boolean;
  readonly #startedAt: number;
  readonly #decodeOptions: DecodeOptions;
  readonly #maxReplyRecords: number;
  readonly #limiter: SourceLimiter;

  readonly #rooms = new Map<string, Room>();
  /** Min-heap of rooms by `heapKey`: when each must be looked at again. */
  readonly #heap: Room[] = [];
  #members = 0;
  #lastId = 0;
  #now = 0;

  readonly #transmits = new Fifo<Transmit>();
  readonly #events: Fifo<BootstrapEvent>;

  #datagramsIn = 0;
  #datagramsOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #drops = new Map<string, number>();
  /** Outgoing datagrams are views of shared buffers (the socket owns what it is given). */
  readonly #slab = new Slab({ slabBytes: 16_384 });
  /** Scratch space for the recency sort of big rooms. */
  #scratch: Float64Array = new Float64Array(0);

  /**
   * Creates an empty bootstrap.
   *
   * @param options Limits and bookkeeping options.
   * @throws {RangeError} For an invalid limit.
   */
  constructor(options: BootstrapCoreOptions = {}) {
    this.limits = Object.freeze(resolveLimits(options));
    this.#startedAt = options.startedAt ?? 0;
    this.#now = this.#startedAt;
    this.emitEvents = options.emitEvents ?? true;
    this.#events = new Fifo(positive("maxQueuedEvents", options.maxQueuedEvents ?? 65_536, true));
    this.#decodeOptions = {
      maxDatagramBytes: this.limits.maxDatagramBytes,
      maxRoomBytes: this.limits.maxRoomNameBytes,
    };
    this.#maxReplyRecords = peersThatFit(this.limits.replyBudgetBytes);
    this.#limiter = new SourceLimiter({
      requestsPerSecond: this.limits.requestsPerSecond,
      requestBurst: this.limits.requestBurst,
      replyBytesPerSecond: this.limits.replyBytesPerSecond,
      replyBytesBurst: this.limits.replyBytesBurst,
      maxSources: this.limits.maxTrackedSources,
    });
  }

  /**
   * Handles one received datagram. Never throws for anything the datagram
   * contains: bad input is counted in `stats().drops` and dropped.
   *
   * @param bytes The datagram (not kept after the call).
   * @param from Its source address.
   * @param now Current time in ms since the epoch.
   */
  handleDatagram(bytes: Uint8Array, from: SourceAddress, now: number): void {
    now = this.#advance(now);
    this.#datagramsIn++;
    this.#bytesIn += bytes.length;

    let ipv4: number;
    let to: NetAddress;
    if ("hostname" in from) {
      ipv4 = sourceIPv4(from.hostname);
      if (ipv4 < 0) return this.#drop("non-ipv4-source");
      to = from;
    } else {
      ipv4 = from.ipv4;
      if (!(Number.isInteger(ipv4) && ipv4 >= 0 && ipv4 <= 0xffffffff)) {
        return this.#drop("invalid-source");
      }
      to = { hostname: formatIPv4(ipv4), port: from.port };
    }
    const port = from.port;
    if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff)) {
      return this.#drop("invalid-source");
    }
    if (bytes.length > this.limits.maxDatagramBytes) return this.#drop("datagram-too-large");

    const bucket = this.#limiter.request(ipv4, now);
    if (bucket === undefined) return this.#drop("rate-limited");
    // Types past v1's (extensions) are ignored whatever they carry: their
    // layout is not ours to judge, and decoding them would be wasted work.
    if (bytes.length > 0 && bytes[0]! > MessageType.PEER_COLLECTOR) {
      return this.#drop("unknown-type");
    }

    let message: Message;
    try {
      message = decode(bytes, this.#decodeOptions);
    } catch (error) {
      return this.#drop(error instanceof ProtocolError ? error.reason : "malformed");
    }
    switch (message.type) {
      case "JOIN_B":
        return this.#join(message.room, message.peers, ipv4, port, to, bucket, now);
      case "PEER_COLLECTOR":
        return this.#collect(message.room, message.peers, ipv4, port, to, bucket, now);
      default:
        // PING, APP_R, BOOTSTRAP_R, ROOM_FULL are peer-to-peer or bootstrap-to-peer.
        return this.#drop("unexpected-type");
    }
  }

  /**
   * Expires members and rooms whose time has come. Call it when
   * {@linkcode BootstrapCore.pollTimeout}'s deadline passes (calling it
   * earlier or more often is harmless).
   *
   * @param now Current time in ms since the epoch.
   */
  handleTimeout(now: number): void {
    this.#advance(now);
  }

  /**
   * The next datagram to send, or `undefined`.
   *
   * @returns A reply and its destination.
   */
  pollTransmit(): Transmit | undefined {
    return this.#transmits.shift();
  }

  /**
   * The next room or membership event, or `undefined`.
   *
   * @returns The oldest queued event.
   */
  pollEvent(): BootstrapEvent | undefined {
    return this.#events.shift();
  }

  /**
   * When {@linkcode BootstrapCore.handleTimeout} should next be called (ms
   * since the epoch), or `undefined` when no room exists. The deadline may be
   * early (the core then just reschedules), never late.
   *
   * @returns The deadline.
   */
  pollTimeout(): number | undefined {
    return this.#heap[0]?.heapKey;
  }

  /**
   * Totals for the control plane.
   *
   * @param now Current time (for `uptimeMs`); default: the latest time the core was given.
   * @returns A snapshot.
   */
  stats(now: number = this.#now): BootstrapStats {
    return {
      startedAt: this.#startedAt,
      uptimeMs: Math.max(0, now - this.#startedAt),
      rooms: this.#rooms.size,
      members: this.#members,
      datagramsIn: this.#datagramsIn,
      datagramsOut: this.#datagramsOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      drops: Object.fromEntries(this.#drops),
    };
  }

  /**
   * One page of rooms, in creation order.
   *
   * @param options `offset` and `limit` of the page.
   * @returns The page and the total number of rooms.
   */
  listRooms(options: { offset: number; limit: number }): { total: number; rooms: RoomSummary[] } {
    const offset = Math.max(0, Math.floor(options.offset));
    const limit = Math.max(0, Math.floor(options.limit));
    const rooms: RoomSummary[] = [];
    let index = 0;
    if (limit > 0) {
      for (const room of this.#rooms.values()) {
        if (index++ < offset) continue;
        rooms.push(summary(room));
        if (rooms.length >= limit) break;
      }
    }
    return { total: this.#rooms.size, rooms };
  }

  /**
   * One room with its members (in join order), or `undefined`.
   *
   * @param name Room name.
   * @returns The room's detail.
   */
  room(name: string): RoomDetail | undefined {
    const room = this.#rooms.get(name);
    if (room === undefined) return undefined;
    const members: MemberInfo[] = new Array(room.count);
    const slots = room.slots;
    for (let i = 0; i < room.count; i++) {
      const o = i * STRIDE;
      const key = slots[o]!;
      members[i] = { ...memberRecord(key, slots[o + 1]!), lastSeen: slots[o + 2]! };
    }
    return { ...summary(room), members };
  }

  // ---------------------------------------------------------------- requests

  #join(
    name: string,
    peers: PeerList,
    ipv4: number,
    port: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
  ): void {
    const key = endpointKey(ipv4, port);
    // Only a record naming the source itself is a claim to keep an id (v1 rule).
    const claimed = peers.length > 0 && peers.ipv4At(0) === ipv4 && peers.portAt(0) === port
      ? peers.idAt(0)
      : 0;
    const room = this.#openRoom(name, to, bucket, now);
    if (room === undefined) return;
    let index = room.indexOfKey(key);
    if (index < 0 && room.count >= this.limits.maxMembersPerRoom) {
      this.#drop("member-limit");
      return this.#sendRoomFull(to, bucket);
    }
    this.#touchRoom(room, now);
    if (index < 0) {
      index = this.#addMember(room, ipv4, port, this.#acceptableId(room, claimed, -1), now);
    } else {
      const o = index * STRIDE;
      room.slots[o + 2] = now;
      if (claimed !== room.slots[o + 1]) {
        if (this.#plausibleId(claimed) && room.indexOfId(claimed, index) < 0) {
          room.slots[o + 1] = this.#keepId(claimed);
        }
      }
    }
    this.#sendReply(room, index, to, bucket, now);
  }

  #collect(
    name: string,
    report: PeerList,
    ipv4: number,
    port: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
  ): void {
    const key = endpointKey(ipv4, port);
    const selfInReport = report.indexOf(ipv4, port);
    // Anyone can send a report naming others; only one naming its own sender is trusted.
    if (report.length > 0 && selfInReport < 0) this.#drop("untrusted-report");
    const room = this.#openRoom(name, to, bucket, now);
    if (room === undefined) return;
    this.#touchRoom(room, now);
    let index: number;
    if (selfInReport >= 0) {
      index = this.#reconcile(room, report, selfInReport, key, now);
    } else {
      // A collector is direct evidence that its sender is alive and in the room.
      index = room.indexOfKey(key);
      if (index >= 0) {
        room.slots[index * STRIDE + 2] = now;
      } else if (room.count < this.limits.maxMembersPerRoom) {
        index = this.#addMember(room, ipv4, port, this.#nextId(now), now);
      } else {
        this.#drop("member-limit");
      }
    }
    this.#sendReply(room, index, to, bucket, now);
  }

  /**
   * Makes the room's membership the report's (its first `maxMembersPerRoom`
   * distinct endpoints, the sender always included). Members it names are
   * refreshed, members it leaves out are dropped, newcomers keep the reported
   * id when it is acceptable.
   *
   * @returns The sender's member index.
   */
  #reconcile(
    room: Room,
    report: PeerList,
    selfInReport: number,
    selfKey: number,
    now: number,
  ): number {
    const max = this.limits.maxMembersPerRoom;
    // The accepted report entries: report index per distinct key, sender first.
    const keys: number[] = [selfKey];
    const positions: number[] = [selfInReport];
    const seen = new Set<number>(keys);
    for (let i = 0; i < report.length && keys.length < max; i++) {
      const ip = report.ipv4At(i);
      const port = report.portAt(i);
      if (ip === 0 || port === 0) continue; // not a reachable endpoint
      const key = endpointKey(ip, port);
      if (seen.has(key)) continue;
      seen.add(key);
      keys.push(key);
      positions.push(i);
    }

    // Drop the members the report leaves out, compacting in place (join order kept).
    // Sets, not room scans, answer "already a member?" and "id taken?" below:
    // a report of n members then costs O(n), not O(n^2).
    const slots = room.slots;
    const present = new Set<number>();
    const ids = new Set<number>();
    let write = 0;
    const count = room.count;
    for (let read = 0; read < count; read++) {
      const o = read * STRIDE;
      const key = slots[o]!;
      const id = slots[o + 1]!;
      if (seen.has(key)) {
        if (write !== read) slots.copyWithin(write * STRIDE, o, o + STRIDE);
        slots[write * STRIDE + 2] = now;
        present.add(key);
        ids.add(id);
        write++;
      } else {
        this.#memberLeft(room, key, id, "reconciled", now);
      }
    }
    this.#members -= count - write;
    room.count = write;
    if (write === 0) room.minSeen = Infinity;

    // Add the reported members the room did not have.
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (present.has(key)) continue;
      const claimed = report.idAt(positions[k]!);
      const id = this.#plausibleId(claimed) && !ids.has(claimed)
        ? this.#keepId(claimed)
        : this.#nextId(now);
      ids.add(id);
      this.#addMember(room, endpointKeyIPv4(key), endpointKeyPort(key), id, now);
    }
    return room.indexOfKey(selfKey);
  }

  // ------------------------------------------------------------ ids & rooms

  /**
   * `claimed` if member `self` (-1: a newcomer) of `room` may keep it
   * (plausible, and not held by another member of the room), else a fresh id.
   */
  #acceptableId(room: Room, claimed: number, self: number): number {
    return this.#plausibleId(claimed) && room.indexOfId(claimed, self) < 0
      ? this.#keepId(claimed)
      : this.#nextId(this.#now);
  }

  /** Whether `claimed` could have been handed out: non-zero and not from the future. */
  #plausibleId(claimed: number): boolean {
    return claimed !== 0 && claimed <= Math.max(this.#lastId, Math.floor(this.#now / 1000));
  }

  /** Records a kept id, so that fresh ids stay above every id handed out or kept. */
  #keepId(id: number): number {
    if (id > this.#lastId) this.#lastId = id;
    return id;
  }

  /** Unix seconds if free, else the next free number: unique and increasing. */
  #nextId(now: number): number {
    let id = Math.max(Math.floor(now / 1000), this.#lastId + 1, 1);
    if (id > MAX_ID) id = MAX_ID; // year 2106; ids stop increasing rather than wrap
    this.#lastId = id;
    return id;
  }

  /**
   * The room called `name`, created if it does not exist; `undefined` (after
   * answering `ROOM_FULL`) when creating it would pass `maxRooms`.
   */
  #openRoom(name: string, to: NetAddress, bucket: SourceBucket, now: number): Room | undefined {
    const room = this.#rooms.get(name);
    if (room !== undefined) return room;
    if (this.#rooms.size >= this.limits.maxRooms) {
      this.#drop("room-limit");
      this.#sendRoomFull(to, bucket);
      return undefined;
    }
    return this.#createRoom(name, now);
  }

  #createRoom(name: string, now: number): Room {
    const room = new Room(name, now);
    this.#rooms.set(name, room);
    room.heapKey = now + this.limits.roomTimeoutMs;
    this.#heapPush(room);
    this.#event({ type: "room-created", room: name, at: now });
    return room;
  }

  #touchRoom(room: Room, now: number): void {
    // The heap key stays put: it is a lower bound and is re-keyed when reached.
    room.lastActivity = now;
  }

  #addMember(room: Room, ipv4: number, port: number, id: number, now: number): number {
    const wasEmpty = room.count === 0;
    const index = room.add(endpointKey(ipv4, port), id, now, this.limits.maxMembersPerRoom);
    this.#members++;
    if (wasEmpty) {
      // The room's member deadline may now come before its heap key.
      const deadline = now + this.limits.memberTimeoutMs;
      if (deadline < room.heapKey) {
        room.heapKey = deadline;
        this.#siftUp(room.heapIndex);
      }
    }
    if (this.emitEvents) {
      this.#event({
        type: "member-joined",
        room: room.name,
        member: { ip: formatIPv4(ipv4), port, id },
        at: now,
      });
    }
    return index;
  }

  #memberLeft(
    room: Room,
    key: number,
    id: number,
    reason: "reconciled" | "expired" | "room-expired",
    now: number,
  ): void {
    if (!this.emitEvents) return;
    this.#event({
      type: "member-left",
      room: room.name,
      member: memberRecord(key, id),
      reason,
      at: now,
    });
  }

  // ----------------------------------------------------------------- expiry

  /** Moves time forward (never back) and runs every deadline that has passed. */
  #advance(now: number): number {
    if (!(now >= this.#now)) now = this.#now; // clock went back (or NaN): hold time still
    this.#now = now;
    const heap = this.#heap;
    const { roomTimeoutMs, memberTimeoutMs } = this.limits;
    while (heap.length > 0 && heap[0]!.heapKey <= now) {
      const room = heap[0]!;
      if (room.lastActivity + roomTimeoutMs <= now) {
        this.#expireRoom(room, now);
        continue;
      }
      if (room.minSeen + memberTimeoutMs <= now) this.#pruneMembers(room, now);
      const memberDeadline = room.count > 0 ? room.minSeen + memberTimeoutMs : Infinity;
      room.heapKey = Math.min(room.lastActivity + roomTimeoutMs, memberDeadline);
      this.#siftDown(0);
    }
    return now;
  }

  #pruneMembers(room: Room, now: number): void {
    const cutoff = now - this.limits.memberTimeoutMs;
    const slots = room.slots;
    const count = room.count;
    let write = 0;
    let minSeen = Infinity;
    for (let read = 0; read < count; read++) {
      const o = read * STRIDE;
      const seen = slots[o + 2]!;
      if (seen <= cutoff) {
        this.#memberLeft(room, slots[o]!, slots[o + 1]!, "expired", now);
      } else {
        if (write !== read) slots.copyWithin(write * STRIDE, o, o + STRIDE);
        if (seen < minSeen) minSeen = seen;
        write++;
      }
    }
    this.#members -= count - write;
    room.count = write;
    room.minSeen = minSeen;
  }

  #expireRoom(room: Room, now: number): void {
    this.#heapRemoveTop();
    this.#rooms.delete(room.name);
    this.#members -= room.count;
    const slots = room.slots;
    for (let i = 0; i < room.count; i++) {
      this.#memberLeft(room, slots[i * STRIDE]!, slots[i * STRIDE + 1]!, "room-expired", now);
    }
    room.count = 0;
    this.#event({ type: "room-expired", room: room.name, at: now });
  }

  // ---------------------------------------------------------------- replies

  #sendRoomFull(to: NetAddress, bucket: SourceBucket): void {
    if (!takeBytes(bucket, ROOM_FULL_BYTES)) return this.#drop("rate-limited-reply");
    const out = this.#slab.take(ROOM_FULL_BYTES);
    out[0] = MessageType.ROOM_FULL;
    this.#transmit(out, to);
  }

  /**
   * Sends `BOOTSTRAP_R` for `room` to `to` (member `selfIndex`, or -1 when the
   * recipient is not a member). Over the budget it lists the recipient, the
   * lowest id and the most recently active others; when the recipient's
   * reply-byte bucket cannot pay for that, it gets just the recipient and the
   * lowest id, and when it cannot pay for that either, nothing.
   */
  #sendReply(room: Room, selfIndex: number, to: NetAddress, bucket: SourceBucket, now: number) {
    let records = Math.min(room.count, this.#maxReplyRecords);
    if (records < room.count) this.#drop("reply-budget");
    if (!takeBytes(bucket, replySize(records))) {
      records = Math.min(records, selfIndex >= 0 ? 2 : 1);
      if (!takeBytes(bucket, replySize(records))) return this.#drop("rate-limited-reply");
      this.#drop("reply-rate-trimmed");
    }
    const out = this.#slab.take(replySize(records));
    out[0] = MessageType.BOOTSTRAP_R;
    out[1] = records >>> 8;
    out[2] = records;
    const slots = room.slots;
    let offset = HEADER_BYTES;
    if (records === room.count) {
      for (let i = 0; i < records; i++) offset = writeMember(out, offset, slots, i);
    } else {
      let left = records;
      if (selfIndex >= 0 && left > 0) {
        offset = writeMember(out, offset, slots, selfIndex);
        left--;
      }
      const lowest = room.lowestIndex();
      if (lowest !== selfIndex && left > 0) {
        offset = writeMember(out, offset, slots, lowest);
        left--;
      }
      if (left > 0) {
        // Most recently active others: sort (age, index) packed in one float, natively.
        if (this.#scratch.length < room.count) this.#scratch = new Float64Array(room.count);
        const scratch = this.#scratch;
        let n = 0;
        for (let i = 0; i < room.count; i++) {
          if (i === selfIndex || i === lowest) continue;
          const age = Math.min(MAX_AGE_MS, Math.max(0, now - slots[i * STRIDE + 2]!));
          scratch[n++] = age * 65536 + i;
        }
        const sorted = scratch.subarray(0, n).sort();
        for (let j = 0; j < left && j < n; j++) {
          offset = writeMember(out, offset, slots, sorted[j]! % 65536);
        }
      }
    }
    if (selfIndex >= 0) writeMember(out, offset, slots, selfIndex);
    // else the payload stays 0.0.0.0:0 id 0: "no record"
    this.#transmit(out, to);
  }

  #transmit(data: Uint8Array, to: NetAddress): void {
    if (this.#transmits.size >= MAX_QUEUED_TRANSMITS) {
      // Nobody is sending them; a driver drains after every datagram so this never happens there.
      return this.#drop("transmit-overflow");
    }
    this.#datagramsOut++;
    this.#bytesOut += data.length;
    this.#transmits.push({ data, to });
  }

  #event(event: BootstrapEvent): void {
    if (!this.emitEvents) return;
    // Past the bound the oldest event goes: nobody is reading them.
    if (!this.#events.push(event)) this.#drop("events-overflow");
  }

  #drop(reason: string): void {
    this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + 1);
  }

  // ------------------------------------------------------------------- heap

  #heapPush(room: Room): void {
    room.heapIndex = this.#heap.length;
    this.#heap.push(room);
    this.#siftUp(room.heapIndex);
  }

  #heapRemoveTop(): void {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    top.heapIndex = -1;
    if (last !== top) {
      heap[0] = last;
      last.heapIndex = 0;
      this.#siftDown(0);
    }
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const room = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.heapKey <= room.heapKey) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = room;
    room.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const room = heap[index]!;
    while (true) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right]!.heapKey < heap[left]!.heapKey ? right : left;
      if (heap[child]!.heapKey >= room.heapKey) break;
      heap[index] = heap[child]!;
      heap[index]!.heapIndex = index;
      index = child;
    }
    heap[index] = room;
    room.heapIndex = index;
  }
}

/** Writes member `index`'s record at `offset`; returns the offset after it. */
function writeMember(out: Uint8Array, offset: number, slots: Float64Array, index: number): number {
  const o = index * STRIDE;
  const key = slots[o]!;
  writePeerFields(out, offset, endpointKeyIPv4(key), endpointKeyPort(key), slots[o + 1]!);
  return offset + PEER_RECORD_BYTES;
}

/** A member as the control plane shows it, from its endpoint key and id. */
function memberRecord(key: number, id: number): { ip: string; port: number; id: number } {
  return { ip: formatIPv4(endpointKeyIPv4(key)), port: endpointKeyPort(key), id };
}

function replySize(records: number): number {
  return HEADER_BYTES + records * PEER_RECORD_BYTES + PEER_RECORD_BYTES;
}

function summary(room: Room): RoomSummary {
  return {
    name: room.name,
    memberCount: room.count,
    createdAt: room.createdAt,
    lastActivity: room.lastActivity,
  };
}

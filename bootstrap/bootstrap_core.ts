import {
  decode,
  type DecodeOptions,
  formatIPv4,
  isIPv4,
  type Message,
  MessageType,
  normaliseHostname,
  parseIPv4,
  type PeerList,
  peersThatFit,
  ProtocolError,
} from "@olaf/protocol";
import { endpointKey, endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";
import { Fifo, type NetAddress, type SansIoMachine, type Transmit } from "@olaf/protocol/sans-io";
import { isDialectDatagram } from "@olaf/protocol/dialect";
import { BootstrapDialect } from "./_dialect.ts";
import { Replies } from "./_reply.ts";
import type { Room } from "./_room.ts";
import { type ExpiryHooks, Rooms } from "./_rooms.ts";
import { type SourceBucket, SourceLimiter, takeBytes } from "./_rate_limiter.ts";
import {
  type BootstrapLimits,
  positive,
  type ResolvedBootstrapLimits,
  resolveLimits,
} from "./limits.ts";
import { bootstrapReplyBytes, ROOM_FULL_BYTES } from "@olaf/protocol";
import type {
  BootstrapEvent,
  BootstrapStats,
  DialectStats,
  DropReason,
  MemberInfo,
  MemberLeftReason,
  RoomDetail,
  RoomSummary,
} from "./types.ts";

/** Options of a {@linkcode BootstrapCore}. */
export interface BootstrapCoreOptions extends BootstrapLimits {
  /** Start time in ms since the epoch (for `stats().startedAt`). Default 0. */
  startedAt?: number;
  /** Queue events for {@linkcode BootstrapCore.pollEvent}. Default `true`. */
  emitEvents?: boolean;
  /** Events kept when nobody polls them (oldest dropped past it). Default 65,536. */
  maxQueuedEvents?: number;
  /** Key of the Olaf dialect's address tokens (tests); default random per core. */
  tokenSecret?: Uint8Array;
}

/** Where a datagram came from: a socket address, or an IPv4 number and port. */
export type SourceAddress = NetAddress | { readonly ipv4: number; readonly port: number };

/** Replies kept when nobody polls them (each datagram makes at most one). */
const MAX_QUEUED_TRANSMITS = 4096;
const MAX_ID = 0xffffffff;
const MAX_PORT = 0xffff;

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
export class BootstrapCore implements SansIoMachine<BootstrapEvent> {
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
  readonly #rooms: Rooms;
  readonly #replies = new Replies();
  /** The Olaf dialect (codes 24..28), `_dialect.ts`. */
  readonly #dialect: BootstrapDialect;
  #lastId = 0;
  #now = 0;

  readonly #transmits = new Fifo<Transmit>();
  readonly #events: Fifo<BootstrapEvent>;

  #datagramsIn = 0;
  #datagramsOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #drops = new Map<DropReason, number>();

  /** Expiry's report back: events for every member and room it removes. */
  readonly #expiry: ExpiryHooks = {
    memberLeft: (room, index, reason, now) =>
      this.#memberLeft(room, room.keyAt(index), room.idAt(index), reason, now),
    roomExpired: (room, now) => this.#event({ type: "room-expired", room: room.name, at: now }),
  };

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
    this.#rooms = new Rooms(this.limits);
    this.#dialect = new BootstrapDialect({
      replyBudgetBytes: this.limits.replyBudgetBytes,
      maxMembersPerRoom: this.limits.maxMembersPerRoom,
      decodeOptions: this.#decodeOptions,
      room: (name) => this.#rooms.get(name),
      openRoom: (name, to, bucket, now) => this.#openRoom(name, to, bucket, now),
      touchRoom: (room, now) => this.#touchRoom(room, now),
      addMember: (room, ip, port, now) => this.#addMember(room, ip, port, this.#nextId(now), now),
      reconcile: (room, report, self, key, now) => this.#reconcile(room, report, self, key, now),
      sendRoomFull: (to, bucket) => this.#sendRoomFull(to, bucket),
      transmit: (data, to) => this.#transmit(data, to),
      drop: (reason) => this.#drop(reason),
    }, options.tokenSecret ? { tokenSecret: options.tokenSecret } : {});
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
      if (!(Number.isInteger(ipv4) && ipv4 >= 0 && ipv4 <= MAX_ID)) {
        return this.#drop("invalid-source");
      }
      to = { hostname: formatIPv4(ipv4), port: from.port };
    }
    const port = from.port;
    if (!(Number.isInteger(port) && port >= 0 && port <= MAX_PORT)) {
      return this.#drop("invalid-source");
    }
    if (bytes.length > this.limits.maxDatagramBytes) return this.#drop("datagram-too-large");

    const bucket = this.#limiter.request(ipv4, now);
    if (bucket === undefined) return this.#drop("rate-limited");
    if (isDialectDatagram(bytes)) return this.#dialect.handle(bytes, ipv4, port, to, bucket, now);
    // Other types past v1's (extensions) are ignored whatever they carry: their
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
   * The next datagram to send, or `undefined`. Replies are built when their
   * request is handled, so `now` changes nothing (it is there for the
   * {@linkcode SansIoMachine} contract).
   *
   * @param _now Current time in ms since the epoch (optional).
   * @returns A reply and its destination.
   */
  pollTransmit(_now?: number): Transmit | undefined {
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
    return this.#rooms.nextDeadline();
  }

  /**
   * Totals for the control plane.
   *
   * @param now Current time (for `uptimeMs`); default: the latest time the core was given.
   * @returns A snapshot: a fresh object, later traffic does not change it.
   */
  stats(now: number = this.#now): BootstrapStats {
    return {
      startedAt: this.#startedAt,
      uptimeMs: Math.max(0, now - this.#startedAt),
      rooms: this.#rooms.size,
      members: this.#rooms.members,
      datagramsIn: this.#datagramsIn,
      datagramsOut: this.#datagramsOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      drops: Object.fromEntries(this.#drops),
    };
  }

  /**
   * Counters of the Olaf dialect (codes 24..28): joins, tokens, welcomes,
   * introductions, reports; its drops are in `stats().drops`.
   *
   * @returns A fresh snapshot.
   */
  dialectStats(): DialectStats {
    return this.#dialect.stats();
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
      for (const room of this.#rooms.byName.values()) {
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
    for (let i = 0; i < room.count; i++) {
      members[i] = { ...memberRecord(room.keyAt(i), room.idAt(i)), lastSeen: room.seenAt(i) };
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
      room.touch(index, now);
      if (claimed !== room.idAt(index)) {
        if (this.#plausibleId(claimed) && room.indexOfId(claimed, index) < 0) {
          room.setId(index, this.#keepId(claimed));
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
        room.touch(index, now);
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

    // Drop the members the report leaves out (join order kept). Sets, not
    // room scans, answer "already a member?" and "id taken?" below: a report
    // of n members then costs O(n), not O(n^2).
    const present = new Set<number>();
    const ids = new Set<number>();
    this.#rooms.removeMembers(room, (i) => {
      const key = room.keyAt(i);
      if (seen.has(key)) {
        present.add(key);
        ids.add(room.idAt(i));
        return false;
      }
      this.#memberLeft(room, key, room.idAt(i), "reconciled", now);
      return true;
    });
    // Every member the report names was just heard of.
    room.touchAll(now);

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
    const created = this.#rooms.create(name, now);
    this.#event({ type: "room-created", room: name, at: now });
    return created;
  }

  #touchRoom(room: Room, now: number): void {
    // The heap key stays put: it is a lower bound and is re-keyed when reached.
    room.lastActivity = now;
  }

  #addMember(room: Room, ipv4: number, port: number, id: number, now: number): number {
    const index = this.#rooms.addMember(room, endpointKey(ipv4, port), id, now);
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

  #memberLeft(room: Room, key: number, id: number, reason: MemberLeftReason, now: number): void {
    this.#dialect.memberLeft(room, key);
    if (!this.emitEvents) return;
    this.#event({
      type: "member-left",
      room: room.name,
      member: memberRecord(key, id),
      reason,
      at: now,
    });
  }

  /** Moves time forward (never back) and runs every deadline that has passed. */
  #advance(now: number): number {
    if (!(now >= this.#now)) now = this.#now; // clock went back (or NaN): hold time still
    this.#now = now;
    this.#rooms.expire(now, this.#expiry);
    return now;
  }

  // ---------------------------------------------------------------- replies

  #sendRoomFull(to: NetAddress, bucket: SourceBucket): void {
    if (!takeBytes(bucket, ROOM_FULL_BYTES)) return this.#drop("rate-limited-reply");
    this.#transmit(this.#replies.roomFull(), to);
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
    if (!takeBytes(bucket, bootstrapReplyBytes(records))) {
      records = Math.min(records, selfIndex >= 0 ? 2 : 1);
      if (!takeBytes(bucket, bootstrapReplyBytes(records))) {
        return this.#drop("rate-limited-reply");
      }
      this.#drop("reply-rate-trimmed");
    }
    this.#transmit(this.#replies.bootstrapReply(room, selfIndex, records, now), to);
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

  #drop(reason: DropReason): void {
    this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + 1);
  }
}

/** A member as the control plane shows it, from its endpoint key and id. */
function memberRecord(key: number, id: number): { ip: string; port: number; id: number } {
  return { ip: formatIPv4(endpointKeyIPv4(key)), port: endpointKeyPort(key), id };
}

function summary(room: Room): RoomSummary {
  return {
    name: room.name,
    memberCount: room.count,
    createdAt: room.createdAt,
    lastActivity: room.lastActivity,
  };
}

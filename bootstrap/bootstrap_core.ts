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
import { AddressValidation } from "./_validation.ts";
import { maxRecordsWithin, ReplyBudget, RoomClaims } from "./_hostile.ts"; // issue 12
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

/** Endpoint key of a source the core accepted (IPv4, so `sourceIPv4` is not -1). */
function keyOf(to: NetAddress): number {
  return endpointKey(Math.max(0, sourceIPv4(to.hostname)), to.port);
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
 * - Issue 12 (README "Hostile input"): replies to an address that has not
 *   echoed its id stay within `amplificationFactor` x the request and a
 *   global byte budget; only the room's validated collector's report removes
 *   members (not those heard from within `reportGraceMs`); no claimed id may
 *   win the election; rooms per source are bounded, and at `maxRooms`
 *   creator-only rooms make way.
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
  // --- issue 12: hostile v1 input (README "Hostile input") ---
  /** Addresses that showed they receive where they send from (shared with the dialect). */
  readonly #validation: AddressValidation;
  /** Reply bytes to all unvalidated addresses together. */
  readonly #unvalidated: ReplyBudget;
  readonly #claims: RoomClaims;
  /** Size of the datagram being handled (replies to unvalidated sources stay within a multiple). */
  #requestBytes = 0;
  // --- end issue 12 ---
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
    roomExpired: (room, now) => {
      this.#claims.removed(room); // issue 12
      this.#event({ type: "room-expired", room: room.name, at: now });
    },
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
    this.#validation = new AddressValidation({
      ttlMs: this.limits.validationTtlMs,
      capacity: this.limits.maxValidatedAddresses,
    });
    this.#unvalidated = new ReplyBudget(
      this.limits.unvalidatedBytesPerSecond,
      this.limits.unvalidatedBytesBurst,
      this.#now,
    );
    this.#claims = new RoomClaims(this.limits.roomsPerSource);
    this.#dialect = new BootstrapDialect({
      replyBudgetBytes: this.limits.replyBudgetBytes,
      maxMembersPerRoom: this.limits.maxMembersPerRoom,
      decodeOptions: this.#decodeOptions,
      room: (name) => this.#rooms.get(name),
      openRoom: (name, to, bucket, key, now) => this.#openRoom(name, to, bucket, key, now),
      touchRoom: (room, now) => this.#touchRoom(room, now),
      addMember: (room, ip, port, now) => this.#addMember(room, ip, port, this.#nextId(now), now),
      // The dialect decides whose REPORT_O counts (validated Olaf members): no v1 grace there.
      reconcile: (room, report, self, key, now) => this.#reconcile(room, report, self, key, now, 0),
      sendRoomFull: (to, bucket) =>
        this.#sendRoomFull(to, bucket, this.#validation.isValidated(keyOf(to), this.#now)),
      // TOKENs go to unvalidated addresses: they share the global budget of such replies.
      mayReplyUnvalidated: (bytes) => {
        if (this.#unvalidated.take(bytes, this.#now)) return true;
        this.#drop("unvalidated-budget");
        return false;
      },
      transmit: (data, to) => this.#transmit(data, to),
      drop: (reason) => this.#drop(reason),
    }, {
      validation: this.#validation, // issue 12: one table for the token join and v1's echo
      ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
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

    this.#requestBytes = bytes.length;
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
      // issue 12: the hostile-input guards' state, as /metrics gauges
      gauges: {
        "unvalidated-budget-bytes": this.#unvalidated.available(this.#now),
        "validated-addresses": this.#validation.size,
        "solo-rooms": this.#claims.soloRooms,
      },
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
    const room = this.#openRoom(name, to, bucket, key, now);
    if (room === undefined) return;
    let index = room.indexOfKey(key);
    // Issue 12: echoing the id this bootstrap holds for the address proves (weakly) it receives there.
    const validated = this.#validate(
      key,
      index >= 0 && claimed !== 0 && claimed === room.idAt(index),
      now,
    );
    if (index < 0 && room.count >= this.limits.maxMembersPerRoom) {
      this.#drop("member-limit");
      return this.#sendRoomFull(to, bucket, validated);
    }
    this.#touchRoom(room, now);
    if (index < 0) {
      index = this.#addMember(room, ipv4, port, this.#acceptableId(room, claimed, -1), now);
    } else {
      room.touch(index, now);
      if (claimed !== room.idAt(index)) {
        if (
          this.#plausibleId(claimed) && room.indexOfId(claimed, index) < 0 &&
          !this.#wouldWin(room, claimed, index)
        ) {
          room.setId(index, this.#keepId(claimed));
        }
      }
    }
    this.#sendReply(room, index, to, bucket, now, validated);
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
    const room = this.#openRoom(name, to, bucket, key, now);
    if (room === undefined) return;
    this.#touchRoom(room, now);
    let index = room.indexOfKey(key);
    // Issue 12: a report naming its sender with the id held for it is an echo (see #validate).
    const echo = index >= 0 && selfInReport >= 0 &&
      report.idAt(selfInReport) === room.idAt(index);
    const validated = this.#validate(key, echo, now);
    // Issue 12: a report counts only from the room's collector (its lowest id, validated), or
    // when it recreates a room that has no members (restart recovery).
    const counts = selfInReport >= 0 &&
      (room.count === 0 || (index >= 0 && validated && this.#isCollector(room, index)));
    if (report.length > 0 && !counts) this.#drop("untrusted-report");
    if (counts) {
      index = this.#reconcile(room, report, selfInReport, key, now);
      room.touch(index, now); // heard from directly
    } else {
      // A collector is direct evidence that its sender is alive and in the room.
      if (index >= 0) {
        room.touch(index, now);
      } else if (room.count < this.limits.maxMembersPerRoom) {
        index = this.#addMember(room, ipv4, port, this.#nextId(now), now);
      } else {
        this.#drop("member-limit");
      }
    }
    this.#sendReply(room, index, to, bucket, now, validated);
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
    graceMs: number = this.limits.reportGraceMs,
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
    // Issue 12: a report recreating a memberless room keeps its ids; otherwise no reported
    // newcomer gets an id that would make it the collector.
    let lowest = room.count === 0 ? -Infinity : Infinity;
    const graceFrom = now - graceMs;
    this.#rooms.removeMembers(room, (i) => {
      const key = room.keyAt(i);
      // Issue 12: a member heard from directly within the grace is kept whatever the report says.
      const kept = seen.has(key) || room.directAt(i) > graceFrom;
      if (kept) {
        if (!seen.has(key)) this.#drop("report-kept-direct");
        present.add(key);
        ids.add(room.idAt(i));
        if (room.idAt(i) < lowest) lowest = room.idAt(i);
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
      const wins = claimed < lowest;
      if (wins && this.#plausibleId(claimed)) this.#drop("claimed-id-refused");
      const id = this.#plausibleId(claimed) && !ids.has(claimed) && !wins
        ? this.#keepId(claimed)
        : this.#nextId(now);
      ids.add(id);
      if (lowest !== -Infinity && id < lowest) lowest = id;
      // Named by a report, not heard from: no direct time (issue 12).
      this.#addMember(
        room,
        endpointKeyIPv4(key),
        endpointKeyPort(key),
        id,
        now,
        key === selfKey ? now : -Infinity,
      );
    }
    return room.indexOfKey(selfKey);
  }

  // ------------------------------------------------------------ ids & rooms

  /**
   * `claimed` if member `self` (-1: a newcomer) of `room` may keep it
   * (plausible, and not held by another member of the room), else a fresh id.
   */
  #acceptableId(room: Room, claimed: number, self: number): number {
    return this.#plausibleId(claimed) && room.indexOfId(claimed, self) < 0 &&
        !this.#wouldWin(room, claimed, self)
      ? this.#keepId(claimed)
      : this.#nextId(this.#now);
  }

  // ------------------------------------------------- issue 12: validation & election

  /**
   * Whether `key` counts as validated for this request: `echo` (it sent back
   * the id this bootstrap holds for it) validates it, and a validated address
   * stays so while it keeps sending (each request renews it).
   */
  #validate(key: number, echo: boolean, now: number): boolean {
    if (echo || this.#validation.isValidated(key, now)) {
      this.#validation.validate(key, now);
      return true;
    }
    return false;
  }

  /**
   * Whether `claimed` (a plausible id not issued to member `self`; -1 for a
   * newcomer) is below every other member's id: granting it would make its
   * claimer the collector. In a room with no other member nothing is won.
   */
  #wouldWin(room: Room, claimed: number, self: number): boolean {
    if (claimed === 0) return false;
    const lowest = room.lowestIndex();
    let lowestOther = lowest >= 0 && lowest !== self ? room.idAt(lowest) : Infinity;
    if (lowest === self) {
      for (let i = 0; i < room.count; i++) {
        if (i !== self && room.idAt(i) < lowestOther) lowestOther = room.idAt(i);
      }
    }
    const wins = claimed < lowestOther && lowestOther !== Infinity;
    if (wins) this.#drop("claimed-id-refused");
    return wins;
  }

  /**
   * Whether member `index` is the room's collector: the lowest id. (The
   * caller checks it is validated: an unproven lowest id makes no report
   * count, rather than handing the role to the next validated member.)
   */
  #isCollector(room: Room, index: number): boolean {
    return room.lowestIndex() === index;
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
  #openRoom(
    name: string,
    to: NetAddress,
    bucket: SourceBucket,
    key: number,
    now: number,
  ): Room | undefined {
    const room = this.#rooms.get(name);
    if (room !== undefined) {
      this.#claims.requested(room, key); // issue 12
      return room;
    }
    const validated = this.#validation.isValidated(key, now);
    // Issue 12: a per-source quota, then creator-only rooms make way before anyone is refused.
    if (!this.#claims.mayCreate(endpointKeyIPv4(key))) {
      this.#drop("room-quota");
      this.#sendRoomFull(to, bucket, validated);
      return undefined;
    }
    if (this.#rooms.size >= this.limits.maxRooms) {
      const solo = this.#claims.oldestSolo(now - this.limits.soloRoomEvictMs);
      if (solo === undefined) {
        this.#drop("room-limit");
        this.#sendRoomFull(to, bucket, validated);
        return undefined;
      }
      this.#drop("room-evicted");
      this.#rooms.evict(solo, now, this.#expiry);
    }
    const created = this.#rooms.create(name, now);
    this.#claims.created(created, key);
    this.#event({ type: "room-created", room: name, at: now });
    return created;
  }

  #touchRoom(room: Room, now: number): void {
    // The heap key stays put: it is a lower bound and is re-keyed when reached.
    room.lastActivity = now;
  }

  #addMember(
    room: Room,
    ipv4: number,
    port: number,
    id: number,
    now: number,
    direct = now,
  ): number {
    const index = this.#rooms.addMember(room, endpointKey(ipv4, port), id, now, direct);
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

  #sendRoomFull(to: NetAddress, bucket: SourceBucket, validated: boolean): void {
    if (!takeBytes(bucket, ROOM_FULL_BYTES)) return this.#drop("rate-limited-reply");
    if (!validated && !this.#unvalidated.take(ROOM_FULL_BYTES, this.#now)) {
      return this.#drop("unvalidated-budget");
    }
    this.#transmit(this.#replies.roomFull(), to);
  }

  /**
   * Sends `BOOTSTRAP_R` for `room` to `to` (member `selfIndex`, or -1 when the
   * recipient is not a member). Over the budget it lists the recipient, the
   * lowest id and the most recently active others; when the recipient's
   * reply-byte bucket cannot pay for that, it gets just the recipient and the
   * lowest id, and when it cannot pay for that either, nothing.
   */
  #sendReply(
    room: Room,
    selfIndex: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
    validated: boolean,
  ) {
    let records = Math.min(room.count, this.#maxReplyRecords);
    if (records < room.count) this.#drop("reply-budget");
    // Issue 12: toward an unvalidated address, at most amplificationFactor x the request. Such a
    // reply lists others only (the recipient's record is the payload anyway): the lowest id, then
    // the most recently active.
    let othersOnly = false;
    if (!validated) {
      const max = maxRecordsWithin(this.#requestBytes, this.limits.amplificationFactor);
      if (max < 0) return this.#drop("amplification-trimmed");
      if (records > max) {
        this.#drop("amplification-trimmed");
        othersOnly = true;
        records = max;
      }
    }
    if (!takeBytes(bucket, bootstrapReplyBytes(records))) {
      records = Math.min(records, othersOnly ? 1 : selfIndex >= 0 ? 2 : 1);
      if (!takeBytes(bucket, bootstrapReplyBytes(records))) {
        return this.#drop("rate-limited-reply");
      }
      this.#drop("reply-rate-trimmed");
    }
    if (!validated && !this.#unvalidated.take(bootstrapReplyBytes(records), now)) {
      return this.#drop("unvalidated-budget");
    }
    this.#transmit(
      this.#replies.bootstrapReply(room, selfIndex, records, now, othersOnly),
      to,
    );
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

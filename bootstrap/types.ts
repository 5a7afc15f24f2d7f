/**
 * The types a bootstrap server shows the world: its totals, rooms, members
 * and events. They live here, with their owner; the core and the server use
 * only these. `@olaf/control` serves them over HTTP and declares the same
 * shapes structurally (a package cycle would not publish: the CLI's `--http`
 * already makes this package depend on control); `types_test.ts` keeps the
 * two identical.
 *
 * @module
 */
import type { ProtocolErrorReason } from "@olaf/protocol";

/**
 * Why the bootstrap dropped a datagram, trimmed a reply or lost an event:
 * a codec reason ({@linkcode ProtocolErrorReason}) for a malformed datagram,
 * else one of these.
 *
 * - `non-ipv4-source`, `invalid-source`: the source is not an IPv4 endpoint.
 * - `rate-limited`: over the source's request rate.
 * - `unknown-type`: an extension type (past v1's), ignored unread.
 * - `unexpected-type`: a v1 type a bootstrap does not take (`PING`, `APP_R`, ...).
 * - `malformed`: decoding failed for a reason that is not the codec's (never expected).
 * - `untrusted-report`: a `PEER_COLLECTOR` report that does not name its sender,
 *   or (issue 12) that is not from the room's collector (the datagram is still
 *   answered, the report is ignored).
 * - `member-limit`, `room-limit`: answered `ROOM_FULL` (or, for a report, not added).
 * - `reply-budget`: a reply listed fewer members than the room has (budget).
 * - `reply-rate-trimmed`, `rate-limited-reply`: the source's reply-byte bucket
 *   could pay only for a short reply, or for none.
 * - `transmit-overflow`, `events-overflow`: nobody polled the core's queues.
 * - Issue 12 (hostile input, see the README): `amplification-trimmed` (a reply
 *   to an unvalidated address cut to 3x its request), `unvalidated-budget` (the
 *   global budget for unvalidated addresses was spent: no reply),
 *   `room-quota` (the source created its share of rooms: `ROOM_FULL`),
 *   `room-evicted` (a room only its creator used made way for a new one),
 *   `claimed-id-refused` (a claimed id would have won the election: a fresh one
 *   was given), `report-kept-direct` (a report left out a member heard from
 *   directly within `reportGraceMs`: kept).
 *
 * @example
 * ```ts
 * import type { DropReason } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * const reasons: DropReason[] = ["rate-limited", "truncated-header"];
 * assert.equal(reasons.length, 2);
 * ```
 */
export type DropReason =
  | ProtocolErrorReason
  | DialectDropReason
  | "non-ipv4-source"
  | "invalid-source"
  | "rate-limited"
  | "unknown-type"
  | "unexpected-type"
  | "malformed"
  | "untrusted-report"
  | "member-limit"
  | "room-limit"
  | "reply-budget"
  | "reply-rate-trimmed"
  | "rate-limited-reply"
  | "transmit-overflow"
  | "events-overflow"
  | "amplification-trimmed"
  | "unvalidated-budget"
  | "room-quota"
  | "room-evicted"
  | "claimed-id-refused"
  | "report-kept-direct";

/**
 * Drops and refusals of the Olaf bootstrap dialect (codes 24..28,
 * `bootstrap/_dialect.ts`):
 *
 * - `dialect-token-missing`, `dialect-token-invalid`: a `JOIN_O` without a
 *   token, or with a stale or foreign one; answered with a `TOKEN` only.
 * - `dialect-unvalidated`: a `REPORT_O` from an address that has not proved
 *   itself (no reply at all).
 * - `dialect-not-member`: a `REPORT_O` from a validated address that is not an
 *   Olaf member of the room; it changes nothing.
 *
 * @example
 * ```ts
 * import type { DialectDropReason } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * const reason: DialectDropReason = "dialect-token-missing";
 * assert.ok(reason.startsWith("dialect-"));
 * ```
 */
export type DialectDropReason =
  | "dialect-token-missing"
  | "dialect-token-invalid"
  | "dialect-unvalidated"
  | "dialect-not-member";

/**
 * Counters of the Olaf bootstrap dialect, from `BootstrapCore.dialectStats()`.
 *
 * @example
 * ```ts
 * import { BootstrapCore } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * assert.equal(new BootstrapCore().dialectStats().joins, 0);
 * ```
 */
export interface DialectStats {
  /** `JOIN_O`s handled (with or without a token). */
  joins: number;
  /** `TOKEN`s sent (to addresses that had not proved themselves). */
  tokensSent: number;
  /** `WELCOME`s sent (to validated addresses only). */
  welcomesSent: number;
  /** `INTRODUCE`s sent to existing members. */
  introductionsSent: number;
  /** `REPORT_O` member reports applied. */
  reportsAccepted: number;
  /** Members that joined with `JOIN_O`, over all rooms. */
  olafMembers: number;
  /** Addresses currently in the validation table. */
  validatedAddresses: number;
}

/**
 * Why a member left its room: a member report left it out (`reconciled`),
 * it was not heard from for `memberTimeoutMs` (`expired`), or its room
 * expired (`room-expired`).
 *
 * @example
 * ```ts
 * import type { MemberLeftReason } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * const reason: MemberLeftReason = "expired";
 * assert.equal(reason, "expired");
 * ```
 */
export type MemberLeftReason = "reconciled" | "expired" | "room-expired";

/**
 * What the control plane may ask a bootstrap server. Every method must be
 * cheap and synchronous: the HTTP handlers call them on each request.
 *
 * @example A minimal view of an idle server
 * ```ts
 * import type { BootstrapView } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const startedAt = Date.now();
 * const idle: BootstrapView = {
 *   stats: () => ({
 *     startedAt,
 *     uptimeMs: Date.now() - startedAt,
 *     rooms: 0,
 *     members: 0,
 *     datagramsIn: 0,
 *     datagramsOut: 0,
 *     bytesIn: 0,
 *     bytesOut: 0,
 *     drops: {},
 *   }),
 *   listRooms: () => ({ total: 0, rooms: [] }),
 *   room: () => undefined,
 *   subscribe: () => () => {},
 * };
 * assert.equal(idle.stats().rooms, 0);
 * ```
 */
export interface BootstrapView {
  /** Current totals. */
  stats(): BootstrapStats;
  /** One page of rooms (in the server's own stable order) and how many rooms there are. */
  listRooms(options: { offset: number; limit: number }): { total: number; rooms: RoomSummary[] };
  /** One room with its members, or `undefined` when no room has that name. */
  room(name: string): RoomDetail | undefined;
  /**
   * Calls `listener` for every room and membership change from now on.
   * The listener must not throw and must return quickly.
   *
   * @returns A function that stops the calls.
   */
  subscribe(listener: (event: BootstrapEvent) => void): () => void;
}

/**
 * Totals of a bootstrap server, as served by `GET /stats`.
 *
 * @example
 * ```ts
 * import type { BootstrapStats } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const stats: BootstrapStats = {
 *   startedAt: 1_763_700_000_000,
 *   uptimeMs: 5_000,
 *   rooms: 1,
 *   members: 2,
 *   datagramsIn: 10,
 *   datagramsOut: 9,
 *   bytesIn: 300,
 *   bytesOut: 280,
 *   drops: { "truncated-header": 1 },
 * };
 * assert.equal(stats.drops["truncated-header"], 1);
 * ```
 */
export interface BootstrapStats {
  /** When the server started, in milliseconds since the epoch. */
  startedAt: number;
  /** How long the server has been running, in milliseconds. */
  uptimeMs: number;
  /** Rooms that currently exist. */
  rooms: number;
  /** Members across all rooms. */
  members: number;
  /** Datagrams received. */
  datagramsIn: number;
  /** Datagrams sent. */
  datagramsOut: number;
  /** Bytes received (UDP payload bytes). */
  bytesIn: number;
  /** Bytes sent (UDP payload bytes). */
  bytesOut: number;
  /**
   * Datagrams dropped (or replies trimmed), by reason; only reasons that
   * happened appear. `@olaf/bootstrap` counts by {@linkcode DropReason}; the
   * control plane serves whatever reasons a view reports.
   */
  drops: Record<string, number>;
  /**
   * Issue 12: the state of the hostile-input guards by name
   * (`unvalidated-budget-bytes`, `validated-addresses`, `solo-rooms`), shown in
   * `/metrics` as `olaf_bootstrap_gauge{name}`. Optional.
   */
  gauges?: Record<string, number>;
}

/**
 * One room in a `GET /rooms` page.
 *
 * @example
 * ```ts
 * import type { RoomSummary } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const room: RoomSummary = { name: "lobby", memberCount: 2, createdAt: 1, lastActivity: 2 };
 * assert.equal(room.memberCount, 2);
 * ```
 */
export interface RoomSummary {
  /** The room name, as peers sent it. */
  name: string;
  /** How many members the room has now. */
  memberCount: number;
  /** When the room was created, in milliseconds since the epoch. */
  createdAt: number;
  /** When a member last joined or refreshed, in milliseconds since the epoch. */
  lastActivity: number;
}

/**
 * One member of a room, as seen by the bootstrap (its public address).
 *
 * @example
 * ```ts
 * import type { MemberInfo } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const member: MemberInfo = { ip: "203.0.113.7", port: 40000, id: 42, lastSeen: 1 };
 * assert.equal(member.port, 40000);
 * ```
 */
export interface MemberInfo {
  /** Public IPv4 address the member's datagrams came from. */
  ip: string;
  /** Public UDP port the member's datagrams came from. */
  port: number;
  /** The member's peer id. */
  id: number;
  /** When the member was last heard from, in milliseconds since the epoch. */
  lastSeen: number;
}

/**
 * A room with its members, as served by `GET /rooms/:name`.
 *
 * @example
 * ```ts
 * import type { RoomDetail } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const room: RoomDetail = {
 *   name: "lobby",
 *   memberCount: 1,
 *   createdAt: 1,
 *   lastActivity: 1,
 *   members: [{ ip: "203.0.113.7", port: 40000, id: 42, lastSeen: 1 }],
 * };
 * assert.equal(room.members.length, room.memberCount);
 * ```
 */
export interface RoomDetail extends RoomSummary {
  /** Every current member. */
  members: MemberInfo[];
}

/**
 * A room or membership change, streamed by `GET /events` (the SSE event name
 * is the `type`, the data is this object as JSON).
 *
 * @example
 * ```ts
 * import type { BootstrapEvent } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const event: BootstrapEvent = {
 *   type: "member-joined",
 *   room: "lobby",
 *   member: { ip: "203.0.113.7", port: 40000, id: 42 },
 *   at: 1,
 * };
 * assert.equal(event.type, "member-joined");
 * ```
 */
export type BootstrapEvent =
  | { type: "room-created"; room: string; at: number }
  | { type: "room-expired"; room: string; at: number }
  | {
    type: "member-joined";
    room: string;
    member: { ip: string; port: number; id: number };
    at: number;
  }
  | {
    type: "member-left";
    room: string;
    member: { ip: string; port: number; id: number };
    reason: MemberLeftReason;
    at: number;
  };

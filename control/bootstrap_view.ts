/**
 * The control plane's read-only view of a running bootstrap server.
 *
 * `@olaf/bootstrap` implements {@linkcode BootstrapView} structurally and hands
 * it to {@linkcode createControlApp} (or `serveControl`), which turns it into
 * `/stats`, `/rooms`, `/metrics` and `/events`.
 *
 * The bootstrap's own types (events, stats, rooms) are owned and documented
 * by `@olaf/bootstrap` (`bootstrap/types.ts`); these are the shapes control
 * reads, declared here by structure because JSR refuses a package cycle and
 * the bootstrap CLI's `--http` flag makes `@olaf/bootstrap` depend on
 * `@olaf/control`. A type test in `@olaf/bootstrap`
 * (`bootstrap/types_test.ts`) fails the build if the two ever differ.
 *
 * @module
 */

/**
 * What the control plane may ask a bootstrap server. Every method must be
 * cheap and synchronous: the HTTP handlers call them on each request.
 *
 * @example A minimal view of an idle server
 * ```ts
 * import type { BootstrapView } from "@olaf/control";
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
  /**
   * The server's configured limits by name (`Infinity` = off), reported in
   * `/metrics` as `olaf_bootstrap_limit{name}`. Optional.
   */
  readonly limits?: Readonly<Record<string, number>>;
  /**
   * NAT_CHECK and relay counters (issue 11), reported in `/metrics` as
   * `olaf_nat_*`: numbers, and records of numbers by reason. Optional.
   */
  natStats?(): Readonly<Record<string, number | boolean | Readonly<Record<string, number>>>>;
}

/**
 * Totals of a bootstrap server, as served by `GET /stats`.
 *
 * @example
 * ```ts
 * import type { BootstrapStats } from "@olaf/control";
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
   * Datagrams dropped, by reason: the codec's reasons, `"unknown-type"`,
   * `"rate-limited"`, `"reply-budget"`, ...
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
 * import type { RoomSummary } from "@olaf/control";
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
 * import type { MemberInfo } from "@olaf/control";
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
 * import type { RoomDetail } from "@olaf/control";
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
 * import type { BootstrapEvent } from "@olaf/control";
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
    reason: "reconciled" | "expired" | "room-expired";
    at: number;
  };

/**
 * An in-memory {@linkcode BootstrapView} driven by hand: for tests, demos and
 * doc examples of the control plane without a UDP server.
 *
 * @module
 */
import type {
  BootstrapEvent,
  BootstrapStats,
  BootstrapView,
  MemberInfo,
  RoomDetail,
  RoomSummary,
} from "./bootstrap_view.ts";

/** Options for {@linkcode MemoryBootstrapView}. */
export interface MemoryBootstrapViewOptions {
  /** Clock in milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number;
}

/** Traffic counters of a {@linkcode MemoryBootstrapView}, set freely by tests. */
export interface MemoryTraffic {
  /** Datagrams received. */
  datagramsIn: number;
  /** Datagrams sent. */
  datagramsOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
  /** Drops by reason. */
  drops: Record<string, number>;
}

interface Room {
  name: string;
  createdAt: number;
  lastActivity: number;
  members: Map<string, MemberInfo>;
}

/** A peer's public endpoint and id, as in {@linkcode BootstrapEvent}s. */
export interface MemberAddress {
  /** Public IPv4 address. */
  ip: string;
  /** Public UDP port. */
  port: number;
  /** Peer id. */
  id: number;
}

/**
 * A {@linkcode BootstrapView} over plain maps. `join`, `leave` and
 * `expireRoom` change the rooms and emit the same events a real bootstrap
 * would; `traffic` holds the counters `stats()` reports.
 *
 * @example
 * ```ts
 * import { MemoryBootstrapView } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const view = new MemoryBootstrapView();
 * const seen: string[] = [];
 * const unsubscribe = view.subscribe((event) => seen.push(event.type));
 * view.join("lobby", { ip: "203.0.113.7", port: 40000, id: 1 });
 * unsubscribe();
 * assert.deepEqual(seen, ["room-created", "member-joined"]);
 * assert.equal(view.stats().members, 1);
 * assert.equal(view.room("lobby")?.members[0].port, 40000);
 * ```
 */
export class MemoryBootstrapView implements BootstrapView {
  /** Counters reported by `stats()`; tests may set them directly. */
  readonly traffic: MemoryTraffic = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: {},
  };
  /** When this view was created, in milliseconds since the epoch. */
  readonly startedAt: number;
  #now: () => number;
  #rooms = new Map<string, Room>();
  #listeners = new Set<(event: BootstrapEvent) => void>();

  /**
   * Creates an empty view.
   *
   * @param options The clock.
   */
  constructor(options: MemoryBootstrapViewOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.startedAt = this.#now();
  }

  /** How many subscribers are listening now (to check that they unsubscribe). */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /**
   * Adds a member to a room (creating the room) or refreshes it.
   *
   * @param room The room name.
   * @param member The member's public endpoint and id.
   */
  join(room: string, member: MemberAddress): void {
    const at = this.#now();
    let entry = this.#rooms.get(room);
    if (!entry) {
      entry = { name: room, createdAt: at, lastActivity: at, members: new Map() };
      this.#rooms.set(room, entry);
      this.emit({ type: "room-created", room, at });
    }
    entry.lastActivity = at;
    const key = `${member.ip}:${member.port}`;
    const known = entry.members.has(key);
    entry.members.set(key, { ip: member.ip, port: member.port, id: member.id, lastSeen: at });
    if (!known) {
      this.emit({ type: "member-joined", room, member: { ...member }, at });
    }
  }

  /**
   * Removes a member from a room (the room stays, even when empty).
   *
   * @param room The room name.
   * @param member The member's public endpoint and id.
   * @param reason Why it left.
   * @returns Whether the member was there.
   */
  leave(
    room: string,
    member: MemberAddress,
    reason: "reconciled" | "expired" = "expired",
  ): boolean {
    const entry = this.#rooms.get(room);
    if (!entry || !entry.members.delete(`${member.ip}:${member.port}`)) return false;
    this.emit({ type: "member-left", room, member: { ...member }, reason, at: this.#now() });
    return true;
  }

  /**
   * Deletes a room: every member leaves with reason `"room-expired"`, then the
   * room expires.
   *
   * @param room The room name.
   * @returns Whether the room existed.
   */
  expireRoom(room: string): boolean {
    const entry = this.#rooms.get(room);
    if (!entry) return false;
    this.#rooms.delete(room);
    const at = this.#now();
    for (const m of entry.members.values()) {
      const member = { ip: m.ip, port: m.port, id: m.id };
      this.emit({ type: "member-left", room, member, reason: "room-expired", at });
    }
    this.emit({ type: "room-expired", room, at });
    return true;
  }

  /**
   * Sends an event to every subscriber as it is.
   *
   * @param event The event.
   */
  emit(event: BootstrapEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  /**
   * Current totals.
   *
   * @returns The stats.
   */
  stats(): BootstrapStats {
    let members = 0;
    for (const room of this.#rooms.values()) members += room.members.size;
    const now = this.#now();
    return {
      startedAt: this.startedAt,
      uptimeMs: now - this.startedAt,
      rooms: this.#rooms.size,
      members,
      datagramsIn: this.traffic.datagramsIn,
      datagramsOut: this.traffic.datagramsOut,
      bytesIn: this.traffic.bytesIn,
      bytesOut: this.traffic.bytesOut,
      drops: { ...this.traffic.drops },
    };
  }

  /**
   * One page of rooms, in creation order.
   *
   * @param options Where the page starts and how long it is.
   * @returns The page and the total number of rooms.
   */
  listRooms(options: { offset: number; limit: number }): { total: number; rooms: RoomSummary[] } {
    const all = [...this.#rooms.values()];
    const rooms = all.slice(options.offset, options.offset + options.limit).map(summary);
    return { total: all.length, rooms };
  }

  /**
   * One room with its members.
   *
   * @param name The room name.
   * @returns The room, or `undefined`.
   */
  room(name: string): RoomDetail | undefined {
    const entry = this.#rooms.get(name);
    if (!entry) return undefined;
    return { ...summary(entry), members: [...entry.members.values()].map((m) => ({ ...m })) };
  }

  /**
   * Calls `listener` for every event from now on.
   *
   * @param listener The callback.
   * @returns A function that stops the calls.
   */
  subscribe(listener: (event: BootstrapEvent) => void): () => void {
    const wrapped = (event: BootstrapEvent) => listener(event);
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }
}

function summary(room: Room): RoomSummary {
  return {
    name: room.name,
    memberCount: room.members.size,
    createdAt: room.createdAt,
    lastActivity: room.lastActivity,
  };
}

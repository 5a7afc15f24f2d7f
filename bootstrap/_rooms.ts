/**
 * Every room of a bootstrap: the rooms by name, the expiry heap (when each
 * room must be looked at again), the member total, and expiry itself. The
 * core decides who joins; this module keeps the rooms and their deadlines.
 */
import { Heap } from "@olaf/protocol/internal";
import { Room } from "./_room.ts";
import type { MemberLeftReason } from "./types.ts";

/** What expiry tells its owner, member by member and room by room. */
export interface ExpiryHooks {
  /** Member `index` of `room` is about to be removed. */
  memberLeft(room: Room, index: number, reason: MemberLeftReason, now: number): void;
  /** `room` was deleted (after its members' `memberLeft`). */
  roomExpired(room: Room, now: number): void;
}

/** The rooms of one bootstrap. */
export class Rooms {
  /** Rooms by name, in creation order. */
  readonly byName: Map<string, Room> = new Map();
  /** Members across all rooms. */
  members = 0;
  readonly #roomTimeoutMs: number;
  readonly #memberTimeoutMs: number;
  readonly #maxMembersPerRoom: number;
  readonly #heap = new Heap<Room>(
    (a, b) => a.heapKey < b.heapKey,
    (room, index) => (room.heapIndex = index),
  );

  constructor(
    limits: { roomTimeoutMs: number; memberTimeoutMs: number; maxMembersPerRoom: number },
  ) {
    this.#roomTimeoutMs = limits.roomTimeoutMs;
    this.#memberTimeoutMs = limits.memberTimeoutMs;
    this.#maxMembersPerRoom = limits.maxMembersPerRoom;
  }

  /** Number of rooms. */
  get size(): number {
    return this.byName.size;
  }

  /** The room called `name`, or `undefined`. */
  get(name: string): Room | undefined {
    return this.byName.get(name);
  }

  /** Creates room `name` (the caller checks it does not exist and the room limit). */
  create(name: string, now: number): Room {
    const room = new Room(name, now);
    this.byName.set(name, room);
    room.heapKey = now + this.#roomTimeoutMs;
    this.#heap.push(room);
    return room;
  }

  /** Adds a member (the caller checks the member limit); returns its index. */
  addMember(room: Room, key: number, id: number, now: number, direct = now): number {
    const wasEmpty = room.count === 0;
    const index = room.add(key, id, now, this.#maxMembersPerRoom, direct);
    this.members++;
    if (wasEmpty) {
      // The room's member deadline may now come before its heap key.
      const deadline = now + this.#memberTimeoutMs;
      if (deadline < room.heapKey) {
        room.heapKey = deadline;
        this.#heap.update(room.heapIndex);
      }
    }
    return index;
  }

  /** Removes the members `drop` picks from `room` (see {@linkcode Room.removeWhere}). */
  removeMembers(room: Room, drop: (index: number) => boolean, exactMinSeen = false): void {
    this.members -= room.removeWhere(drop, exactMinSeen);
  }

  /** Deletes `room` now, through expiry (its hooks report it as expired). Issue 12. */
  evict(room: Room, now: number, hooks: ExpiryHooks): void {
    room.lastActivity = -Infinity;
    room.heapKey = -Infinity;
    this.#heap.update(room.heapIndex);
    this.expire(now, hooks);
  }

  /** The earliest deadline, or `undefined` when no room exists. */
  nextDeadline(): number | undefined {
    return this.#heap.peek()?.heapKey;
  }

  /** Runs every deadline up to `now`: prunes silent members, deletes idle rooms. */
  expire(now: number, hooks: ExpiryHooks): void {
    const heap = this.#heap;
    const roomTimeoutMs = this.#roomTimeoutMs;
    const memberTimeoutMs = this.#memberTimeoutMs;
    for (let room = heap.peek(); room !== undefined && room.heapKey <= now; room = heap.peek()) {
      if (room.lastActivity + roomTimeoutMs <= now) {
        heap.pop();
        this.byName.delete(room.name);
        this.members -= room.count;
        for (let i = 0; i < room.count; i++) hooks.memberLeft(room, i, "room-expired", now);
        room.count = 0;
        hooks.roomExpired(room, now);
        continue;
      }
      if (room.minSeen + memberTimeoutMs <= now) {
        const cutoff = now - memberTimeoutMs;
        this.removeMembers(room, (i) => {
          if (room.seenAt(i) > cutoff) return false;
          hooks.memberLeft(room, i, "expired", now);
          return true;
        }, true);
      }
      const memberDeadline = room.count > 0 ? room.minSeen + memberTimeoutMs : Infinity;
      room.heapKey = Math.min(room.lastActivity + roomTimeoutMs, memberDeadline);
      heap.update(0);
    }
  }
}

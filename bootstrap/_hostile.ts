/**
 * Issue 12, the bootstrap's v1 side: the guards against hostile input that
 * the core consults on each request. Kept out of `bootstrap_core.ts` so that
 * the core only calls them.
 *
 * - {@linkcode ReplyBudget}: one token bucket for the reply bytes sent to
 *   every unvalidated address together (the per-address buckets cannot see a
 *   reflection spread over many spoofed victims).
 * - {@linkcode maxRecordsWithin}: how many peer records a reply may list
 *   within `amplificationFactor` times its request.
 * - {@linkcode RoomClaims}: rooms created per source IPv4 address (the
 *   quota), and the rooms nobody but their creator ever sent a request to,
 *   oldest first (evicted first when the room limit is reached).
 *
 * @module
 */
import { bootstrapReplyBytes, PEER_RECORD_BYTES } from "@olaf/protocol";
import { endpointKeyIPv4 } from "@olaf/protocol/internal";
import type { Room } from "./_room.ts";

/** A token bucket of bytes: `rate` per second, at most `burst`; `Infinity` rate = off. */
export class ReplyBudget {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = rate === Infinity ? Infinity : burst;
    this.#tokens = this.#burst;
    this.#at = now;
  }

  /** Bytes that may be sent now. */
  available(now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate / 1000);
      this.#at = now;
    }
    return this.#tokens;
  }

  /** Takes `size` bytes if the budget has them; returns whether it did. */
  take(size: number, now: number): boolean {
    if (this.available(now) < size) return false;
    this.#tokens -= size;
    return true;
  }
}

/**
 * Most peer records a `BOOTSTRAP_R` may list and stay within `factor` times a
 * request of `requestBytes` (the payload's own record always goes): -1 when
 * not even an empty reply fits.
 */
export function maxRecordsWithin(requestBytes: number, factor: number): number {
  if (factor === Infinity) return Infinity;
  const cap = Math.floor(requestBytes * factor);
  if (cap < bootstrapReplyBytes(0)) return -1;
  return Math.floor((cap - bootstrapReplyBytes(0)) / PEER_RECORD_BYTES);
}

/** Who created which room: the per-source quota and the creator-only rooms. */
export class RoomClaims {
  readonly #perSource: number;
  /** Rooms that exist, by creating IPv4 address. */
  readonly #bySource = new Map<number, number>();
  /** Rooms only their creator sent requests to, in creation order. */
  readonly #solo = new Set<Room>();

  constructor(roomsPerSource: number) {
    this.#perSource = roomsPerSource;
  }

  /** Whether source `ipv4` may create one more room. */
  mayCreate(ipv4: number): boolean {
    return (this.#bySource.get(ipv4) ?? 0) < this.#perSource;
  }

  /** `room` was just created by endpoint `key`. */
  created(room: Room, key: number): void {
    room.creator = key;
    const ipv4 = endpointKeyIPv4(key);
    this.#bySource.set(ipv4, (this.#bySource.get(ipv4) ?? 0) + 1);
    this.#solo.add(room);
  }

  /** A request for `room` came from endpoint `key`: another source makes it shared. */
  requested(room: Room, key: number): void {
    if (room.shared || key === room.creator) return;
    room.shared = true;
    this.#solo.delete(room);
  }

  /** `room` is gone (expired or evicted). */
  removed(room: Room): void {
    this.#solo.delete(room);
    if (room.creator < 0) return;
    const ipv4 = endpointKeyIPv4(room.creator);
    const count = (this.#bySource.get(ipv4) ?? 1) - 1;
    if (count > 0) this.#bySource.set(ipv4, count);
    else this.#bySource.delete(ipv4);
  }

  /** The oldest room only its creator ever sent a request to, created at or before `before`. */
  oldestSolo(before: number): Room | undefined {
    const room: Room | undefined = this.#solo.values().next().value;
    return room !== undefined && room.createdAt <= before ? room : undefined;
  }

  /** How many rooms only their creator ever sent a request to. */
  get soloRooms(): number {
    return this.#solo.size;
  }
}

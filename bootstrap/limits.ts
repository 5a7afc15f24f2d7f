/**
 * The bootstrap's limits: their defaults, and the check that applies them.
 *
 * @module
 */
import {
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  MAX_PEER_COUNT,
  MAX_ROOM_NAME_BYTES,
  PEER_RECORD_BYTES,
} from "@olaf/protocol";

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
  // --- issue 12: hostile v1 input (see the README's "Hostile input") ---
  /**
   * Largest reply toward an address that has not shown it receives there, as
   * a multiple of its request's size. Default 3; `Infinity` = off.
   */
  amplificationFactor?: number;
  /** Reply bytes per second to all unvalidated addresses together. Default 32,768; `Infinity` = off. */
  unvalidatedBytesPerSecond?: number;
  /** Burst of the unvalidated reply-byte budget. Default 65,536. */
  unvalidatedBytesBurst?: number;
  /** How long an address stays validated after its last request. Default 60,000 ms. */
  validationTtlMs?: number;
  /** Validated addresses remembered (the least recently proven goes first). Default 65,536. */
  maxValidatedAddresses?: number;
  /** Rooms one source IPv4 address may have created that exist at once. Default 5; `Infinity` = off. */
  roomsPerSource?: number;
  /** A member heard from directly this recently is kept when a report leaves it out. Default 6,000 ms. */
  reportGraceMs?: number;
  /**
   * When the room limit is reached, a room only its creator ever sent a
   * request to, older than this, makes way for a new room. Default 10,000 ms.
   */
  soloRoomEvictMs?: number;
  // --- end issue 12 ---
}

/** Every limit with its default applied. */
export type ResolvedBootstrapLimits = Required<BootstrapLimits>;

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
  amplificationFactor: 3,
  unvalidatedBytesPerSecond: 32_768,
  unvalidatedBytesBurst: 65_536,
  validationTtlMs: 60_000,
  maxValidatedAddresses: 65_536,
  roomsPerSource: 5,
  reportGraceMs: 6_000,
  soloRoomEvictMs: 10_000,
});

/** `value` if it is a positive number (integer when `integer`) up to `max`, else a RangeError. */
export function positive(name: string, value: number, integer: boolean, max = Infinity): number {
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
  const replyBudgetBytes = limit("replyBudgetBytes", true, MAX_DATAGRAM_BYTES);
  if (replyBudgetBytes < HEADER_BYTES + 2 * PEER_RECORD_BYTES) {
    throw new RangeError(
      `replyBudgetBytes must be at least ${
        HEADER_BYTES + 2 * PEER_RECORD_BYTES
      }, got ${replyBudgetBytes}`,
    );
  }
  return {
    roomTimeoutMs,
    memberTimeoutMs: limit("memberTimeoutMs", false, Infinity, roomTimeoutMs),
    maxRooms: limit("maxRooms", true),
    maxMembersPerRoom: limit("maxMembersPerRoom", true, MAX_PEER_COUNT), // the u16 peer count
    maxRoomNameBytes: limit("maxRoomNameBytes", true),
    maxDatagramBytes: limit("maxDatagramBytes", true, MAX_DATAGRAM_BYTES),
    replyBudgetBytes,
    requestsPerSecond: limit("requestsPerSecond", false),
    requestBurst: limit("requestBurst", false),
    replyBytesPerSecond: limit("replyBytesPerSecond", false),
    replyBytesBurst: limit("replyBytesBurst", false),
    maxTrackedSources: limit("maxTrackedSources", true),
    // issue 12: hostile v1 input
    amplificationFactor: limit("amplificationFactor", false),
    unvalidatedBytesPerSecond: limit("unvalidatedBytesPerSecond", false),
    unvalidatedBytesBurst: limit("unvalidatedBytesBurst", false),
    validationTtlMs: limit("validationTtlMs", false),
    maxValidatedAddresses: limit("maxValidatedAddresses", true),
    roomsPerSource: limit("roomsPerSource", false),
    reportGraceMs: limit("reportGraceMs", false),
    soloRoomEvictMs: limit("soloRoomEvictMs", false),
  };
}

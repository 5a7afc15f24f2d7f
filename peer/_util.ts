/**
 * Small private helpers for the peer machine: rendezvous ordering of
 * bootstraps (addresses are keyed with `addressKey` from `@olaf/protocol`).
 */
import { addressKey } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";

/** 32-bit FNV-1a of a string's UTF-16 code units, then a murmur3 finaliser for spread. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Orders bootstraps by rendezvous (highest-random-weight) hashing of the room
 * name: every member of a room computes the same order from the same list,
 * so they all prefer the same bootstrap, and different rooms spread over the
 * list. Removing one bootstrap from the list only moves the rooms it had.
 */
export function rendezvousOrder(room: string, bootstraps: readonly NetAddress[]): NetAddress[] {
  return bootstraps
    .map((address) => {
      const key = addressKey(address.hostname, address.port);
      return { address, key, score: hash32(room + "\n" + key) };
    })
    .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.address);
}

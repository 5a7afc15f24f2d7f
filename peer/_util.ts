/**
 * Small private helpers for the peer machine:
 * rendezvous ordering of bootstraps, and address normalisation.
 */
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

/** `"ip:port"` key of an IPv4 endpoint. */
export function addressKey(ip: string, port: number): string {
  return ip + ":" + port;
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

/** Strips the IPv4-mapped IPv6 prefix that dual-stack sockets report (`::ffff:1.2.3.4`). */
export function normaliseHostname(hostname: string): string {
  return hostname.startsWith("::ffff:") && hostname.indexOf(".") > 0 ? hostname.slice(7) : hostname;
}

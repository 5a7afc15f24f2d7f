import { isIPv4 } from "./ipv4.ts";

/**
 * The one key of a UDP endpoint by address: `"ip:port"`, the hostname
 * normalised by {@linkcode normaliseHostname}. Every package that keys
 * something by endpoint uses this type and {@linkcode addressKey}, so that
 * `::ffff:1.2.3.4` and `1.2.3.4` never end up as two entries.
 */
export type AddressKey = `${string}:${number}`;

/**
 * Strips the IPv4-mapped IPv6 prefix that dual-stack sockets report
 * (`::ffff:1.2.3.4`, any letter case) when what follows is dotted-quad IPv4;
 * any other hostname is returned unchanged.
 *
 * @param hostname A socket hostname.
 * @returns The plain IPv4 text for a mapped address, else `hostname`.
 *
 * @example
 * ```ts
 * import { normaliseHostname } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(normaliseHostname("::FFFF:192.0.2.1"), "192.0.2.1");
 * assert.equal(normaliseHostname("192.0.2.1"), "192.0.2.1");
 * assert.equal(normaliseHostname("::ffff:7f00:1"), "::ffff:7f00:1"); // not dotted: left alone
 * assert.equal(normaliseHostname("::1"), "::1");
 * ```
 */
export function normaliseHostname(hostname: string): string {
  if (hostname.length < 14 || hostname.charCodeAt(0) !== 58 /* ":" */) return hostname;
  if (hostname.slice(0, 7).toLowerCase() !== "::ffff:") return hostname;
  const rest = hostname.slice(7);
  return isIPv4(rest) ? rest : hostname;
}

/**
 * The {@linkcode AddressKey} of an endpoint.
 *
 * @param hostname Socket hostname (normalised here).
 * @param port UDP port.
 * @returns `"ip:port"`.
 *
 * @example
 * ```ts
 * import { addressKey } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(addressKey("::ffff:203.0.113.7", 40000), "203.0.113.7:40000");
 * assert.equal(addressKey("203.0.113.7", 40000), addressKey("::ffff:203.0.113.7", 40000));
 * ```
 */
export function addressKey(hostname: string, port: number): AddressKey {
  return `${normaliseHostname(hostname)}:${port}`;
}

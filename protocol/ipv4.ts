import { ProtocolError } from "./errors.ts";

/**
 * Parses dotted-quad IPv4 text (`"192.168.1.20"`) into an unsigned 32-bit
 * number. Strict: four decimal parts, each 0..255 without leading zeros.
 *
 * @param text The address.
 * @returns The address as a number in 0..2^32-1.
 * @throws {ProtocolError} `invalid-ipv4` for anything else.
 *
 * @example
 * ```ts
 * import { parseIPv4 } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(parseIPv4("127.0.0.1"), 0x7f000001);
 * ```
 */
export function parseIPv4(text: string): number {
  const length = text.length;
  let result = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? text.charCodeAt(i) : 46; // a virtual "." ends the last part
    if (c === 46) {
      if (digits === 0 || parts === 4) return invalid(text);
      result = result * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return invalid(text); // leading zero
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return invalid(text);
    } else {
      return invalid(text);
    }
  }
  if (parts !== 4) return invalid(text);
  return result;
}

function invalid(text: string): never {
  throw new ProtocolError("invalid-ipv4", `not an IPv4 address: ${JSON.stringify(text)}`);
}

/**
 * Formats an unsigned 32-bit IPv4 address as dotted-quad text.
 *
 * @param address The address as a number in 0..2^32-1.
 * @returns The text form, e.g. `"127.0.0.1"`.
 *
 * @example
 * ```ts
 * import { formatIPv4 } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(formatIPv4(0x7f000001), "127.0.0.1");
 * ```
 */
export function formatIPv4(address: number): string {
  return (address >>> 24) + "." + ((address >>> 16) & 255) + "." + ((address >>> 8) & 255) +
    "." + (address & 255);
}

/**
 * Tells whether `text` is dotted-quad IPv4 text that {@linkcode parseIPv4} accepts.
 *
 * @param text Candidate address.
 * @returns `true` for valid IPv4 text.
 *
 * @example
 * ```ts
 * import { isIPv4 } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(isIPv4("10.0.0.1"), true);
 * assert.equal(isIPv4("::1"), false);
 * ```
 */
export function isIPv4(text: string): boolean {
  try {
    parseIPv4(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * One number that identifies an IPv4 endpoint (`ip * 65536 + port`, exact in
 * a double): v1 identifies peers by ip:port, and a number key makes maps of
 * peers cheaper than `"ip:port"` strings.
 *
 * @param address IPv4 address as a number.
 * @param port UDP port.
 * @returns The key, in 0..2^48-1.
 *
 * @example
 * ```ts
 * import { parseIPv4 } from "@olaf/protocol";
 * import { endpointKey } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 * assert.equal(endpointKey(parseIPv4("0.0.0.1"), 2), 65538);
 * ```
 */
export function endpointKey(address: number, port: number): number {
  return address * 65536 + port;
}

/**
 * The IPv4 address of an {@linkcode endpointKey}.
 *
 * @param key The endpoint key.
 * @returns The address as a number.
 *
 * @example
 * ```ts
 * import { endpointKey, endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 * const key = endpointKey(0x7f000001, 5000);
 * assert.equal(endpointKeyIPv4(key), 0x7f000001);
 * assert.equal(endpointKeyPort(key), 5000);
 * ```
 */
export function endpointKeyIPv4(key: number): number {
  return Math.floor(key / 65536);
}

/**
 * The port of an {@linkcode endpointKey}.
 *
 * @param key The endpoint key.
 * @returns The port.
 *
 * @example
 * ```ts
 * import { endpointKey, endpointKeyPort } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 * assert.equal(endpointKeyPort(endpointKey(1, 80)), 80);
 * ```
 */
export function endpointKeyPort(key: number): number {
  // Not `key % 65536`: keys pass 2^31, where `%` becomes a slow floating-point modulo.
  return key - Math.floor(key / 65536) * 65536;
}

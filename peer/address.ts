/**
 * Parsing and resolving `HOST:PORT` bootstrap addresses.
 *
 * @module
 */
import dns from "node:dns/promises";
import { isIPv4 } from "@olaf/protocol";
import { describeError } from "@olaf/protocol/_cli";
import type { NetAddress } from "@olaf/protocol/net";

/** Names that mean "this machine" and resolve without DNS. */
const LOOPBACK_NAMES = new Set(["localhost", "localhost.localdomain", "ip6-localhost"]);

/**
 * Splits `"host:port"` into its parts, checking the port. v1 peer records are
 * IPv4, so bracketed IPv6 addresses are refused.
 *
 * @param text E.g. `"127.0.0.1:5000"`, `"localhost:5000"`, `"boot.example.org:5000"`.
 * @returns Host and port (the host is not resolved yet).
 * @throws {TypeError} With a message saying what is wrong.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@olaf/peer";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseHostPort("localhost:5000"), { hostname: "localhost", port: 5000 });
 * assert.throws(() => parseHostPort("localhost"), TypeError);
 * ```
 */
export function parseHostPort(text: string): NetAddress {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(":");
  if (trimmed.startsWith("[") || trimmed.indexOf(":") !== colon) {
    throw new TypeError(`bad address ${JSON.stringify(text)}: v1 peers use IPv4, not IPv6`);
  }
  if (colon <= 0 || colon === trimmed.length - 1) {
    throw new TypeError(`bad address ${JSON.stringify(text)}: expected HOST:PORT`);
  }
  const hostname = trimmed.slice(0, colon);
  const portText = trimmed.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new TypeError(`bad address ${JSON.stringify(text)}: port must be 1..65535`);
  }
  return { hostname, port };
}

/**
 * Parses and resolves `"host:port"` to an IPv4 address: IPv4 text as is,
 * `localhost` to `127.0.0.1` without DNS, other names through
 * `Deno.resolveDns` (A records; needs network permission), or `node:dns`
 * where there is no `Deno` (Node, Bun).
 *
 * @param text The address.
 * @returns The address with an IPv4 hostname.
 * @throws {TypeError} For malformed addresses or names without an A record.
 *
 * @example
 * ```ts
 * import { resolveHostPort } from "@olaf/peer";
 * import assert from "node:assert/strict";
 * assert.deepEqual(await resolveHostPort("localhost:5000"), { hostname: "127.0.0.1", port: 5000 });
 * ```
 */
export async function resolveHostPort(text: string): Promise<NetAddress> {
  const { hostname, port } = parseHostPort(text);
  if (isIPv4(hostname)) return { hostname, port };
  if (LOOPBACK_NAMES.has(hostname.toLowerCase())) return { hostname: "127.0.0.1", port };
  let records: string[];
  try {
    records = await resolveA(hostname);
  } catch (error) {
    // "no such host", not the resolver's "proto error: no records found for Query {...}".
    throw new TypeError(`cannot resolve ${hostname}: ${describeError(error)}`, { cause: error });
  }
  const ip = records.find(isIPv4);
  if (ip === undefined) throw new TypeError(`cannot resolve ${hostname}: it has no IPv4 address`);
  return { hostname: ip, port };
}

/** A records of `hostname`: `Deno.resolveDns` on Deno, `node:dns` elsewhere (Node, Bun). */
function resolveA(hostname: string): Promise<string[]> {
  const deno = (globalThis as { Deno?: { resolveDns?: typeof Deno.resolveDns } }).Deno;
  return deno?.resolveDns ? deno.resolveDns(hostname, "A") : dns.resolve4(hostname);
}

// Input validation for the rendezvous API. Every function throws ApiError 400
// with a message that names the field, so bad input never reaches the store.
import { isIPv4 } from "@olaf/protocol";
import { ApiError, badRequest } from "./_errors.ts";
import type { Address, PeerId } from "./session_store.ts";

/** Longest session name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 64;
/** Longest string peer id, in UTF-16 code units. */
export const MAX_PEER_ID_LENGTH = 64;

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Requires a JSON object body (not an array or a scalar). */
export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/**
 * A session name: 1..64 characters, no control characters, no outer spaces,
 * well-formed Unicode. A lone surrogate (JSON allows `"\ud800"`) would reach
 * Deno KV as U+FFFD, so two different names would share one key.
 */
export function parseName(value: unknown, field = "name"): string {
  if (typeof value !== "string") throw badRequest(`${field} must be a string`);
  if (value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw badRequest(`${field} must be 1..${MAX_NAME_LENGTH} characters`);
  }
  if (CONTROL_CHARS.test(value) || value.trim() !== value) {
    throw badRequest(`${field} must not contain control characters or outer spaces`);
  }
  if (!value.isWellFormed()) throw badRequest(`${field} must not contain lone surrogates`);
  return value;
}

/**
 * A peer id: a non-empty string (up to 64 characters, well-formed Unicode) or
 * a non-negative safe integer.
 */
export function parsePeerId(value: unknown, field = "peerId"): PeerId {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw badRequest(`${field} must be a non-negative integer or a string`);
  }
  if (typeof value === "string") {
    if (
      value.length === 0 || value.length > MAX_PEER_ID_LENGTH || CONTROL_CHARS.test(value) ||
      !value.isWellFormed()
    ) {
      throw badRequest(`${field} must be 1..${MAX_PEER_ID_LENGTH} printable characters`);
    }
    return value;
  }
  throw badRequest(`${field} must be a non-negative integer or a string`);
}

/**
 * Returns the canonical text of an IPv4 or IPv6 address, or `undefined` when
 * `text` is neither. IPv6 goes through the URL parser (after a character
 * check, so nothing but an address can reach it) and comes out compressed and
 * lower-case, without brackets or zone.
 */
export function canonicalIp(text: string): string | undefined {
  if (isIPv4(text)) return text;
  if (text.length < 2 || text.length > 45 || !text.includes(":")) return undefined;
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Candidate addresses: a JSON array of 1..`max` `[ip, port]` pairs, ip IPv4 or
 * IPv6 text, port 1..65535. Duplicates are dropped, order is kept.
 */
export function parseAddresses(value: unknown, max: number, field = "addresses"): Address[] {
  if (!Array.isArray(value)) throw badRequest(`${field} must be an array of [ip, port] pairs`);
  if (value.length === 0) throw badRequest(`${field} must not be empty`);
  if (value.length > max) {
    throw new ApiError(
      400,
      "bad-request",
      `${field} may hold at most ${max} addresses`,
      {},
      "max-addresses",
    );
  }
  const seen = new Set<string>();
  const result: Address[] = [];
  value.forEach((pair: unknown, i) => {
    const where = `${field}[${i}]`;
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw badRequest(`${where} must be an [ip, port] pair`);
    }
    const [ip, port] = pair as unknown[];
    const canonical = typeof ip === "string" ? canonicalIp(ip) : undefined;
    if (canonical === undefined) throw badRequest(`${where}: ip must be IPv4 or IPv6 text`);
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw badRequest(`${where}: port must be an integer in 1..65535`);
    }
    const key = `${canonical}|${port}`;
    if (!seen.has(key)) {
      seen.add(key);
      result.push([canonical, port]);
    }
  });
  return result;
}

/** A non-negative integer query parameter with a default and an upper bound. */
export function parseIntParam(
  raw: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw badRequest(`${name} must be an integer in ${min}..${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw badRequest(`${name} must be an integer in ${min}..${max}`);
  return value;
}

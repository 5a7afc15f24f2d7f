/**
 * A small STUN codec (RFC 8489): enough to answer a Binding request with
 * XOR-MAPPED-ADDRESS, which is all the seed's `stun_server` does. No
 * authentication (MESSAGE-INTEGRITY is read past, never checked) and no
 * other methods.
 *
 * @module
 */

/** The magic cookie of every RFC 5389/8489 message. */
export const STUN_MAGIC_COOKIE = 0x2112a442;
/** Message type of a Binding request. */
export const STUN_BINDING_REQUEST = 0x0001;
/** Message type of a Binding success response. */
export const STUN_BINDING_SUCCESS = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_SOFTWARE = 0x8022;
const ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;

/** A decoded STUN message: header fields and raw attributes. */
export interface StunMessage {
  /** Message type (method and class), e.g. {@linkcode STUN_BINDING_REQUEST}. */
  type: number;
  /** The 12-byte transaction id. */
  transactionId: Uint8Array;
  /** Attributes in order: type and value (without padding). */
  attributes: { type: number; value: Uint8Array }[];
  /** `true`/`false` when a FINGERPRINT was present and matched/did not, `undefined` when absent. */
  fingerprintOk: boolean | undefined;
}

/**
 * Decodes a STUN message, or returns `undefined` when the bytes are not one
 * (wrong cookie, bad lengths, the two top bits set).
 *
 * @param data A datagram.
 * @returns The message, or `undefined`.
 *
 * @example
 * ```ts
 * import { decodeStun, encodeBindingRequest } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const request = encodeBindingRequest(new Uint8Array(12).fill(7));
 * assert.equal(decodeStun(request)?.type, 0x0001);
 * assert.equal(decodeStun(new Uint8Array(3)), undefined);
 * ```
 */
export function decodeStun(data: Uint8Array): StunMessage | undefined {
  if (data.length < 20 || (data[0]! & 0xc0) !== 0) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getUint16(2);
  if (view.getUint32(4) !== STUN_MAGIC_COOKIE || length % 4 !== 0 || 20 + length !== data.length) {
    return undefined;
  }
  const attributes: StunMessage["attributes"] = [];
  let fingerprintOk: boolean | undefined;
  for (let at = 20; at < data.length;) {
    if (at + 4 > data.length) return undefined;
    const type = view.getUint16(at);
    const len = view.getUint16(at + 2);
    if (at + 4 + len > data.length) return undefined;
    const value = data.subarray(at + 4, at + 4 + len);
    if (type === ATTR_FINGERPRINT && len === 4) {
      fingerprintOk =
        (crc32(data.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0 === view.getUint32(at + 4);
    }
    attributes.push({ type, value });
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return {
    type: view.getUint16(0),
    transactionId: data.slice(8, 20),
    attributes,
    fingerprintOk,
  };
}

/**
 * Builds a Binding request (no attributes), for clients and tests.
 *
 * @param transactionId 12 bytes.
 * @returns The 20-byte request.
 *
 * @example
 * ```ts
 * import { encodeBindingRequest } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(encodeBindingRequest(new Uint8Array(12)).length, 20);
 * ```
 */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  return header(STUN_BINDING_REQUEST, 0, transactionId);
}

/**
 * Builds a Binding success response carrying XOR-MAPPED-ADDRESS (IPv4 or
 * IPv6), then SOFTWARE when given and a FINGERPRINT.
 *
 * @param transactionId The request's 12-byte transaction id.
 * @param mapped The address the request came from.
 * @param software Optional SOFTWARE attribute text.
 * @returns The response datagram.
 *
 * @example
 * ```ts
 * import { decodeStun, encodeBindingSuccess, readXorMappedAddress } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const tid = new Uint8Array(12).fill(1);
 * const response = decodeStun(encodeBindingSuccess(tid, { hostname: "192.0.2.1", port: 32853 }))!;
 * assert.equal(response.fingerprintOk, true);
 * assert.deepEqual(readXorMappedAddress(response), { hostname: "192.0.2.1", port: 32853 });
 * ```
 */
export function encodeBindingSuccess(
  transactionId: Uint8Array,
  mapped: { hostname: string; port: number },
  software?: string,
): Uint8Array {
  const attrs: Uint8Array[] = [
    attribute(ATTR_XOR_MAPPED_ADDRESS, xorAddress(mapped, transactionId)),
  ];
  if (software !== undefined) {
    attrs.push(attribute(ATTR_SOFTWARE, new TextEncoder().encode(software)));
  }
  const bodyLength = attrs.reduce((n, a) => n + a.length, 0) + 8;
  const out = new Uint8Array(20 + bodyLength);
  out.set(header(STUN_BINDING_SUCCESS, bodyLength, transactionId));
  let at = 20;
  for (const a of attrs) {
    out.set(a, at);
    at += a.length;
  }
  const view = new DataView(out.buffer);
  view.setUint16(at, ATTR_FINGERPRINT);
  view.setUint16(at + 2, 4);
  view.setUint32(at + 4, (crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0);
  return out;
}

/**
 * Reads the XOR-MAPPED-ADDRESS of a message.
 *
 * @param message A decoded message.
 * @returns The address, or `undefined` when absent or malformed.
 *
 * @example
 * ```ts
 * import { decodeStun, encodeBindingSuccess, readXorMappedAddress } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const tid = new Uint8Array(12);
 * const message = decodeStun(encodeBindingSuccess(tid, { hostname: "::1", port: 9 }))!;
 * assert.deepEqual(readXorMappedAddress(message), { hostname: "::1", port: 9 });
 * ```
 */
export function readXorMappedAddress(
  message: StunMessage,
): { hostname: string; port: number } | undefined {
  const attr = message.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS);
  if (!attr || attr.value.length < 8) return undefined;
  const v = attr.value;
  const port = ((v[2]! << 8) | v[3]!) ^ (STUN_MAGIC_COOKIE >>> 16);
  const key = xorKey(message.transactionId);
  if (v[1] === 1 && v.length === 8) {
    return { hostname: [0, 1, 2, 3].map((i) => v[4 + i]! ^ key[i]!).join("."), port };
  }
  if (v[1] === 2 && v.length === 20) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) {
      groups.push((((v[4 + i]! ^ key[i]!) << 8) | (v[5 + i]! ^ key[i + 1]!)).toString(16));
    }
    return { hostname: compressIPv6(groups), port };
  }
  return undefined;
}

/**
 * The XOR-MAPPED-ADDRESS value (family, port, address; RFC 8489 section 14.2).
 *
 * @param address IPv4 or IPv6 address and port.
 * @param transactionId The message's transaction id (for IPv6).
 * @returns 8 bytes (IPv4) or 20 (IPv6).
 *
 * @example RFC 5769 section 2.2: 192.0.2.1 port 32853
 * ```ts
 * import { xorAddress } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const value = xorAddress({ hostname: "192.0.2.1", port: 32853 }, new Uint8Array(12));
 * assert.deepEqual([...value], [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
 * ```
 */
export function xorAddress(
  address: { hostname: string; port: number },
  transactionId: Uint8Array,
): Uint8Array {
  const raw = parseIp(address.hostname);
  const out = new Uint8Array(4 + raw.length);
  out[1] = raw.length === 4 ? 1 : 2;
  const xport = address.port ^ (STUN_MAGIC_COOKIE >>> 16);
  out[2] = xport >> 8;
  out[3] = xport & 0xff;
  const key = xorKey(transactionId);
  for (let i = 0; i < raw.length; i++) out[4 + i] = raw[i]! ^ key[i]!;
  return out;
}

/**
 * CRC-32 (ISO-HDLC, as STUN's FINGERPRINT uses).
 *
 * @param data Bytes.
 * @returns The unsigned CRC.
 *
 * @example
 * ```ts
 * import { crc32 } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
 * ```
 */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function header(type: number, length: number, transactionId: Uint8Array): Uint8Array {
  if (transactionId.length !== 12) throw new RangeError("a STUN transaction id has 12 bytes");
  const out = new Uint8Array(20);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  view.setUint16(2, length);
  view.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(transactionId, 8);
  return out;
}

function attribute(type: number, value: Uint8Array): Uint8Array {
  const padded = new Uint8Array(4 + value.length + ((4 - (value.length % 4)) % 4));
  const view = new DataView(padded.buffer);
  view.setUint16(0, type);
  view.setUint16(2, value.length);
  padded.set(value, 4);
  return padded;
}

function xorKey(transactionId: Uint8Array): Uint8Array {
  const key = new Uint8Array(16);
  new DataView(key.buffer).setUint32(0, STUN_MAGIC_COOKIE);
  key.set(transactionId, 4);
  return key;
}

function parseIp(hostname: string): Uint8Array {
  if (!hostname.includes(":")) {
    const parts = hostname.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      throw new RangeError(`not an IP address: ${hostname}`);
    }
    return Uint8Array.from(parts);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  if (mapped) return parseIp(mapped[1]!);
  const [head, tail] = hostname.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array(8 - left.length - right.length).fill("0");
  const groups = [...left, ...fill, ...right];
  if (groups.length !== 8) throw new RangeError(`not an IP address: ${hostname}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

function compressIPv6(groups: string[]): string {
  // Longest run of zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

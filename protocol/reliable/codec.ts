/**
 * The wire codec of the reliable-delivery extension: `DATA` (type 16) and
 * `ACK` (type 17). Pure functions, no state, no I/O.
 *
 * Both keep v1 framing, `type u8 | peer count u16 | N x 10-byte records |
 * u32 length | payload`, so deployed v1 peers skip them as unknown types.
 * Olaf writes an empty peers block (the link already knows who sent it) and
 * ignores any records a future sender puts there. The payload layouts (all
 * integers big-endian) are in `protocol/EXTENSIONS.md`:
 *
 * ```
 * DATA payload: flags u8 | session u32 | seq u32 | timestamp u32 | message u32
 *               [| fragment index u16 | fragment count u16]   (when flag F)
 *               | data (the rest)
 * ACK payload:  session u32 | incarnation u32 | cumulative u32 | echo timestamp u32 | delay u16
 *               | range count u8 | count x (start u32 | end u32)
 * ```
 *
 * @module
 */
import { decode, type DecodeOptions, ProtocolError, type ProtocolErrorReason } from "../mod.ts";
import { serialDiff } from "./serial.ts";

/** Type code of `DATA` (allocated to reliable delivery in the extension table). */
export const DATA_TYPE = 16;
/** Type code of `ACK`. */
export const ACK_TYPE = 17;

/** `DATA` flag R: the sender retransmits until acknowledged. */
export const FLAG_RELIABLE = 0x01;
/** `DATA` flag O: delivered in message order among the link's ordered messages. */
export const FLAG_ORDERED = 0x02;
/** `DATA` flag F: one fragment of a larger message (index and count follow). */
export const FLAG_FRAGMENT = 0x04;
const KNOWN_FLAGS = FLAG_RELIABLE | FLAG_ORDERED | FLAG_FRAGMENT;

/** Bytes of v1 framing with an empty peers block: type, peer count, payload length. */
export const FRAMING_BYTES = 7;
/** Bytes of the `DATA` header in the payload, fragment fields excluded. */
export const DATA_HEADER_BYTES = 17;
/** Bytes the fragment fields add to a fragment's `DATA` header. */
export const FRAGMENT_FIELDS_BYTES = 4;
/** Bytes of the `ACK` payload without ranges. */
export const ACK_HEADER_BYTES = 19;
/** Bytes per selective range in an `ACK`. */
export const ACK_RANGE_BYTES = 8;
/** Most selective ranges an `ACK` may carry (decoders refuse more). */
export const MAX_ACK_RANGES = 16;
/** Most fragments of one message (the count is a u16). */
export const MAX_FRAGMENTS = 0xffff;

/** One `DATA` datagram: a message, or one fragment of one. */
export interface DataFrame {
  /** The sender's session: a random u32 chosen per link; its first sequence number. */
  readonly session: number;
  /** Per-link sequence number (u32, serial arithmetic); a retransmission reuses it. */
  readonly seq: number;
  /** Sender's clock in ms mod 2^32 when this copy was sent, echoed by the `ACK`. */
  readonly timestamp: number;
  /** Message id (u32): ordered and unordered messages are numbered separately from 0. */
  readonly messageId: number;
  /** Flag R. */
  readonly reliable: boolean;
  /** Flag O. */
  readonly ordered: boolean;
  /** Index of this fragment, 0 when the message is not fragmented. */
  readonly fragmentIndex: number;
  /** Fragments of the message, 1 when not fragmented (flag F is set exactly when > 1). */
  readonly fragmentCount: number;
  /** The message bytes (or this fragment's share); a view, not a copy, when decoded. */
  readonly data: Uint8Array;
}

/** A run of received sequence numbers, `start` included, `end` excluded (u32, serial). */
export interface AckRange {
  /** First sequence number of the run. */
  readonly start: number;
  /** The sequence number after the run. */
  readonly end: number;
}

/** One `ACK` datagram. */
export interface AckFrame {
  /** The session of the `DATA` being acknowledged. */
  readonly session: number;
  /**
   * The acknowledging link's incarnation: a random u32 fixed for its
   * lifetime. A new one means the peer restarted and lost its receive state.
   */
  readonly incarnation: number;
  /** Every sequence number before this one was received (the next one expected). */
  readonly cumulative: number;
  /** The `timestamp` of the `DATA` that triggered this `ACK`. */
  readonly echoTimestamp: number;
  /** Ms the receiver held that `DATA` before sending this `ACK` (u16, saturating). */
  readonly delayMs: number;
  /** Runs received above `cumulative`: ascending, disjoint, not adjacent, at most {@linkcode MAX_ACK_RANGES}. */
  readonly ranges: readonly AckRange[];
}

function fail(reason: ProtocolErrorReason, message: string): never {
  throw new ProtocolError(reason, message);
}

function u32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    fail("field-out-of-range", `${field} must be a u32, got ${value}`);
  }
  return value;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = v >>> 16;
  out[o + 2] = v >>> 8;
  out[o + 3] = v;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function frame(type: number, payloadLength: number): Uint8Array {
  const out = new Uint8Array(FRAMING_BYTES + payloadLength);
  out[0] = type; // peer count 0
  writeU32(out, 3, payloadLength);
  return out;
}

function payloadOf(datagram: Uint8Array, type: number, options?: DecodeOptions): Uint8Array {
  const message = decode(datagram, options);
  if (message.type !== "EXTENSION" || message.code !== type) {
    const code = message.type === "EXTENSION" ? message.code : message.type;
    fail("unexpected-type", `expected type ${type}, got ${code}`);
  }
  return message.payload;
}

/**
 * Whether a datagram is for the reliable-delivery engine (`DATA` or `ACK`),
 * by its first byte: how a peer link routes what arrives on its path.
 *
 * @param datagram The bytes.
 * @returns `true` for type 16 or 17.
 *
 * @example
 * ```ts
 * import { isReliableDatagram } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isReliableDatagram(new Uint8Array([17, 0, 0])));
 * assert.ok(!isReliableDatagram(new Uint8Array([3, 0, 0]))); // APP_R
 * ```
 */
export function isReliableDatagram(datagram: Uint8Array): boolean {
  const type = datagram[0];
  return type === DATA_TYPE || type === ACK_TYPE;
}

/**
 * Size of a `DATA` datagram carrying `dataBytes` of message data.
 *
 * @param dataBytes Bytes of data in the datagram.
 * @param fragmented Whether it is a fragment (4 more header bytes).
 * @returns The datagram size in bytes.
 *
 * @example The header cost of an unfragmented message
 * ```ts
 * import { dataDatagramBytes } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.equal(dataDatagramBytes(1000, false), 1024);
 * assert.equal(dataDatagramBytes(1000, true), 1028);
 * ```
 */
export function dataDatagramBytes(dataBytes: number, fragmented: boolean): number {
  return FRAMING_BYTES + DATA_HEADER_BYTES + (fragmented ? FRAGMENT_FIELDS_BYTES : 0) + dataBytes;
}

/**
 * Size of an `ACK` datagram with `ranges` selective ranges.
 *
 * @param ranges Number of ranges.
 * @returns The datagram size in bytes.
 *
 * @example
 * ```ts
 * import { ackDatagramBytes } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.equal(ackDatagramBytes(0), 26);
 * assert.equal(ackDatagramBytes(2), 42);
 * ```
 */
export function ackDatagramBytes(ranges: number): number {
  return FRAMING_BYTES + ACK_HEADER_BYTES + ranges * ACK_RANGE_BYTES;
}

/**
 * Encodes a `DATA` datagram (v1 framing, empty peers block).
 *
 * @param data The frame.
 * @returns A new datagram.
 * @throws {ProtocolError} `field-out-of-range` for a number that does not fit
 *   its field, `invalid-fragment` for an impossible index or count.
 *
 * @example A small reliable, ordered message
 * ```ts
 * import { decodeData, encodeData } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeData({
 *   session: 7, seq: 7, timestamp: 1000, messageId: 0, reliable: true, ordered: true,
 *   fragmentIndex: 0, fragmentCount: 1, data: new TextEncoder().encode("hi"),
 * });
 * assert.equal(bytes[0], 16);
 * assert.equal(bytes.length, 26);
 * assert.equal(new TextDecoder().decode(decodeData(bytes).data), "hi");
 * ```
 */
export function encodeData(data: DataFrame): Uint8Array {
  const { fragmentIndex, fragmentCount } = data;
  if (
    !Number.isInteger(fragmentCount) || fragmentCount < 1 || fragmentCount > MAX_FRAGMENTS ||
    !Number.isInteger(fragmentIndex) || fragmentIndex < 0 || fragmentIndex >= fragmentCount
  ) {
    fail("invalid-fragment", `fragment ${fragmentIndex} of ${fragmentCount} is impossible`);
  }
  const fragmented = fragmentCount > 1;
  const header = DATA_HEADER_BYTES + (fragmented ? FRAGMENT_FIELDS_BYTES : 0);
  const out = frame(DATA_TYPE, header + data.data.length);
  const p = FRAMING_BYTES;
  out[p] = (data.reliable ? FLAG_RELIABLE : 0) | (data.ordered ? FLAG_ORDERED : 0) |
    (fragmented ? FLAG_FRAGMENT : 0);
  writeU32(out, p + 1, u32(data.session, "session"));
  writeU32(out, p + 5, u32(data.seq, "seq"));
  writeU32(out, p + 9, u32(data.timestamp, "timestamp"));
  writeU32(out, p + 13, u32(data.messageId, "messageId"));
  if (fragmented) {
    out[p + 17] = fragmentIndex >>> 8;
    out[p + 18] = fragmentIndex;
    out[p + 19] = fragmentCount >>> 8;
    out[p + 20] = fragmentCount;
  }
  out.set(data.data, p + header);
  return out;
}

/**
 * Parses the payload of a `DATA` message (what `decode()` returns as the
 * `EXTENSION` payload of code 16).
 *
 * @param payload The payload bytes.
 * @returns The frame; `data` is a view of `payload`.
 * @throws {ProtocolError} `truncated-payload`, `invalid-flags` or `invalid-fragment`.
 *
 * @example Through the v1 decoder
 * ```ts
 * import { decode } from "@olaf/protocol";
 * import { encodeData, parseData } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const message = decode(encodeData({
 *   session: 1, seq: 1, timestamp: 0, messageId: 5, reliable: true, ordered: false,
 *   fragmentIndex: 2, fragmentCount: 3, data: new Uint8Array([9]),
 * }));
 * assert.equal(message.type, "EXTENSION");
 * if (message.type === "EXTENSION") assert.equal(parseData(message.payload).fragmentIndex, 2);
 * ```
 */
export function parseData(payload: Uint8Array): DataFrame {
  if (payload.length < DATA_HEADER_BYTES) {
    fail("truncated-payload", `DATA payload of ${payload.length} bytes is shorter than its header`);
  }
  const flags = payload[0]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) fail("invalid-flags", `unknown DATA flags 0x${hex(flags)}`);
  let fragmentIndex = 0;
  let fragmentCount = 1;
  let header = DATA_HEADER_BYTES;
  if (flags & FLAG_FRAGMENT) {
    header += FRAGMENT_FIELDS_BYTES;
    if (payload.length < header) fail("truncated-payload", "DATA fragment fields are cut");
    fragmentIndex = (payload[17]! << 8) | payload[18]!;
    fragmentCount = (payload[19]! << 8) | payload[20]!;
    if (fragmentCount < 2 || fragmentIndex >= fragmentCount) {
      fail("invalid-fragment", `fragment ${fragmentIndex} of ${fragmentCount} is impossible`);
    }
  }
  return {
    session: readU32(payload, 1),
    seq: readU32(payload, 5),
    timestamp: readU32(payload, 9),
    messageId: readU32(payload, 13),
    reliable: (flags & FLAG_RELIABLE) !== 0,
    ordered: (flags & FLAG_ORDERED) !== 0,
    fragmentIndex,
    fragmentCount,
    data: payload.subarray(header),
  };
}

/**
 * Decodes a whole `DATA` datagram.
 *
 * @param datagram The bytes.
 * @param options v1 decoder limits.
 * @returns The frame (`data` is a view of `datagram`).
 * @throws {ProtocolError} For bad framing, another type (`unexpected-type`) or a bad payload.
 *
 * @example A datagram of another type is refused
 * ```ts
 * import { ProtocolError, encode } from "@olaf/protocol";
 * import { decodeData } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const ping = encode({ type: "PING", peers: [], payload: new Uint8Array() });
 * assert.throws(() => decodeData(ping), (e) => e instanceof ProtocolError && e.reason === "unexpected-type");
 * ```
 */
export function decodeData(datagram: Uint8Array, options?: DecodeOptions): DataFrame {
  return parseData(payloadOf(datagram, DATA_TYPE, options));
}

function checkRanges(cumulative: number, ranges: readonly AckRange[]): void {
  let floor = cumulative; // the next range must start strictly after this
  for (const { start, end } of ranges) {
    if (
      serialDiff(start, floor) <= 0 || serialDiff(end, start) <= 0 ||
      serialDiff(end, cumulative) <= 0
    ) {
      fail("invalid-ack-ranges", `range ${start}..${end} is not ascending above ${floor}`);
    }
    floor = end;
  }
}

/**
 * Encodes an `ACK` datagram (v1 framing, empty peers block).
 *
 * @param ack The frame.
 * @returns A new datagram.
 * @throws {ProtocolError} `field-out-of-range`, `too-many-ranges` or `invalid-ack-ranges`.
 *
 * @example Everything before 10 and 12..14 received
 * ```ts
 * import { decodeAck, encodeAck } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const ack = { session: 1, incarnation: 2, cumulative: 10, echoTimestamp: 500, delayMs: 3, ranges: [{ start: 12, end: 14 }] };
 * assert.deepEqual(decodeAck(encodeAck(ack)), ack);
 * ```
 */
export function encodeAck(ack: AckFrame): Uint8Array {
  const n = ack.ranges.length;
  if (n > MAX_ACK_RANGES) fail("too-many-ranges", `${n} ranges is over ${MAX_ACK_RANGES}`);
  const cumulative = u32(ack.cumulative, "cumulative");
  for (const r of ack.ranges) u32(r.start, "range start"), u32(r.end, "range end");
  checkRanges(cumulative, ack.ranges);
  if (!Number.isInteger(ack.delayMs) || ack.delayMs < 0) {
    fail("field-out-of-range", `delayMs must be a non-negative integer, got ${ack.delayMs}`);
  }
  const out = frame(ACK_TYPE, ACK_HEADER_BYTES + n * ACK_RANGE_BYTES);
  const p = FRAMING_BYTES;
  writeU32(out, p, u32(ack.session, "session"));
  writeU32(out, p + 4, u32(ack.incarnation, "incarnation"));
  writeU32(out, p + 8, cumulative);
  writeU32(out, p + 12, u32(ack.echoTimestamp, "echoTimestamp"));
  const delay = Math.min(ack.delayMs, 0xffff);
  out[p + 16] = delay >>> 8;
  out[p + 17] = delay;
  out[p + 18] = n;
  for (let i = 0; i < n; i++) {
    writeU32(out, p + 19 + i * 8, ack.ranges[i]!.start);
    writeU32(out, p + 23 + i * 8, ack.ranges[i]!.end);
  }
  return out;
}

/**
 * Parses the payload of an `ACK` message.
 *
 * @param payload The payload bytes.
 * @returns The frame.
 * @throws {ProtocolError} `truncated-payload`, `trailing-bytes`, `too-many-ranges` or `invalid-ack-ranges`.
 *
 * @example A truncated ACK
 * ```ts
 * import { ProtocolError } from "@olaf/protocol";
 * import { parseAck } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parseAck(new Uint8Array(18)), (e) => e instanceof ProtocolError && e.reason === "truncated-payload");
 * ```
 */
export function parseAck(payload: Uint8Array): AckFrame {
  if (payload.length < ACK_HEADER_BYTES) {
    fail("truncated-payload", `ACK payload of ${payload.length} bytes is shorter than its header`);
  }
  const n = payload[18]!;
  if (n > MAX_ACK_RANGES) fail("too-many-ranges", `${n} ranges is over ${MAX_ACK_RANGES}`);
  const size = ACK_HEADER_BYTES + n * ACK_RANGE_BYTES;
  if (payload.length < size) fail("truncated-payload", `${n} ranges need ${size} bytes`);
  if (payload.length > size) {
    fail("trailing-bytes", `${payload.length - size} bytes after the ranges`);
  }
  const cumulative = readU32(payload, 8);
  const ranges: AckRange[] = [];
  for (let i = 0; i < n; i++) {
    ranges.push({ start: readU32(payload, 19 + i * 8), end: readU32(payload, 23 + i * 8) });
  }
  checkRanges(cumulative, ranges);
  return {
    session: readU32(payload, 0),
    incarnation: readU32(payload, 4),
    cumulative,
    echoTimestamp: readU32(payload, 12),
    delayMs: (payload[16]! << 8) | payload[17]!,
    ranges,
  };
}

/**
 * Decodes a whole `ACK` datagram.
 *
 * @param datagram The bytes.
 * @param options v1 decoder limits.
 * @returns The frame.
 * @throws {ProtocolError} For bad framing, another type (`unexpected-type`) or a bad payload.
 *
 * @example
 * ```ts
 * import { decodeAck, encodeAck } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeAck({ session: 0, incarnation: 0, cumulative: 0, echoTimestamp: 0, delayMs: 0, ranges: [] });
 * assert.equal(decodeAck(bytes).ranges.length, 0);
 * ```
 */
export function decodeAck(datagram: Uint8Array, options?: DecodeOptions): AckFrame {
  return parseAck(payloadOf(datagram, ACK_TYPE, options));
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

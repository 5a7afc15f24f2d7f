import { ProtocolError } from "./errors.ts";
import { formatIPv4 } from "./ipv4.ts";
import type { BootstrapReplyMessage, Message, MessageInit, MessageTypeName } from "./message.ts";
import { MessageType } from "./message.ts";
import { PEER_RECORD_BYTES, PeerList, type PeerListLike, writePeerRecord } from "./peer_list.ts";
import { Slab } from "./slab.ts";

/** Size of the `type | peer count` header. */
export const HEADER_BYTES = 3;

/** Largest UDP payload over IPv4, the default datagram limit. */
export const MAX_DATAGRAM_BYTES = 65_507;

/** Deployed peers read into a buffer of this size; longer datagrams fail on their side. */
export const V1_RECEIVE_BUFFER_BYTES = 1024;

/**
 * Longest room name in UTF-8 bytes that Olaf bootstraps accept by default and
 * Olaf peers send: one limit, so a peer refuses a longer name at once instead
 * of waiting for a bootstrap that drops it. (The codec decodes up to 1000.)
 */
export const MAX_ROOM_NAME_BYTES = 255;

/** Default {@linkcode DecodeOptions.maxPeers}: the records that fit the largest datagram. */
export const DEFAULT_MAX_PEERS = 6550;

/** Default {@linkcode DecodeOptions.maxRoomBytes}: longest room name in UTF-8 bytes. */
export const DEFAULT_MAX_ROOM_BYTES = 1000;

/** Largest peer count the u16 header field can carry. */
export const MAX_PEER_COUNT = 0xffff;

/** Limits applied while decoding. Each has a safe default. */
export interface DecodeOptions {
  /** Longest datagram accepted, default {@linkcode MAX_DATAGRAM_BYTES}. */
  maxDatagramBytes?: number;
  /** Most peer records accepted, default {@linkcode DEFAULT_MAX_PEERS} (what fits in the largest datagram). */
  maxPeers?: number;
  /** Longest room name in UTF-8 bytes, default {@linkcode DEFAULT_MAX_ROOM_BYTES}. */
  maxRoomBytes?: number;
  /**
   * Longest payload of the other types (`PING`, `APP_R`, `ROOM_FULL`,
   * extensions) in bytes; by default only the datagram limit applies.
   */
  maxPayloadBytes?: number;
}

/** Limits applied while encoding. */
export interface EncodeOptions {
  /** Longest datagram produced, default {@linkcode MAX_DATAGRAM_BYTES}. */
  maxDatagramBytes?: number;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function fail(reason: ConstructorParameters<typeof ProtocolError>[0], message: string): never {
  throw new ProtocolError(reason, message);
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Decodes one datagram into a typed message.
 *
 * No copies are made: `payload` fields are `subarray` views of `data` and
 * `peers` reads records out of `data` on demand, so keep `data` unchanged for
 * as long as you use the message (copy with `slice()` / `toArray()` to keep
 * parts longer). Room names are decoded to strings (strict UTF-8).
 *
 * @param data The datagram.
 * @param options Limits; defaults are safe for a public server.
 * @returns The message. Unknown type codes decode as `EXTENSION`.
 * @throws {ProtocolError} For anything malformed or over a limit, never another error.
 *
 * @example Decode a join
 * ```ts
 * import { decode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = Uint8Array.from([1, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
 * const message = decode(bytes);
 * assert.equal(message.type, "JOIN_B");
 * if (message.type === "JOIN_B") assert.equal(message.room, "hi");
 * ```
 */
export function decode(data: Uint8Array, options?: DecodeOptions): Message {
  const length = data.length;
  if (length > (options?.maxDatagramBytes ?? MAX_DATAGRAM_BYTES)) {
    fail("datagram-too-large", `datagram of ${length} bytes is over the limit`);
  }
  if (length < HEADER_BYTES) {
    fail("truncated-header", `datagram of ${length} bytes is shorter than the 3-byte header`);
  }
  const code = data[0]!;
  const count = (data[1]! << 8) | data[2]!;
  if (count > (options?.maxPeers ?? DEFAULT_MAX_PEERS)) {
    fail("too-many-peers", `${count} peer records is over the limit`);
  }
  const peersEnd = HEADER_BYTES + count * PEER_RECORD_BYTES;
  if (peersEnd > length) {
    fail("peer-block-overflow", `${count} peer records need ${peersEnd} bytes, got ${length}`);
  }
  const peers = count === 0 ? PeerList.EMPTY : new PeerList(data, HEADER_BYTES, count);

  if (code === MessageType.BOOTSTRAP_R) {
    const end = peersEnd + PEER_RECORD_BYTES;
    if (length < end) fail("truncated-payload", "BOOTSTRAP_R is missing its own-record payload");
    if (length > end) fail("trailing-bytes", `${length - end} bytes after the payload`);
    const self = {
      ip: formatIPv4(readU32(data, peersEnd)),
      port: (data[peersEnd + 4]! << 8) | data[peersEnd + 5]!,
      id: readU32(data, peersEnd + 6),
    };
    return { type: "BOOTSTRAP_R", peers, self };
  }

  if (length < peersEnd + 4) fail("truncated-payload", "missing the payload length");
  const payloadLength = readU32(data, peersEnd);
  const start = peersEnd + 4;
  const end = start + payloadLength;
  if (end > length) {
    fail("payload-length-overflow", `payload of ${payloadLength} bytes runs past the end`);
  }
  if (end < length) fail("trailing-bytes", `${length - end} bytes after the payload`);
  const payload = data.subarray(start, end);
  if (
    payloadLength > (options?.maxPayloadBytes ?? MAX_DATAGRAM_BYTES) &&
    code !== MessageType.JOIN_B && code !== MessageType.PEER_COLLECTOR // rooms have their own limit
  ) {
    fail("payload-too-large", `payload of ${payloadLength} bytes is over the limit`);
  }

  switch (code) {
    case MessageType.PING:
      return { type: "PING", peers, payload };
    case MessageType.APP_R:
      return { type: "APP_R", peers, payload };
    case MessageType.ROOM_FULL:
      return { type: "ROOM_FULL", peers, payload };
    case MessageType.JOIN_B:
      return { type: "JOIN_B", peers, room: decodeRoom(payload, options) };
    case MessageType.PEER_COLLECTOR:
      return { type: "PEER_COLLECTOR", peers, room: decodeRoom(payload, options) };
    default:
      return { type: "EXTENSION", code, peers, payload };
  }
}

function decodeRoom(bytes: Uint8Array, options: DecodeOptions | undefined): string {
  if (bytes.length > (options?.maxRoomBytes ?? DEFAULT_MAX_ROOM_BYTES)) {
    fail("room-too-long", `room name of ${bytes.length} bytes is over the limit`);
  }
  if (bytes.length === 0) return "";
  // Most room names are short ASCII: building the string directly is several
  // times faster than a fatal TextDecoder call, which costs a third of a join.
  if (bytes.length <= 64) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return fail("room-not-utf8", "room name is not valid UTF-8");
  }
}

function roomBytes(room: string): Uint8Array {
  if (!room.isWellFormed()) fail("room-not-utf8", "room name has lone surrogates");
  return utf8Encoder.encode(room);
}

interface Layout {
  code: number;
  count: number;
  /** `undefined` for `BOOTSTRAP_R`, whose payload is the recipient's record. */
  payload: Uint8Array | undefined;
  size: number;
}

function layout(message: MessageInit, options: EncodeOptions | undefined): Layout {
  const count = message.peers.length;
  if (count > MAX_PEER_COUNT) {
    fail("too-many-peers", `${count} peer records do not fit a u16 count`);
  }
  let code: number;
  let payload: Uint8Array | undefined;
  switch (message.type) {
    case "JOIN_B":
    case "PEER_COLLECTOR":
      code = MessageType[message.type];
      payload = roomBytes(message.room);
      break;
    case "BOOTSTRAP_R":
      code = MessageType.BOOTSTRAP_R;
      break;
    case "EXTENSION":
      code = message.code;
      // Any code v1 does not define (6..15 reserved, Olaf's from FIRST_EXTENSION_CODE) fits a u8.
      if (!Number.isInteger(code) || code <= MessageType.PEER_COLLECTOR || code > 0xff) {
        fail("invalid-type", `extension type code must be 6..255, got ${code}`);
      }
      payload = message.payload;
      break;
    default:
      code = MessageType[message.type];
      payload = message.payload;
  }
  const peersEnd = HEADER_BYTES + count * PEER_RECORD_BYTES;
  const size = peersEnd + (payload === undefined ? PEER_RECORD_BYTES : 4 + payload.length);
  if (size > (options?.maxDatagramBytes ?? MAX_DATAGRAM_BYTES)) {
    fail("datagram-too-large", `message of ${size} bytes is over the limit`);
  }
  return { code, count, payload, size };
}

/** Writes every byte of the message at `offset` (the caller checked the room). */
function write(
  message: MessageInit,
  { code, count, payload }: Layout,
  out: Uint8Array,
  offset: number,
) {
  const peers = message.peers;
  out[offset] = code;
  out[offset + 1] = count >>> 8;
  out[offset + 2] = count;
  const first = offset + HEADER_BYTES;
  if (peers instanceof PeerList) {
    out.set(peers.bytes(), first);
  } else {
    for (let i = 0; i < count; i++) writePeerRecord(out, first + i * PEER_RECORD_BYTES, peers[i]!);
  }
  const peersEnd = first + count * PEER_RECORD_BYTES;
  if (payload === undefined) {
    writePeerRecord(out, peersEnd, (message as BootstrapReplyMessage<PeerListLike>).self);
  } else {
    const n = payload.length;
    out[peersEnd] = n >>> 24;
    out[peersEnd + 1] = n >>> 16;
    out[peersEnd + 2] = n >>> 8;
    out[peersEnd + 3] = n;
    out.set(payload, peersEnd + 4);
  }
}

// Allocating a typed array costs several times more than encoding a small
// message, so results of up to 4 KiB are carved from a shared slab.
const slab = new Slab({ slabBytes: 32 * 1024, maxPooledBytes: 4 * 1024 });

/**
 * Encodes a message into a new datagram.
 *
 * Messages of up to 4 KiB are returned as views into a pooled 32 KiB buffer
 * that is never written again: the bytes are yours, but `result.buffer` is
 * shared with other results, so use `result.slice()` if you need a buffer of
 * its own (or {@linkcode encodeInto} to write into yours).
 *
 * @param message The message; `peers` may be a decoded {@linkcode PeerList}
 *   (its bytes are copied as they are) or an array of records (validated).
 * @param options Limits.
 * @returns The datagram bytes.
 * @throws {ProtocolError} For invalid fields (`invalid-ipv4`, `port-out-of-range`,
 *   `id-out-of-range`, `room-not-utf8`, `invalid-type`) or a datagram over the limit.
 *
 * @example Encode a join and check it against the wire format
 * ```ts
 * import { encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encode({ type: "JOIN_B", peers: [], room: "hi" });
 * assert.deepEqual([...bytes], [1, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
 * ```
 */
export function encode(message: MessageInit, options?: EncodeOptions): Uint8Array {
  const plan = layout(message, options);
  const out = slab.take(plan.size);
  write(message, plan, out, 0); // a throw here only wastes the region
  return out;
}

/**
 * Encodes a message into `target` at `offset`, for callers that manage their
 * own buffers.
 *
 * @param message The message (as for {@linkcode encode}).
 * @param target Where to write.
 * @param offset Where in `target` to start, default 0.
 * @param options Limits.
 * @returns The number of bytes written.
 * @throws {ProtocolError} As {@linkcode encode} does.
 * @throws {RangeError} When the message does not fit in `target` from `offset`.
 *
 * @example Two messages back to back in one buffer
 * ```ts
 * import { decode, encodeInto } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const buffer = new Uint8Array(64);
 * const first = encodeInto({ type: "PING", peers: [], payload: new Uint8Array() }, buffer);
 * const second = encodeInto({ type: "JOIN_B", peers: [], room: "lobby" }, buffer, first);
 * assert.equal(decode(buffer.subarray(first, first + second)).type, "JOIN_B");
 * ```
 */
export function encodeInto(
  message: MessageInit,
  target: Uint8Array,
  offset = 0,
  options?: EncodeOptions,
): number {
  const plan = layout(message, options);
  if (!(offset >= 0) || offset + plan.size > target.length) {
    throw new RangeError(`${plan.size} bytes do not fit at offset ${offset} of ${target.length}`);
  }
  write(message, plan, target, offset);
  return plan.size;
}

/**
 * How many peer records fit in a datagram of at most `budgetBytes`.
 *
 * @param budgetBytes The byte budget (e.g. {@linkcode V1_RECEIVE_BUFFER_BYTES}).
 * @param options `type` of the message (default `BOOTSTRAP_R`, whose payload is
 *   one 10-byte record) and, for other types, `payloadBytes`.
 * @returns The number of records, 0..65535.
 *
 * @example The deployed 1024-byte receive buffer holds 101 peers in a reply
 * ```ts
 * import { peersThatFit } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(peersThatFit(1024), 101);
 * assert.equal(peersThatFit(1024, { type: "PING" }), 101);
 * assert.equal(peersThatFit(1024, { type: "APP_R", payloadBytes: 500 }), 51);
 * ```
 */
export function peersThatFit(
  budgetBytes: number,
  options?: { type?: MessageTypeName | "EXTENSION"; payloadBytes?: number },
): number {
  const type = options?.type ?? "BOOTSTRAP_R";
  const trailer = type === "BOOTSTRAP_R" ? PEER_RECORD_BYTES : 4 + (options?.payloadBytes ?? 0);
  const fit = Math.floor((budgetBytes - HEADER_BYTES - trailer) / PEER_RECORD_BYTES);
  return Math.max(0, Math.min(MAX_PEER_COUNT, fit));
}

/**
 * In-place writers for the two replies a bootstrap sends, `BOOTSTRAP_R` and
 * `ROOM_FULL`: the bytes go straight into the caller's buffer from numbers
 * (no message objects, no strings), so a server that keeps its members as
 * numbers encodes a reply without allocating. The layout is the codec's:
 * {@linkcode decode} reads every byte written here.
 */
import { HEADER_BYTES, MAX_PEER_COUNT } from "./codec.ts";
import { MessageType } from "./message.ts";
import { PEER_RECORD_BYTES, writePeerFields } from "./peer_list.ts";

/** Size of a `ROOM_FULL` without payload: header and a zero payload length. */
export const ROOM_FULL_BYTES: number = HEADER_BYTES + 4;

/**
 * Size of a `BOOTSTRAP_R` listing `records` members: header, the records and
 * the recipient's own record.
 *
 * @param records Number of member records, 0..65535.
 * @returns Bytes.
 *
 * @example
 * ```ts
 * import { bootstrapReplyBytes } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(bootstrapReplyBytes(101), 1023); // fits a deployed peer's 1024-byte buffer
 * ```
 */
export function bootstrapReplyBytes(records: number): number {
  return HEADER_BYTES + records * PEER_RECORD_BYTES + PEER_RECORD_BYTES;
}

/**
 * Starts a `BOOTSTRAP_R` of `records` members at the start of `target`:
 * writes the header and returns where the first record goes. Then write the
 * `records` member records and, last, the recipient's own record (`0.0.0.0:0`
 * id 0 for "no record") with {@linkcode writeReplyRecord}. Functions, not an
 * object, because this runs once per record on a bootstrap's hot path.
 *
 * @param target Buffer of at least {@linkcode bootstrapReplyBytes}(`records`) bytes.
 * @param records Members the reply lists, 0..65535.
 * @returns The offset of the first record.
 * @throws {RangeError} When `records` is out of range or the reply does not fit.
 *
 * @example Write the reply a lone member gets
 * ```ts
 * import {
 *   bootstrapReplyBytes,
 *   decode,
 *   writeBootstrapReplyHeader,
 *   writeReplyRecord,
 * } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const out = new Uint8Array(bootstrapReplyBytes(1));
 * let offset = writeBootstrapReplyHeader(out, 1);
 * offset = writeReplyRecord(out, offset, 0x7f000001, 12346, 1763700000); // the member
 * offset = writeReplyRecord(out, offset, 0x7f000001, 12346, 1763700000); // self
 * assert.equal(offset, out.length);
 * const reply = decode(out);
 * assert.equal(reply.type, "BOOTSTRAP_R");
 * if (reply.type === "BOOTSTRAP_R") {
 *   assert.deepEqual(reply.self, { ip: "127.0.0.1", port: 12346, id: 1763700000 });
 * }
 * ```
 */
export function writeBootstrapReplyHeader(target: Uint8Array, records: number): number {
  if (!(Number.isInteger(records) && records >= 0 && records <= MAX_PEER_COUNT)) {
    throw new RangeError(`a reply lists 0..${MAX_PEER_COUNT} records, got ${records}`);
  }
  if (target.length < bootstrapReplyBytes(records)) {
    throw new RangeError(
      `${bootstrapReplyBytes(records)} bytes do not fit a buffer of ${target.length}`,
    );
  }
  target[0] = MessageType.BOOTSTRAP_R;
  target[1] = records >>> 8;
  target[2] = records & 255;
  return HEADER_BYTES;
}

/**
 * Writes one 10-byte peer record (`ipv4 | port | id`, big-endian) at
 * `offset` from numbers. Values are not range-checked: callers hold
 * validated numbers (a bootstrap's members), and the header's bounds check
 * covers the records it counts.
 *
 * @param target Destination.
 * @param offset Where the record goes.
 * @param ipv4 Address as a number.
 * @param port Port.
 * @param id Peer id.
 * @returns The offset after the record.
 *
 * @example
 * ```ts
 * import { writeReplyRecord } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * const out = new Uint8Array(10);
 * assert.equal(writeReplyRecord(out, 0, 0x7f000001, 80, 2), 10);
 * assert.deepEqual([...out], [127, 0, 0, 1, 0, 80, 0, 0, 0, 2]);
 * ```
 */
export function writeReplyRecord(
  target: Uint8Array,
  offset: number,
  ipv4: number,
  port: number,
  id: number,
): number {
  writePeerFields(target, offset, ipv4, port, id);
  return offset + PEER_RECORD_BYTES;
}

/**
 * Writes a `ROOM_FULL` (no peers, empty payload) at `offset` of `target`.
 *
 * @param target Buffer with {@linkcode ROOM_FULL_BYTES} free from `offset`.
 * @param offset Where to write, default 0.
 * @returns {@linkcode ROOM_FULL_BYTES}.
 * @throws {RangeError} When it does not fit.
 *
 * @example
 * ```ts
 * import { decode, ROOM_FULL_BYTES, writeRoomFull } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * const out = new Uint8Array(ROOM_FULL_BYTES);
 * writeRoomFull(out);
 * assert.equal(decode(out).type, "ROOM_FULL");
 * ```
 */
export function writeRoomFull(target: Uint8Array, offset = 0): number {
  if (!(offset >= 0) || offset + ROOM_FULL_BYTES > target.length) {
    throw new RangeError(`${ROOM_FULL_BYTES} bytes do not fit at offset ${offset}`);
  }
  target.fill(0, offset, offset + ROOM_FULL_BYTES);
  target[offset] = MessageType.ROOM_FULL;
  return ROOM_FULL_BYTES;
}

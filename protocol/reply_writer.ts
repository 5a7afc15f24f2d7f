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
 * Writes a `BOOTSTRAP_R` into `target`, one record at a time: {@linkcode
 * BootstrapReplyWriter.begin} writes the header, {@linkcode
 * BootstrapReplyWriter.member} each listed member, {@linkcode
 * BootstrapReplyWriter.self} (or {@linkcode BootstrapReplyWriter.noSelf}) the
 * recipient's own record last. Addresses are IPv4 numbers; values are not
 * range-checked (callers hold validated numbers), but the record count and
 * the buffer bounds are.
 *
 * @example Write the reply a lone member gets
 * ```ts
 * import { bootstrapReplyBytes, BootstrapReplyWriter, decode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const out = new Uint8Array(bootstrapReplyBytes(1));
 * const writer = new BootstrapReplyWriter();
 * writer.begin(out, 1);
 * writer.member(0x7f000001, 12346, 1763700000);
 * writer.self(0x7f000001, 12346, 1763700000);
 * const reply = decode(out);
 * assert.equal(reply.type, "BOOTSTRAP_R");
 * if (reply.type === "BOOTSTRAP_R") {
 *   assert.deepEqual(reply.self, { ip: "127.0.0.1", port: 12346, id: 1763700000 });
 * }
 * ```
 */
export class BootstrapReplyWriter {
  #out: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #left = 0;

  /**
   * Starts a reply of `records` members at the start of `target`.
   *
   * @param target Buffer of at least {@linkcode bootstrapReplyBytes}(`records`) bytes.
   * @param records Members the reply lists.
   * @throws {RangeError} When `records` is not in 0..65535 or the reply does not fit.
   */
  begin(target: Uint8Array, records: number): void {
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
    this.#out = target;
    this.#offset = HEADER_BYTES;
    this.#left = records;
  }

  /** Records still to write before {@linkcode BootstrapReplyWriter.self}. */
  get remaining(): number {
    return this.#left;
  }

  /**
   * Writes the next member record.
   *
   * @param ipv4 Address as a number.
   * @param port Port.
   * @param id Member id.
   * @throws {RangeError} Past the count given to `begin`.
   */
  member(ipv4: number, port: number, id: number): void {
    if (this.#left <= 0) throw new RangeError("every record of the reply is written");
    writePeerFields(this.#out, this.#offset, ipv4, port, id);
    this.#offset += PEER_RECORD_BYTES;
    this.#left--;
  }

  /**
   * Writes the recipient's own record and ends the reply.
   *
   * @param ipv4 Recipient address as a number.
   * @param port Recipient port.
   * @param id Recipient id.
   * @returns Bytes written in all.
   * @throws {RangeError} When member records are missing.
   */
  self(ipv4: number, port: number, id: number): number {
    if (this.#left !== 0) throw new RangeError(`${this.#left} member records are missing`);
    writePeerFields(this.#out, this.#offset, ipv4, port, id);
    const size = this.#offset + PEER_RECORD_BYTES;
    this.#out = new Uint8Array(0);
    this.#offset = 0;
    return size;
  }

  /**
   * Ends the reply with the "no record" self (`0.0.0.0:0`, id 0), for a
   * recipient that is not a member.
   *
   * @returns Bytes written in all.
   */
  noSelf(): number {
    return this.self(0, 0, 0);
  }
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

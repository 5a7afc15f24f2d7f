import { ProtocolError } from "./errors.ts";
import { endpointKey, formatIPv4, parseIPv4 } from "./ipv4.ts";

/** Size of one peer record on the wire: IPv4 (4) + port (2) + id (4). */
export const PEER_RECORD_BYTES = 10;

/**
 * A peer as v1 names it: public IPv4 address, UDP port and the id the
 * bootstrap assigned (lower = joined earlier).
 */
export interface PeerRecord {
  /** IPv4 address, dotted-quad text. */
  readonly ip: string;
  /** UDP port, 0..65535. */
  readonly port: number;
  /** Bootstrap-assigned id, 0..2^32-1. */
  readonly id: number;
}

/**
 * A read-only list of peer records that reads them straight out of the bytes
 * it was decoded from: no copy, and no object per record until you ask for
 * one. The numeric accessors (`ipv4At`, `portAt`, `idAt`, `keyAt`) allocate
 * nothing. The list is a view: it reflects later changes to the underlying
 * buffer, so copy it ({@linkcode PeerList.toArray}) before reusing a receive
 * buffer.
 *
 * @example Read peers without allocating, or as records
 * ```ts
 * import { PeerList } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const list = PeerList.from([{ ip: "10.0.0.1", port: 5000, id: 7 }]);
 * assert.equal(list.length, 1);
 * assert.equal(list.portAt(0), 5000);
 * assert.deepEqual(list.toArray(), [{ ip: "10.0.0.1", port: 5000, id: 7 }]);
 * assert.equal(list.indexOf("10.0.0.1", 5000), 0);
 * ```
 */
export class PeerList implements Iterable<PeerRecord> {
  /** The empty list. */
  static readonly EMPTY: PeerList = new PeerList(new Uint8Array(0), 0, 0);

  /** Number of records. */
  readonly length: number;
  readonly #bytes: Uint8Array;
  readonly #offset: number;

  /**
   * Wraps `length` records starting at `offset` in `bytes`. The caller
   * guarantees the bytes are there (the decoder checks before it builds one).
   *
   * @param bytes Buffer holding the records.
   * @param offset Byte offset of the first record.
   * @param length Number of records.
   */
  constructor(bytes: Uint8Array, offset: number, length: number) {
    if (offset < 0 || length < 0 || offset + length * PEER_RECORD_BYTES > bytes.length) {
      throw new RangeError("peer records run past the end of the buffer");
    }
    this.#bytes = bytes;
    this.#offset = offset;
    this.length = length;
  }

  /**
   * Encodes records into a new list, validating each one.
   *
   * @param records Peers to encode.
   * @returns A list backed by a fresh buffer.
   * @throws {ProtocolError} `invalid-ipv4`, `port-out-of-range`, `id-out-of-range`.
   */
  static from(records: Iterable<PeerRecord>): PeerList {
    const array = Array.isArray(records) ? records as readonly PeerRecord[] : [...records];
    const bytes = new Uint8Array(array.length * PEER_RECORD_BYTES);
    for (let i = 0; i < array.length; i++) {
      writePeerRecord(bytes, i * PEER_RECORD_BYTES, array[i]!);
    }
    return new PeerList(bytes, 0, array.length);
  }

  #at(index: number): number {
    // `>>> 0` rejects negatives, fractions and NaN in one cheap comparison.
    if ((index >>> 0) !== index || index >= this.length) {
      throw new RangeError(`peer index ${index} out of range 0..${this.length - 1}`);
    }
    return this.#offset + index * PEER_RECORD_BYTES;
  }

  /**
   * IPv4 address of record `index` as a number.
   * @param index Record index.
   * @returns Address in 0..2^32-1.
   */
  ipv4At(index: number): number {
    const o = this.#at(index);
    const b = this.#bytes;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /**
   * IPv4 address of record `index` as text.
   * @param index Record index.
   * @returns Dotted-quad address.
   */
  ipAt(index: number): string {
    return formatIPv4(this.ipv4At(index));
  }

  /**
   * Port of record `index`.
   * @param index Record index.
   * @returns Port in 0..65535.
   */
  portAt(index: number): number {
    const o = this.#at(index) + 4;
    return (this.#bytes[o]! << 8) | this.#bytes[o + 1]!;
  }

  /**
   * Id of record `index`.
   * @param index Record index.
   * @returns Id in 0..2^32-1.
   */
  idAt(index: number): number {
    const o = this.#at(index) + 6;
    const b = this.#bytes;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /**
   * {@linkcode endpointKey} (ip and port as one number) of record `index`.
   * @param index Record index.
   * @returns The endpoint key.
   */
  keyAt(index: number): number {
    return endpointKey(this.ipv4At(index), this.portAt(index));
  }

  /**
   * Where the record for an endpoint is in the list.
   *
   * @param ip The endpoint's IPv4 address, as text or as a number.
   * @param port The endpoint's port.
   * @returns The first matching index, or -1 (also for text that is not IPv4).
   */
  indexOf(ip: string | number, port: number): number {
    let ipv4: number;
    if (typeof ip === "number") {
      ipv4 = ip;
    } else {
      try {
        ipv4 = parseIPv4(ip);
      } catch {
        return -1;
      }
    }
    const b = this.#bytes;
    for (let i = 0, o = this.#offset; i < this.length; i++, o += PEER_RECORD_BYTES) {
      if (
        ((b[o + 4]! << 8) | b[o + 5]!) === port &&
        ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0 === ipv4
      ) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Record `index` as an object.
   * @param index Record index.
   * @returns The record.
   */
  get(index: number): PeerRecord {
    return { ip: this.ipAt(index), port: this.portAt(index), id: this.idAt(index) };
  }

  /**
   * The raw `10 * length` bytes of the records (a view, not a copy).
   * @returns The records' bytes.
   */
  bytes(): Uint8Array {
    return this.#bytes.subarray(this.#offset, this.#offset + this.length * PEER_RECORD_BYTES);
  }

  /**
   * All records as plain objects.
   * @returns A new array.
   */
  toArray(): PeerRecord[] {
    const out = new Array<PeerRecord>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.get(i);
    return out;
  }

  /** Iterates the records as objects. */
  *[Symbol.iterator](): Iterator<PeerRecord> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/** Peers to encode: a decoded {@linkcode PeerList} (copied as bytes) or records. */
export type PeerListLike = PeerList | readonly PeerRecord[];

/**
 * Writes one validated peer record at `offset` in `target`.
 *
 * @param target Destination buffer (needs 10 bytes from `offset`).
 * @param offset Where to write.
 * @param record The peer.
 * @throws {ProtocolError} `invalid-ipv4`, `port-out-of-range`, `id-out-of-range`.
 *
 * @example
 * ```ts
 * import { writePeerRecord } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(10);
 * writePeerRecord(bytes, 0, { ip: "127.0.0.1", port: 12346, id: 1 });
 * assert.deepEqual([...bytes], [127, 0, 0, 1, 0x30, 0x3a, 0, 0, 0, 1]);
 * ```
 */
export function writePeerRecord(target: Uint8Array, offset: number, record: PeerRecord): void {
  const { port, id } = record;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new ProtocolError("port-out-of-range", `port out of range 0..65535: ${port}`);
  }
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new ProtocolError("id-out-of-range", `id out of range 0..4294967295: ${id}`);
  }
  writePeerFields(target, offset, parseIPv4(record.ip), port, id);
}

/**
 * Writes a peer record from numeric fields, unchecked: the fast path for
 * servers that keep addresses as numbers. Callers guarantee the ranges.
 *
 * @param target Destination buffer (needs 10 bytes from `offset`).
 * @param offset Where to write.
 * @param ipv4 Address as a number.
 * @param port Port, 0..65535.
 * @param id Id, 0..2^32-1.
 *
 * @example
 * ```ts
 * import { writePeerFields } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(10);
 * writePeerFields(bytes, 0, 0x7f000001, 80, 2);
 * assert.deepEqual([...bytes], [127, 0, 0, 1, 0, 80, 0, 0, 0, 2]);
 * ```
 */
export function writePeerFields(
  target: Uint8Array,
  offset: number,
  ipv4: number,
  port: number,
  id: number,
): void {
  target[offset] = ipv4 >>> 24;
  target[offset + 1] = ipv4 >>> 16;
  target[offset + 2] = ipv4 >>> 8;
  target[offset + 3] = ipv4;
  target[offset + 4] = port >>> 8;
  target[offset + 5] = port;
  target[offset + 6] = id >>> 24;
  target[offset + 7] = id >>> 16;
  target[offset + 8] = id >>> 8;
  target[offset + 9] = id;
}

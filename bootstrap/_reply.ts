/**
 * Reply building: which members a `BOOTSTRAP_R` lists, written by the
 * codec's in-place writer into views of a shared slab.
 */
import {
  bootstrapReplyBytes,
  BootstrapReplyWriter,
  ROOM_FULL_BYTES,
  writeRoomFull,
} from "@olaf/protocol";
import { endpointKeyIPv4, endpointKeyPort, Slab } from "@olaf/protocol/internal";
import type { Room } from "./_room.ts";

/** Builds the bootstrap's replies. */
export class Replies {
  /** Outgoing datagrams are views of shared buffers (the socket owns what it is given). */
  readonly #slab = new Slab({ slabBytes: 16_384 });
  readonly #writer = new BootstrapReplyWriter();
  /** Indices picked for one reply. */
  #picked = new Int32Array(0);

  /** A `ROOM_FULL`. */
  roomFull(): Uint8Array {
    const out = this.#slab.take(ROOM_FULL_BYTES);
    writeRoomFull(out);
    return out;
  }

  /**
   * A `BOOTSTRAP_R` listing `records` members of `room` for member
   * `selfIndex` (-1: the recipient is not a member, its own record is then
   * `0.0.0.0:0` id 0). A whole room is listed in join order; a bigger room
   * lists the recipient, the lowest id, then the most recently active others
   * (ties in join order), found without sorting the room.
   */
  bootstrapReply(room: Room, selfIndex: number, records: number, now: number): Uint8Array {
    const out = this.#slab.take(bootstrapReplyBytes(records));
    const writer = this.#writer;
    writer.begin(out, records);
    if (records === room.count) {
      for (let i = 0; i < records; i++) this.#member(room, i);
    } else {
      let left = records;
      if (selfIndex >= 0 && left > 0) {
        this.#member(room, selfIndex);
        left--;
      }
      const lowest = room.lowestIndex();
      if (lowest !== selfIndex && left > 0) {
        this.#member(room, lowest);
        left--;
      }
      if (left > 0) {
        if (this.#picked.length < left) this.#picked = new Int32Array(Math.max(left, 128));
        const picked = this.#picked;
        const n = room.mostRecent(left, selfIndex, lowest, now, picked);
        for (let j = 0; j < n; j++) this.#member(room, picked[j]!);
        // A room holds at least `records` members besides those two, so n === left.
      }
    }
    if (selfIndex >= 0) {
      const key = room.keyAt(selfIndex);
      writer.self(endpointKeyIPv4(key), endpointKeyPort(key), room.idAt(selfIndex));
    } else {
      writer.noSelf();
    }
    return out;
  }

  #member(room: Room, index: number): void {
    const key = room.keyAt(index);
    this.#writer.member(endpointKeyIPv4(key), endpointKeyPort(key), room.idAt(index));
  }
}

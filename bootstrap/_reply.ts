/**
 * Reply building: which members a `BOOTSTRAP_R` lists, written by the
 * codec's in-place writer into views of a shared slab.
 */
import {
  bootstrapReplyBytes,
  ROOM_FULL_BYTES,
  writeBootstrapReplyHeader,
  writeReplyRecord,
  writeRoomFull,
} from "@olaf/protocol";
import { Slab } from "@olaf/protocol/internal";
import { type Room, writeMember } from "./_room.ts";

/** Builds the bootstrap's replies. */
export class Replies {
  /** Outgoing datagrams are views of shared buffers (the socket owns what it is given). */
  readonly #slab = new Slab({ slabBytes: 16_384 });

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
   * (ties in join order), found without sorting the room. `othersOnly`
   * (issue 12) leaves the recipient out of the list.
   */
  bootstrapReply(
    room: Room,
    selfIndex: number,
    records: number,
    now: number,
    othersOnly = false,
  ): Uint8Array {
    const out = this.#slab.take(bootstrapReplyBytes(records));
    let offset = writeBootstrapReplyHeader(out, records);
    if (othersOnly) {
      // Issue 12, a reply within 3x its request: the lowest id (the collector, whom a v1 peer then
      // pings), then the most recently active others; never the recipient (it is the payload).
      let left = records;
      const lowest = room.lowestIndex();
      if (lowest !== selfIndex && lowest >= 0 && left > 0) {
        offset = writeMemberOf(out, offset, room, lowest);
        left--;
      }
      const skip = lowest !== selfIndex ? lowest : -1;
      if (left > 0) offset = room.writeMostRecent(left, selfIndex, skip, now, out, offset);
    } else if (records === room.count) {
      for (let i = 0; i < records; i++) offset = writeMemberOf(out, offset, room, i);
    } else {
      let left = records;
      if (selfIndex >= 0 && left > 0) {
        offset = writeMemberOf(out, offset, room, selfIndex);
        left--;
      }
      const lowest = room.lowestIndex();
      if (lowest !== selfIndex && left > 0) {
        offset = writeMemberOf(out, offset, room, lowest);
        left--;
      }
      // The room holds at least `left` others, so all `left` are found.
      if (left > 0) offset = room.writeMostRecent(left, selfIndex, lowest, now, out, offset);
    }
    // The recipient's own record last; 0.0.0.0:0 id 0 ("no record") for a non-member.
    if (selfIndex >= 0) writeMemberOf(out, offset, room, selfIndex);
    else writeReplyRecord(out, offset, 0, 0, 0);
    return out;
  }
}

function writeMemberOf(out: Uint8Array, offset: number, room: Room, index: number): number {
  return writeMember(out, offset, room.slots, index);
}

import assert from "node:assert/strict";
import {
  bootstrapReplyBytes,
  writeBootstrapReplyHeader,
  writeReplyRecord,
  writeRoomFull,
} from "./reply_writer.ts";
import { parseIPv4 } from "./ipv4.ts";

interface VectorCase {
  name: string;
  type: string;
  peers: [string, number, number][];
  self?: [string, number, number];
  hex: string;
}

const vectors: { cases: VectorCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/vectors-v1.json", import.meta.url)),
);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("the reply writer gives every BOOTSTRAP_R vector byte for byte", () => {
  const replies = vectors.cases.filter((c) => c.type === "BOOTSTRAP_R");
  assert.ok(replies.length >= 3);
  for (const c of replies) {
    // Written into a dirty, larger buffer: every byte of the reply must be written.
    const out = new Uint8Array(bootstrapReplyBytes(c.peers.length) + 5).fill(0xee);
    let offset = writeBootstrapReplyHeader(out, c.peers.length);
    for (const [ip, port, id] of c.peers) {
      offset = writeReplyRecord(out, offset, parseIPv4(ip), port, id);
    }
    const [ip, port, id] = c.self!;
    const size = writeReplyRecord(out, offset, parseIPv4(ip), port, id);
    assert.equal(size, bootstrapReplyBytes(c.peers.length), c.name);
    assert.equal(hex(out.subarray(0, size)), c.hex, c.name);
  }
});

Deno.test("writeRoomFull gives the ROOM_FULL vector", () => {
  const c = vectors.cases.find((c) => c.type === "ROOM_FULL")!;
  const out = new Uint8Array(9).fill(0xee);
  assert.equal(writeRoomFull(out, 1), 7);
  assert.equal(hex(out.subarray(1, 8)), c.hex);
  assert.equal(out[8], 0xee);
  assert.throws(() => writeRoomFull(new Uint8Array(6)), RangeError);
});

Deno.test("the reply header refuses counts and buffers that do not add up", () => {
  assert.throws(() => writeBootstrapReplyHeader(new Uint8Array(100), 65_536), RangeError);
  assert.throws(() => writeBootstrapReplyHeader(new Uint8Array(100), -1), RangeError);
  assert.throws(() => writeBootstrapReplyHeader(new Uint8Array(22), 1), /23 bytes do not fit/);
  assert.equal(writeBootstrapReplyHeader(new Uint8Array(23), 1), 3);
});

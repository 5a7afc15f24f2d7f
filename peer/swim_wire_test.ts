/**
 * The SWIM messages (codes 32..37) against the hex vectors of
 * protocol/EXTENSIONS.md (tests/fixtures/vectors-olaf-ext.json), both ways;
 * and a stranger's probe draws no more than it sent.
 */
import assert from "node:assert/strict";
import { decode, encode, ProtocolError } from "@olaf/protocol";
import { decodeSwim, encodeSwim, type SwimCode, type SwimMessage } from "./_swim_wire.ts";
import { PeerMachine } from "./peer_machine.ts";

interface Vector {
  name: string;
  fields: Omit<SwimMessage, "target"> & { target: SwimMessage["target"] | null };
  hex: string;
}

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/vectors-olaf-ext.json", import.meta.url)),
) as { swim: Vector[]; swimInvalid: { name: string; hex: string; reason: string }[] };

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function decodeHex(hex: string): SwimMessage {
  const message = decode(fromHex(hex));
  assert.equal(message.type, "EXTENSION");
  if (message.type !== "EXTENSION") throw new Error("unreachable");
  return decodeSwim(message.code as SwimCode, message.peers, message.payload);
}

Deno.test("SWIM vectors decode to their fields and encode to their bytes", () => {
  assert.equal(vectors.swim.length, 6, "one vector per code 32..37");
  for (const v of vectors.swim) {
    const expected = { ...v.fields, target: v.fields.target ?? undefined };
    assert.deepEqual(decodeHex(v.hex), expected, v.name);
    assert.equal(toHex(encodeSwim(expected)), v.hex, v.name);
  }
});

Deno.test("malformed SWIM messages fail with their ProtocolError reason", () => {
  for (const v of vectors.swimInvalid) {
    assert.throws(
      () => decodeHex(v.hex),
      (e) => e instanceof ProtocolError && e.reason === v.reason,
      v.name,
    );
  }
});

Deno.test("a machine answers a stranger's PROBE with an ACK no larger than 3x it, and counts malformed ones", () => {
  const bootstrap = { hostname: "10.0.0.1", port: 5000 };
  const m = new PeerMachine({ room: "lobby", bootstraps: [bootstrap] });
  m.handleTimeout(0);
  m.pollTransmit();
  const me = { ip: "10.0.0.9", port: 4000, id: 1 };
  m.handleDatagram(encode({ type: "BOOTSTRAP_R", peers: [me], self: me }), bootstrap, 1);
  while (m.pollTransmit() !== undefined) { /* drain */ }
  const probe = fromHex(vectors.swim[0]!.hex); // PROBE from 10.0.0.1:4000... as a stranger
  const from = { hostname: "10.0.0.1", port: 4000 };
  m.handleDatagram(probe, from, 10);
  const out: Uint8Array[] = [];
  for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) out.push(t.data);
  const ack = out.find((d) => d[0] === 33);
  assert.ok(ack, "the probe is acknowledged");
  const total = out.reduce((n, d) => n + d.length, 0);
  assert.ok(total <= 3 * probe.length, `${total} bytes back for a ${probe.length}-byte probe`);
  assert.equal(decodeHex(toHex(ack)).word, 1, "the ACK echoes the sequence number");
  m.handleDatagram(fromHex(vectors.swimInvalid[0]!.hex), from, 11);
  assert.equal(m.stats.drops["field-out-of-range"], 1);
});

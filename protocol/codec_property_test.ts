import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decode,
  encode,
  formatIPv4,
  type Message,
  type MessageInit,
  ProtocolError,
} from "./mod.ts";

const peer = fc.record({
  ip: fc.integer({ min: 0, max: 0xffffffff }).map(formatIPv4),
  port: fc.integer({ min: 0, max: 0xffff }),
  id: fc.integer({ min: 0, max: 0xffffffff }),
}, { noNullPrototype: true });
const peers = fc.array(peer, { maxLength: 30 });
const bytes = fc.uint8Array({ maxLength: 300 });
// Any code points, surrogate pairs included, within the default room limit.
const room = fc.string({ unit: "binary", maxLength: 60 });

const message: fc.Arbitrary<MessageInit> = fc.oneof(
  fc.record({ type: fc.constant("PING" as const), peers, payload: bytes }),
  fc.record({ type: fc.constant("JOIN_B" as const), peers, room }),
  fc.record({ type: fc.constant("BOOTSTRAP_R" as const), peers, self: peer }),
  fc.record({ type: fc.constant("APP_R" as const), peers, payload: bytes }),
  fc.record({ type: fc.constant("ROOM_FULL" as const), peers, payload: bytes }),
  fc.record({ type: fc.constant("PEER_COLLECTOR" as const), peers, room }),
  fc.record({
    type: fc.constant("EXTENSION" as const),
    code: fc.integer({ min: 6, max: 255 }),
    peers,
    payload: bytes,
  }),
);

/** A decoded message with its lazy parts made plain, for deep comparison. */
function plain(m: Message | MessageInit): unknown {
  const { peers, ...rest } = m;
  const list = Array.isArray(peers) ? peers : (peers as Message["peers"]).toArray();
  const out: Record<string, unknown> = { ...rest, peers: list };
  if ("payload" in m) out.payload = Array.from(m.payload);
  return out;
}

Deno.test("property: decode(encode(m)) equals m for every message", () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(plain(decode(encode(m))), plain(m));
    }),
    { numRuns: 2000 },
  );
});

function decodesOrRefuses(data: Uint8Array): void {
  let decoded: Message;
  try {
    decoded = decode(data);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return;
  }
  // Every accepted datagram is canonical: it re-encodes to the same bytes.
  assert.deepEqual(encode(decoded), data);
}

Deno.test("property: random bytes only ever give a message or a ProtocolError", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), decodesOrRefuses), {
    numRuns: 5000,
  });
});

Deno.test("property: truncated or corrupted valid datagrams give a message or a ProtocolError", () => {
  const mutated = fc.tuple(message, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })).map(
    ([m, cut, at, value]) => {
      const data = encode(m);
      const corrupted = data.slice(0, cut % (data.length + 1));
      if (corrupted.length > 0) corrupted[at % corrupted.length] = value;
      return corrupted;
    },
  );
  fc.assert(fc.property(mutated, decodesOrRefuses), { numRuns: 5000 });
});

import assert from "node:assert/strict";
import { encode } from "../codec.ts";
import { ProtocolError } from "../errors.ts";
import type { Transmit } from "../net/types.ts";
import { drainEvents, drainTransmits } from "./drain.ts";

const to = { hostname: "10.0.0.1", port: 1 };

Deno.test("drainTransmits decodes every queued datagram, in order, and passes now on", () => {
  const queue: Transmit[] = [
    { data: encode({ type: "JOIN_B", peers: [], room: "a" }), to },
    { data: encode({ type: "ROOM_FULL", peers: [], payload: new Uint8Array() }), to },
  ];
  const nows: (number | undefined)[] = [];
  const out = drainTransmits({
    pollTransmit: (now) => (nows.push(now), queue.shift()),
  }, 42);
  assert.deepEqual(out.map((t) => t.message.type), ["JOIN_B", "ROOM_FULL"]);
  assert.deepEqual(out[0]!.to, to);
  assert.deepEqual(nows, [42, 42, 42]);
});

Deno.test("drainTransmits throws on a datagram that does not decode", () => {
  const queue: Transmit[] = [{ data: new Uint8Array([0]), to }];
  assert.throws(() => drainTransmits({ pollTransmit: () => queue.shift() }), ProtocolError);
});

Deno.test("drainEvents empties the queue", () => {
  const queue = [1, 2, 3];
  assert.deepEqual(drainEvents({ pollEvent: () => queue.shift() }), [1, 2, 3]);
  assert.deepEqual(drainEvents({ pollEvent: () => queue.shift() }), []);
});

import assert from "node:assert/strict";
import { OrderedSender, SEND_QUEUE_LIMIT } from "./_socket_common.ts";

const to = { hostname: "127.0.0.1", port: 9 };

Deno.test("OrderedSender: one send in flight, the rest in call order", () => {
  const issued: number[] = [];
  let complete: (() => void) | undefined;
  const sender = new OrderedSender((data, _to, done) => {
    issued.push(data[0]!);
    complete = done;
  });
  for (let i = 0; i < 5; i++) sender.send(Uint8Array.of(i), to);
  assert.deepEqual(issued, [0]);
  for (let i = 0; i < 4; i++) complete!();
  assert.deepEqual(issued, [0, 1, 2, 3, 4]);
});

Deno.test("OrderedSender: a stalled socket keeps at most SEND_QUEUE_LIMIT datagrams waiting", async () => {
  const issued: number[] = [];
  let complete: (() => void) | undefined;
  const sender = new OrderedSender((data, _to, done) => {
    issued.push(new DataView(data.buffer).getUint32(0));
    complete = done;
  });
  const total = SEND_QUEUE_LIMIT + 1000;
  for (let i = 0; i < total; i++) {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, i);
    sender.send(data, to);
  }
  // One in flight, SEND_QUEUE_LIMIT waiting, the oldest waiting ones dropped.
  assert.equal(sender.dropped, total - 1 - SEND_QUEUE_LIMIT);
  while (issued.length < 1 + SEND_QUEUE_LIMIT) complete!();
  assert.equal(issued[1], total - SEND_QUEUE_LIMIT);
  assert.equal(issued.at(-1), total - 1);
  const stopped = sender.stop();
  complete!();
  await stopped;
});

Deno.test("OrderedSender: stop() lets every queued datagram out before it resolves", async () => {
  const issued: number[] = [];
  let complete: (() => void) | undefined;
  const sender = new OrderedSender((data, _to, done) => {
    issued.push(data[0]!);
    complete = done;
  });
  for (let i = 0; i < 4; i++) sender.send(Uint8Array.of(i), to); // e.g. a bye to each member
  let stopped = false;
  const stopping = sender.stop().then(() => (stopped = true));
  sender.send(Uint8Array.of(9), to); // refused once stopping
  for (let i = 0; i < 4; i++) complete!();
  await stopping;
  assert.ok(stopped);
  assert.deepEqual(issued, [0, 1, 2, 3]);
});

import assert from "node:assert/strict";
import { OrderedSender, SEND_QUEUE_LIMIT, SEND_STALL_MS } from "./_socket_common.ts";

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

Deno.test("OrderedSender: a send stuck past SEND_STALL_MS no longer holds the socket", async () => {
  let now = 0;
  const issued: number[] = [];
  const completions: (() => void)[] = [];
  const sender = new OrderedSender((data, _to, done) => {
    issued.push(data[0]!);
    completions.push(done);
  }, () => now);
  sender.send(Uint8Array.of(0), to); // never completes (Deno: waiting for a writable event)
  now = SEND_STALL_MS - 1;
  sender.send(Uint8Array.of(1), to);
  assert.deepEqual(issued, [0], "within the stall rule the next one waits");
  now = SEND_STALL_MS;
  sender.send(Uint8Array.of(2), to);
  assert.deepEqual(issued, [0, 1], "past it the oldest waiting one goes");
  assert.equal(sender.stalls, 1);
  completions[1]!(); // the new one completes: the queue moves on without the stuck one
  assert.deepEqual(issued, [0, 1, 2]);
  completions[0]!(); // the stuck one completing late issues nothing twice
  assert.deepEqual(issued, [0, 1, 2]);
  let stopped = false;
  const stopping = sender.stop().then(() => (stopped = true));
  await Promise.resolve();
  assert.equal(stopped, false, "a send is still in flight");
  completions[2]!();
  await stopping;
  assert.ok(stopped);
});

import assert from "node:assert/strict";
import { UpdateQueue } from "./_update_queue.ts";
import type { MemberId } from "./_membership.ts";
import { SwimState, type SwimUpdate } from "./_swim_wire.ts";

const id = (n: number) => `10.0.0.${n}:4000` as MemberId;
const update = (n: number, incarnation = 1): SwimUpdate => ({
  record: { ip: `10.0.0.${n}`, port: 4000, id: n },
  state: SwimState.ALIVE,
  incarnation,
});
const names = (updates: SwimUpdate[]) => updates.map((u) => `${u.record.id}@${u.incarnation}`);

Deno.test("UpdateQueue: the least sent first, each update sent its count of times, then gone", () => {
  const q = new UpdateQueue();
  q.set(id(1), update(1), 2);
  q.set(id(2), update(2), 1);
  q.set(id(3), update(3), 2);
  assert.deepEqual(names(q.take(2)), ["1@1", "3@1"]); // 2 sends left before 1
  assert.deepEqual(names(q.take(5)), ["2@1", "1@1", "3@1"]); // no update twice in one take
  assert.equal(q.size, 0);
  assert.deepEqual(q.take(5), []);
});

Deno.test("UpdateQueue: news goes before what was sent many times already", () => {
  const q = new UpdateQueue();
  q.set(id(1), update(1), 10);
  for (let i = 0; i < 6; i++) q.take(1); // 1 has 4 sends left
  q.set(id(2), update(2), 10);
  assert.deepEqual(names(q.take(1)), ["2@1"]);
});

Deno.test("UpdateQueue: a newer update about a member replaces the queued one", () => {
  const q = new UpdateQueue();
  q.set(id(1), update(1, 1), 3);
  q.set(id(2), update(2), 3);
  q.set(id(1), update(1, 7), 3);
  assert.equal(q.size, 2);
  assert.ok(q.has(id(1)));
  assert.deepEqual(names(q.take(5)), ["2@1", "1@7"]);
  q.clear();
  assert.equal(q.size, 0);
  assert.ok(!q.has(id(2)));
});

Deno.test("UpdateQueue: past maxRetain the most-sent go; counts add up over many takes", () => {
  const q = new UpdateQueue(3);
  q.set(id(1), update(1), 5);
  q.take(1); // 1: 4 left
  q.set(id(2), update(2), 5);
  q.set(id(3), update(3), 5);
  q.set(id(4), update(4), 5); // 4 entries: 1 (the most sent) goes
  assert.equal(q.size, 3);
  assert.ok(!q.has(id(1)));

  const big = new UpdateQueue();
  for (let n = 0; n < 300; n++) big.set(id(n), update(n), 12);
  let sent = 0;
  for (let round = 0; round < 1000 && big.size > 0; round++) sent += big.take(6).length;
  assert.equal(sent, 300 * 12);
});

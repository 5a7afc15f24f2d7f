import assert from "node:assert/strict";
import { Fifo } from "./fifo.ts";

Deno.test("Fifo: items come out in the order they went in, across compactions", () => {
  const queue = new Fifo<number>();
  const out: number[] = [];
  // Interleave so the head passes the compaction threshold with a backlog left.
  for (let i = 0; i < 10_000; i++) {
    queue.push(i);
    if (i % 3 !== 0) out.push(queue.shift()!);
  }
  while (queue.size > 0) out.push(queue.shift()!);
  assert.deepEqual(out, Array.from({ length: 10_000 }, (_, i) => i));
  assert.equal(queue.shift(), undefined);
  assert.equal(queue.dropped, 0);
});

Deno.test("Fifo: a bounded queue keeps the newest items and counts the dropped ones", () => {
  const queue = new Fifo<string>(3);
  for (const item of ["a", "b", "c", "d", "e"]) queue.push(item);
  assert.equal(queue.size, 3);
  assert.equal(queue.dropped, 2);
  assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], ["c", "d", "e"]);
});

Deno.test("Fifo: clear empties without counting drops; bad limits are refused", () => {
  const queue = new Fifo<number>(2);
  queue.push(1);
  queue.clear();
  assert.equal(queue.size, 0);
  assert.equal(queue.dropped, 0);
  assert.throws(() => new Fifo(0), RangeError);
});

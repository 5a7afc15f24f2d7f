import assert from "node:assert/strict";
import { Slab } from "./slab.ts";

Deno.test("Slab: views never overlap, across buffers, and start zero-filled", () => {
  const slab = new Slab({ slabBytes: 64 });
  const views = Array.from({ length: 50 }, (_, i) => {
    const view = slab.take(7);
    assert.deepEqual([...view], new Array(7).fill(0));
    return view.fill(i);
  });
  views.forEach((view, i) => assert.deepEqual([...view], new Array(7).fill(i)));
  assert.notEqual(views[0]!.buffer, views[49]!.buffer, "a full buffer is replaced, not reused");
});

Deno.test("Slab: alignment, and requests over the pooled maximum get their own array", () => {
  const slab = new Slab({ slabBytes: 1024, maxPooledBytes: 100, align: 8 });
  for (let i = 0; i < 20; i++) assert.equal(slab.take(3).byteOffset % 8, 0);
  const big = slab.take(101);
  assert.equal(big.buffer.byteLength, 101);
  assert.throws(() => new Slab({ align: 3 }), RangeError);
});

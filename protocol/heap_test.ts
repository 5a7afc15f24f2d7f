import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap } from "./heap.ts";
import { EventQueue } from "./net/_event_queue.ts";

Deno.test("Heap pops in order, re-keys in place and reports positions", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 60 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 100 })), { maxLength: 30 }),
      (keys, changes) => {
        interface Item {
          key: number;
          index: number;
        }
        const heap = new Heap<Item>((a, b) => a.key < b.key, (item, i) => (item.index = i));
        const items = keys.map((key) => ({ key, index: -1 }));
        for (const item of items) heap.push(item);
        for (const [which, key] of changes) {
          if (items.length === 0) break;
          const item = items[which % items.length]!;
          item.key = key;
          heap.update(item.index);
        }
        const popped: number[] = [];
        for (let item = heap.pop(); item !== undefined; item = heap.pop()) {
          assert.equal(item.index, -1);
          popped.push(item.key);
        }
        assert.deepEqual(popped, items.map((i) => i.key).sort((a, b) => a - b));
        assert.equal(heap.size, 0);
      },
    ),
  );
});

Deno.test("EventQueue breaks time ties by seq", () => {
  const queue = new EventQueue<{ time: number; seq: number }>();
  queue.push({ time: 5, seq: 2 });
  queue.push({ time: 5, seq: 1 });
  queue.push({ time: 1, seq: 3 });
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()].map((e) => e?.seq), [
    3,
    1,
    2,
    undefined,
  ]);
});

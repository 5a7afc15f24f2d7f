import assert from "node:assert/strict";
import { Timers } from "./timers.ts";

Deno.test("Timers: next() is the earliest deadline as timers are set, moved and cleared", () => {
  const timers = new Timers<"a" | "b" | "c">();
  assert.equal(timers.next(), undefined);
  timers.set("a", 50);
  timers.set("b", 20);
  timers.set("c", 30);
  assert.equal(timers.next(), 20);
  timers.set("b", 100); // the earliest one moves later
  assert.equal(timers.next(), 30);
  timers.clear("c");
  assert.equal(timers.next(), 50);
  timers.clear("c"); // unknown: nothing happens
  timers.set("c", 10);
  assert.equal(timers.next(), 10);
  assert.equal(timers.get("b"), 100);
  assert.equal(timers.get("x" as "a"), undefined);
});

Deno.test("Timers: due() removes and returns the due names, earliest first", () => {
  const timers = new Timers<"a" | "b" | "c">();
  timers.set("a", 30);
  timers.set("b", 10);
  timers.set("c", 40);
  assert.deepEqual(timers.due(9), []);
  assert.deepEqual(timers.due(30), ["b", "a"]);
  assert.equal(timers.get("a"), undefined);
  assert.equal(timers.next(), 40);
  assert.deepEqual(timers.due(1000), ["c"]);
  assert.equal(timers.next(), undefined);
  assert.deepEqual(timers.due(2000), []);
});

Deno.test("Timers: next() agrees with a brute-force minimum over random operations", () => {
  const timers = new Timers<string>();
  const model = new Map<string, number>();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 5000; i++) {
    const name = `t${Math.floor(random() * 8)}`;
    const op = random();
    if (op < 0.5) {
      const at = Math.floor(random() * 1000);
      timers.set(name, at);
      model.set(name, at);
    } else if (op < 0.8) {
      timers.clear(name);
      model.delete(name);
    } else {
      const now = Math.floor(random() * 1000);
      const expected = [...model].filter(([, at]) => at <= now).map(([n]) => n);
      assert.deepEqual(new Set(timers.due(now)), new Set(expected));
      for (const n of expected) model.delete(n);
    }
    const min = model.size === 0 ? undefined : Math.min(...model.values());
    assert.equal(timers.next(), min);
  }
});

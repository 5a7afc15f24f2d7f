import assert from "node:assert/strict";
import fc from "fast-check";
import { Room, writeMember } from "./_room.ts";

/** The selection replies made before the recency list: sort the whole room by (age, index). */
function reference(room: Room, k: number, skipA: number, skipB: number, now: number): number[] {
  const ranked: [number, number][] = [];
  for (let i = 0; i < room.count; i++) {
    if (i === skipA || i === skipB) continue;
    ranked.push([Math.min(0x7fffffff, Math.max(0, now - room.seenAt(i))), i]);
  }
  ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return ranked.slice(0, k).map(([, i]) => i);
}

const op = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), key: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ kind: fc.constant("touch" as const), which: fc.nat() }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("remove" as const), mask: fc.nat() }),
  fc.record({
    kind: fc.constant("id" as const),
    which: fc.nat(),
    id: fc.integer({ min: 1, max: 9 }),
  }),
);

Deno.test("Room: O(1) lookup, lowest id and top-k by recency agree with a full scan and sort", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), fc.nat(), fc.nat(), (ops, k, self) => {
      const room = new Room("r", 0);
      let now = 1000;
      let nextId = 10;
      for (const o of ops) {
        if (o.kind === "tick") now += o.ms;
        else if (o.kind === "add") {
          if (room.indexOfKey(o.key) < 0) room.add(o.key, nextId++, now, 100);
        } else if (room.count > 0) {
          const i = ("which" in o ? o.which : 0) % room.count;
          if (o.kind === "touch") room.touch(i, now);
          else if (o.kind === "id") room.setId(i, o.id);
          else room.removeWhere((j) => ((o.mask >> (j % 30)) & 1) === 1, o.mask % 2 === 0);
        }
      }
      for (let i = 0; i < room.count; i++) assert.equal(room.indexOfKey(room.keyAt(i)), i);
      assert.equal(room.indexOfKey(1000), -1);
      let lowest = -1;
      for (let i = 0; i < room.count; i++) {
        if (lowest < 0 || room.idAt(i) < room.idAt(lowest)) lowest = i;
      }
      assert.equal(room.lowestIndex(), lowest);
      const selfIndex = room.count > 0 ? self % (room.count + 1) - 1 : -1;
      const want = reference(room, k % 12, selfIndex, lowest, now);
      const out = new Int32Array(12);
      const n = room.mostRecent(k % 12, selfIndex, lowest, now, out);
      assert.deepEqual([...out.subarray(0, n)], want);
      // The reply's fused loop copies exactly those members' records.
      const bytes = new Uint8Array(12 * 10 + 3).fill(0xee);
      const end = room.writeMostRecent(k % 12, selfIndex, lowest, now, bytes, 3);
      assert.equal(end, 3 + want.length * 10);
      const expected = want.flatMap((i) => {
        const record = new Uint8Array(10);
        writeMember(record, 0, room.slots, i);
        return [...record];
      });
      assert.deepEqual([...bytes.subarray(3, end)], expected);
    }),
  );
});

import assert from "node:assert/strict";
import { eventually } from "./eventually.ts";

Deno.test("eventually resolves once the condition holds (async checks too)", async () => {
  let calls = 0;
  await eventually(() => ++calls >= 3, { intervalMs: 1 });
  assert.equal(calls, 3);
  await eventually(() => Promise.resolve(true));
});

Deno.test("eventually rejects with what it waited for after the timeout", async () => {
  await assert.rejects(
    eventually(() => false, { timeoutMs: 20, intervalMs: 5, what: "nothing" }),
    /timed out waiting for nothing/,
  );
});

import assert from "node:assert/strict";
import { addressKey } from "@olaf/protocol";
import { HeldSends, MAX_PROBE_BYTES, SendBudget, VOUCHED_PROBES } from "./_send_budget.ts";
import { Admission } from "./_admission.ts";

const A = addressKey("10.0.0.1", 4000);
const B = addressKey("10.0.0.2", 4000);

function budget(probeRate = 100): SendBudget {
  return new SendBudget({ probeRate, probeIntervalMs: 500, capacity: 16 });
}

Deno.test("SendBudget: at most 3x what an unvalidated address sent; validated ones unbounded", () => {
  const b = budget();
  assert.equal(b.allowSend(A, 1), false, "never heard from: nothing");
  b.received(A, 17, 0);
  assert.equal(b.credit(A), 51);
  assert.equal(b.allowSend(A, 47), true);
  assert.equal(b.allowSend(A, 17), false, "47 + 17 > 51");
  assert.equal(b.allowSend(A, 4), true);
  b.received(A, 10, 1);
  assert.equal(b.credit(A), 30);
  b.vouch(A); // the bootstrap listed it, and it was heard from
  assert.equal(b.validated(A), true);
  assert.equal(b.allowSend(A, 100_000), true);
  assert.equal(b.credit(A), Infinity);
});

Deno.test("SendBudget: a probe per mention, small, spaced, from a shared bucket", () => {
  const b = budget(2);
  assert.equal(b.allowProbe(A, 17, 0), "send-budget", "not named by anyone");
  b.mentioned(A);
  assert.equal(b.allowProbe(A, MAX_PROBE_BYTES + 1, 0), "send-budget", "too big");
  assert.equal(b.allowProbe(A, 17, 0), true);
  b.mentioned(A);
  assert.equal(b.allowProbe(A, 17, 100), "send-budget", "within the interval");
  assert.equal(b.allowProbe(A, 17, 600), true);
  b.mentioned(B);
  assert.equal(b.allowProbe(B, 17, 600), true);
  const C = addressKey("10.0.0.3", 4000);
  b.mentioned(C);
  assert.equal(b.allowProbe(C, 17, 600), "probe-rate", "2 per second: the bucket is empty");
  assert.equal(b.allowProbe(C, 17, 1200), true, "refilled");
});

Deno.test("SendBudget: a bootstrap-listed candidate gets a bounded number of probes", () => {
  const b = budget(1000);
  b.vouch(A);
  let probes = 0;
  for (let t = 0; t < 100_000; t += 500) if (b.allowProbe(A, 17, t) === true) probes++;
  assert.equal(probes, VOUCHED_PROBES);
});

Deno.test("SendBudget: our own report coming back does not vouch for an address", () => {
  const b = budget();
  b.received(A, 17, 0);
  b.introduce(A);
  b.vouch(A);
  assert.equal(b.validated(A), false);
  assert.equal(b.credit(A), 51);
});

Deno.test("SendBudget: seasoned means heard across the span; the table stays bounded", () => {
  const b = budget();
  b.received(A, 17, 0);
  assert.equal(b.seasoned(A, 3000), false);
  b.received(A, 17, 3000);
  assert.equal(b.seasoned(A, 3000), true);
  for (let i = 0; i < 100; i++) b.received(addressKey("10.1.0.1", i + 1), 17, i);
  assert.ok(b.size <= 16);
});

Deno.test("HeldSends: bounded per address, released in order", () => {
  const held = new HeldSends<string>();
  for (let i = 0; i < 8; i++) assert.equal(held.hold(A, `m${i}`, 10), true);
  assert.equal(held.hold(A, "m8", 10), false, "8 per address");
  assert.deepEqual(held.release(A).slice(0, 2), ["m0", "m1"]);
  assert.deepEqual(held.release(A), []);
  held.hold(B, "x", 10);
  assert.equal(held.prune(() => false), 1);
  assert.equal(held.size, 0);
});

Deno.test("Admission: strangers per heartbeat; only ids the bootstrap issued are trusted", () => {
  const a = new Admission(2, 16);
  assert.equal(a.admitStranger(), true);
  assert.equal(a.admitStranger(), true);
  assert.equal(a.admitStranger(), false);
  a.newHeartbeat();
  assert.equal(a.admitStranger(), true);
  assert.equal(a.trusted(A, 1), false, "claimed, never issued");
  a.issued(A, 7);
  assert.equal(a.trusted(A, 7), true);
  assert.equal(a.trusted(A, 1), false);
  assert.equal(new Admission(Infinity, 16).admitStranger(), true);
});

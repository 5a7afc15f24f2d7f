import assert from "node:assert/strict";
import { PATTERNS, runSwarm } from "../tools/swarm.ts";

Deno.test("swarm: 20 real nodes, every pattern, nothing lost, no duplicates, every forgery rejected", async () => {
  const report = await runSwarm({
    nodes: 20,
    patterns: PATTERNS,
    messages: 8,
    forgeries: 6,
    timeoutMs: 60_000, // bounded: a pattern that has not delivered by then fails
  });
  assert.equal(report.results.length, 4);
  for (const r of report.results) {
    assert.ok(r.sent > 0, r.pattern);
    assert.equal(r.delivered, r.sent, `${r.pattern}: lost messages`);
    assert.equal(r.duplicates, 0, `${r.pattern}: duplicates`);
    assert.equal(r.forgeriesDelivered, 0, `${r.pattern}: a forgery was delivered`);
    assert.equal(r.forgeriesRejected, r.forged, `${r.pattern}: forgeries not all rejected`);
  }
  // chain: 8 messages over 19 hops; broadcast: 8 x 19 recipients.
  assert.equal(report.results[0].sent, 8 * 19);
  assert.equal(report.results[1].sent, 8 * 19);
  assert.ok(report.ok);
});

/**
 * Issue 12, the peer's side, deterministic: the hostile-input scenarios on
 * the in-memory network with a virtual clock (default timings: 3 s
 * heartbeat, 15 s timeouts).
 */
import assert from "node:assert/strict";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import {
  claimedCollector,
  type HostileEnv,
  namedVictims,
  strangerFlood,
} from "./_hostile_scenarios.ts";

function memoryEnv(): HostileEnv {
  const net = new MemoryNetwork({ seed: 5, startTime: 1_763_700_000_000, delayMs: 2 });
  return {
    bind: net.bind,
    clock: net.clock,
    wait: (ms) => net.advance(ms),
    async settle<T>(promise: Promise<T>): Promise<T> {
      let done = false;
      promise.then(() => (done = true), () => (done = true));
      assert.ok(await net.runUntil(() => done, { timeoutMs: 60_000 }), "settled");
      return await promise;
    },
    host: (i) => i === 0 ? "10.9.0.1" : i >= 200 ? `10.66.0.${i - 199}` : `10.0.0.${i}`,
    heartbeatMs: 3000,
    peerTimeoutMs: 15_000,
    roomTimeoutMs: 15_000,
  };
}

Deno.test("hostile: a 10 KB PING naming 1000 addresses draws at most 3x toward them", async () => {
  const r = await namedVictims(memoryEnv(), { members: 20, victims: 1000, rounds: 3 });

  assert.ok(r.sent > 30_000, "three 10 KB pings");
  assert.ok(r.victims > 0, "candidates are still probed");
  assert.ok(r.victims <= 3 * r.sent, `victims got ${r.victims} bytes for ${r.sent}`);
  assert.ok(r.attacker <= 3 * r.sent, `the sender got ${r.attacker} bytes for ${r.sent}`);
});

Deno.test("hostile: 1000 strangers' 17-byte PINGs get at most 3x back, 64 become members", async () => {
  const r = await strangerFlood(memoryEnv(), { members: 20, strangers: 1000 });

  assert.equal(r.sent, 17_000);
  assert.ok(r.back <= 3 * r.sent, `strangers got ${r.back} bytes for ${r.sent}`);
  assert.ok(r.maxMembers > 0, "some are let in (they may be newcomers)");
  assert.ok(r.maxMembers <= 64, `${r.maxMembers} strangers became members`);
});

Deno.test("hostile: a stranger claiming id 1 does not become the collector; the room lives", async () => {
  const r = await claimedCollector(memoryEnv(), { members: 3 });
  assert.ok(r.roomAlive, "the bootstrap still has the room");
  assert.ok(r.bootstrapMembers >= 3, `the bootstrap lists ${r.bootstrapMembers} members`);
});

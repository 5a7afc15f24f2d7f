/**
 * Issue 12, the peer's side, on real UDP (loopback): the same scenarios as
 * `peer_hostile_sim_test.ts`, with short timings (200 ms heartbeat, 1 s
 * peer timeout, 1.5 s room timeout at the bootstrap). Bytes are counted
 * where they arrive, at the victims' and strangers' own sockets.
 */
import assert from "node:assert/strict";
import {
  claimedCollector,
  namedVictims,
  strangerFlood,
  udpHostileEnv as udpEnv,
} from "./_hostile_scenarios.ts";

Deno.test("hostile UDP: a 10 KB PING naming 1000 addresses draws at most 3x toward them", async () => {
  const r = await namedVictims(udpEnv, { members: 10, victims: 1000, rounds: 3 });
  assert.ok(r.sent > 30_000);
  assert.ok(r.victims <= 3 * r.sent, `victims got ${r.victims} bytes for ${r.sent}`);
  assert.ok(r.attacker <= 3 * r.sent, `the sender got ${r.attacker} bytes for ${r.sent}`);
});

Deno.test("hostile UDP: 1000 strangers' 17-byte PINGs get at most 3x back, 64 become members", async () => {
  const r = await strangerFlood(udpEnv, { members: 10, strangers: 1000 });
  assert.equal(r.sent, 17_000);
  assert.ok(r.back <= 3 * r.sent, `strangers got ${r.back} bytes for ${r.sent}`);
  // 64 per heartbeat: the datagrams may arrive over a heartbeat boundary or more.
  const bound = 64 * (r.heartbeats + 2);
  assert.ok(r.maxMembers <= bound, `${r.maxMembers} strangers became members (bound ${bound})`);
});

Deno.test("hostile UDP: a stranger claiming id 1 does not stop the reports; the room lives", async () => {
  const r = await claimedCollector(udpEnv, { members: 3 });
  assert.ok(r.roomAlive, "the bootstrap still has the room");
  assert.ok(r.bootstrapMembers >= 3, `the bootstrap lists ${r.bootstrapMembers} members`);
});

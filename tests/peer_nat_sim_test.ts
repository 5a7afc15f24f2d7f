/**
 * Olaf peers (the real `joinRoom` driver and bootstrap) behind simulated NATs,
 * each behind its own, with the bootstrap on the public side: what v1 does
 * today without any hole-punching logic, as the baseline for the NAT
 * traversal work.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork, type NatType } from "@olaf/protocol/memory-network";
import { joinRoom, type Room } from "@olaf/peer";

const T0 = 1_763_700_000_000;
const HEARTBEAT = 3000;
const key = (p: { ip: string; port: number }) => `${p.ip}:${p.port}`;

async function pair(typeA: NatType, typeB: NatType) {
  const net = new MemoryNetwork({ seed: 7, startTime: T0, delayMs: { min: 2, max: 20 } });
  const natA = net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.0/24"], type: typeA });
  const natB = net.addNat({ publicHostname: "198.51.100.2", hosts: ["10.2.0.0/24"], type: typeB });
  const boot = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "203.0.113.1",
    port: 5000,
  });
  const join = (hostname: string) =>
    joinRoom("lobby", {
      bootstraps: ["203.0.113.1:5000"],
      bind: net.bind,
      clock: net.clock,
      hostname,
      port: 4000,
      joinTimeoutMs: 10_000,
    });
  const joining = [join("10.1.0.2"), join("10.2.0.2")];
  let done = false;
  const all = Promise.all(joining).finally(() => (done = true));
  assert.ok(await net.runUntil(() => done, { timeoutMs: 10_000 }), "both joined");
  const rooms: Room[] = await all;
  const meet = () =>
    rooms[0].peers.some((p) => key(p) === key(rooms[1].self)) &&
    rooms[1].peers.some((p) => key(p) === key(rooms[0].self));
  const met = await net.runUntil(meet, { timeoutMs: 3 * HEARTBEAT });
  const result = { rooms, met, natA: natA.stats(), natB: natB.stats() };
  await Promise.all(rooms.map((r) => r.leave()));
  await boot.close();
  return result;
}

const CONES: NatType[] = ["full-cone", "restricted-cone", "port-restricted-cone"];

Deno.test("NAT: peers behind two cone NATs meet through a public bootstrap", async () => {
  for (const typeA of CONES) {
    for (const typeB of CONES) {
      const { rooms, met, natA, natB } = await pair(typeA, typeB);
      assert.ok(met, `${typeA} x ${typeB}`);
      // Each peer knows itself by its public mapping, as the bootstrap saw it.
      assert.deepEqual(rooms.map((r) => r.self.ip), ["198.51.100.1", "198.51.100.2"]);
      assert.ok(natA.translatedIn > 0 && natB.translatedIn > 0);
    }
  }
});

Deno.test("NAT: v1 peers behind APDF NATs with a symmetric one never meet", async () => {
  for (
    const [typeA, typeB] of [
      ["symmetric", "symmetric"],
      ["symmetric", "port-restricted-cone"],
      ["port-restricted-cone", "symmetric"],
    ] as [NatType, NatType][]
  ) {
    const { met, natA, natB } = await pair(typeA, typeB);
    assert.equal(met, false, `${typeA} x ${typeB}`);
    assert.ok(natA.filtered + natB.filtered > 0, "their pings were filtered");
  }
});

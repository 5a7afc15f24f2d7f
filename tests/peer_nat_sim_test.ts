/**
 * Olaf peers (the real `joinRoom` driver and bootstrap) behind simulated NATs,
 * each behind its own, with the bootstrap on the public side: what v1 does
 * today without any hole-punching logic, as the baseline for the NAT
 * traversal work.
 */
import assert from "node:assert/strict";
import type { NatType } from "@olaf/protocol/memory-network";
import type { Room } from "@olaf/peer";
import { simWorld } from "./_sim_world.ts";

const HEARTBEAT = 3000;
const key = (p: { ip: string; port: number }) => `${p.ip}:${p.port}`;

async function pair(typeA: NatType, typeB: NatType) {
  await using world = await simWorld({ seed: 7, nats: [{ type: typeA }, { type: typeB }] });
  const { net, nats: [natA, natB] } = world;
  const join = (hostname: string) => world.join(hostname, { joinTimeoutMs: 10_000 });
  const joining = [join("10.1.0.2"), join("10.2.0.2")];
  let done = false;
  const all = Promise.all(joining).finally(() => (done = true));
  assert.ok(await net.runUntil(() => done, { timeoutMs: 10_000 }), "both joined");
  const rooms: Room[] = await all;
  const meet = () =>
    rooms[0].peers.some((p) => key(p) === key(rooms[1].self)) &&
    rooms[1].peers.some((p) => key(p) === key(rooms[0].self));
  const met = await net.runUntil(meet, { timeoutMs: 3 * HEARTBEAT });
  const result = { rooms, met, natA: natA!.stats(), natB: natB!.stats() };
  await Promise.all(rooms.map((r) => r.leave()));
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

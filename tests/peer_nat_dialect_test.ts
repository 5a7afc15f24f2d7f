/**
 * Introductions (issue 11 with the Olaf bootstrap dialect, codes 24..28): two
 * Olaf peers behind one NAT without hairpinning have no public path to each
 * other; the bootstrap's WELCOME / INTRODUCE tell each the other's LAN
 * candidates and a punch token at the same moment, and they meet on the LAN,
 * with no relay and no rendezvous.
 */
import assert from "node:assert/strict";
import type { Room } from "@olaf/peer";
import { simWorld } from "./_sim_world.ts";

Deno.test("introductions: peers behind one NAT meet on their LAN through WELCOME / INTRODUCE", async () => {
  await using world = await simWorld({ seed: 9, nats: [{ type: "port-restricted-cone" }] });
  const net = world.net;
  const join = (hostname: string) =>
    world.join(hostname, {
      dialect: { candidates: [{ ip: hostname, port: 4000 }] },
      nat: { relay: false },
    });
  const rooms: Room[] = [];
  join("10.1.0.2").then((r) => rooms.push(r));
  assert.ok(await net.runUntil(() => rooms.length === 1, { timeoutMs: 10_000 }));
  join("10.1.0.3").then((r) => rooms.push(r));
  assert.ok(await net.runUntil(() => rooms.length === 2, { timeoutMs: 10_000 }));
  const [a, b] = rooms as [Room, Room];
  try {
    const met = () => a.peers.length === 1 && b.peers.length === 1;
    assert.ok(await net.runUntil(met, { timeoutMs: 10_000 }), "they met");
    assert.equal(a.pathOf(b.self), "lan");
    assert.equal(b.pathOf(a.self), "lan");
    const inbox: string[] = [];
    a.on("message", (m) => inbox.push(`a ${m.text()}`));
    b.on("message", (m) => inbox.push(`b ${m.text()}`));
    a.send("hi b");
    b.send("hi a");
    assert.ok(await net.runUntil(() => inbox.length === 2, { timeoutMs: 5_000 }), "both ways");
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
  }
});

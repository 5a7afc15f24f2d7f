/**
 * Olaf peers joining through the bootstrap dialect (codes 24..28), with the
 * real `joinRoom` driver and bootstrap server on the in-memory network:
 * with loss, mixed with deployed v1 peers, and against the model of the
 * deployed bootstrap (which ignores code 24, so they fall back to JOIN_B).
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { joinRoom, type Room } from "@olaf/peer";
import { drive, type DrivenNode } from "./peer_sim_driver.ts";
import { LegacyV1Bootstrap } from "./legacy_v1_bootstrap.ts";
import { LegacyV1Peer } from "./legacy_v1_peer.ts";

const T0 = 1_763_700_000_000;
const HEARTBEAT = 3000;
const ROOM = "lobby";
const key = (p: { ip: string; port: number }) => `${p.ip}:${p.port}`;

async function olafPeer(net: MemoryNetwork, boot: string, i: number): Promise<Room> {
  let room: Room | undefined;
  const joining = joinRoom(ROOM, {
    bootstraps: [boot],
    bind: net.bind,
    clock: net.clock,
    hostname: `10.0.0.${i}`,
    port: 4000,
    joinTimeoutMs: 60_000,
    dialect: {
      publicKey: new Uint8Array(32).fill(i),
      candidates: [{ ip: `192.168.0.${i}`, port: 4000 }],
    },
  }).then((r) => (room = r));
  assert.ok(
    await net.runUntil(() => room !== undefined, { timeoutMs: 60_000 }),
    `peer ${i} joined`,
  );
  return await joining;
}

function converged(rooms: Room[], others: string[] = []): boolean {
  const everyone = [...rooms.map((r) => key(r.self)), ...others].sort();
  return rooms.every((r) =>
    r.peers.map(key).sort().join() === everyone.filter((k) => k !== key(r.self)).join()
  );
}

Deno.test("dialect sim: 12 Olaf peers with 10% loss meet through JOIN_O, TOKEN and WELCOME", async () => {
  const net = new MemoryNetwork({
    seed: 11,
    startTime: T0,
    delayMs: { min: 2, max: 20 },
    loss: 0.1,
  });
  await using server = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.1",
    port: 5000,
  });
  const rooms: Room[] = [];
  for (let i = 1; i <= 12; i++) rooms.push(await olafPeer(net, "10.9.0.1:5000", i));
  try {
    assert.ok(
      await net.runUntil(() => converged(rooms), { timeoutMs: 4 * HEARTBEAT }),
      "converged",
    );
    assert.equal(new Set(rooms.map((r) => r.self.id)).size, 12);
    assert.equal(server.room(ROOM)?.memberCount, 12);
    // Every peer came in through a token, and nothing asked the bootstrap in v1.
    assert.ok((server.stats().drops["dialect-token-missing"] ?? 0) >= 12);
    assert.equal(server.stats().drops["untrusted-report"] ?? 0, 0, "only the collector reports");
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
  }
});

Deno.test("dialect sim: Olaf peers and deployed v1 peers share a room at an Olaf bootstrap", async () => {
  const net = new MemoryNetwork({ seed: 5, startTime: T0, delayMs: { min: 2, max: 20 } });
  await using _server = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.1",
    port: 5000,
  });
  const legacy: LegacyV1Peer[] = [];
  const nodes: DrivenNode[] = [];
  const rooms: Room[] = [];
  for (let i = 1; i <= 6; i++) {
    if (i % 2 === 1) {
      const peer = new LegacyV1Peer({
        room: ROOM,
        bootstraps: [{ hostname: "10.9.0.1", port: 5000 }],
        now: net.now(),
      });
      legacy.push(peer);
      nodes.push(
        await drive(peer, {
          bind: net.bind,
          clock: net.clock,
          hostname: `10.0.1.${i}`,
          port: 4000,
        }),
      );
      await net.advance(400);
    } else {
      rooms.push(await olafPeer(net, "10.9.0.1:5000", i));
    }
  }
  const legacyKeys = nodes.map((n) => key({ ip: n.address.hostname, port: n.address.port }));
  try {
    assert.ok(
      await net.runUntil(
        () =>
          converged(rooms, legacyKeys) &&
          legacy.every((l) => rooms.every((r) => l.known.has(key(r.self)))),
        { timeoutMs: 4 * HEARTBEAT },
      ),
      "Olaf peers see the v1 peers and the v1 peers see the Olaf peers",
    );
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test("dialect sim: against the deployed bootstrap, Olaf peers fall back to JOIN_B and meet", async () => {
  const net = new MemoryNetwork({ seed: 9, startTime: T0, delayMs: { min: 2, max: 20 } });
  const model = new LegacyV1Bootstrap({ now: net.now() });
  const boot = await drive(model, {
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.2",
    port: 5000,
  });
  const rooms: Room[] = [];
  try {
    for (let i = 1; i <= 3; i++) rooms.push(await olafPeer(net, "10.9.0.2:5000", i));
    assert.ok(
      await net.runUntil(() => converged(rooms), { timeoutMs: 4 * HEARTBEAT }),
      "converged",
    );
    assert.equal(model.rooms.get(ROOM)?.members.length, 3);
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
    await boot.stop();
  }
});

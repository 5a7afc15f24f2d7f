/**
 * Rooms of Olaf peers (the real `joinRoom` driver) on the in-memory network
 * with a virtual clock, through the real bootstrap core and through a model
 * of the deployed bootstrap, alone and mixed with models of deployed peers.
 */
import assert from "node:assert/strict";
import { type BootstrapServer, startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork, type MemoryNetworkOptions } from "@olaf/protocol/memory-network";
import { joinRoom, type Room } from "@olaf/peer";
import { drive, type DrivenNode } from "./peer_sim_driver.ts";
import { LegacyV1Bootstrap } from "./legacy_v1_bootstrap.ts";
import { LegacyV1Peer } from "./legacy_v1_peer.ts";

const T0 = 1_763_700_000_000; // virtual time starts at a realistic epoch (ids are Unix seconds)
const HEARTBEAT = 3000;
const TIMEOUT = 15_000;
const ROOM = "lobby";

function network(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new MemoryNetwork({ seed: 7, startTime: T0, delayMs: { min: 2, max: 20 }, ...options });
}

function host(i: number): string {
  return `10.0.${i >> 8}.${i & 255}`;
}

async function olafBootstrap(net: MemoryNetwork, hostname = "10.9.0.1"): Promise<{
  core: BootstrapServer;
  node: { stop(): Promise<void> };
  spec: string;
}> {
  const server = await startBootstrap({ bind: net.bind, clock: net.clock, hostname, port: 5000 });
  return { core: server, node: { stop: () => server.close() }, spec: `${hostname}:5000` };
}

async function legacyBootstrap(net: MemoryNetwork, hostname = "10.9.0.2"): Promise<{
  model: LegacyV1Bootstrap;
  node: DrivenNode;
  spec: string;
}> {
  const model = new LegacyV1Bootstrap({ now: net.now() });
  const node = await drive(model, { bind: net.bind, clock: net.clock, hostname, port: 5000 });
  return { model, node, spec: `${hostname}:5000` };
}

/** Joins `count` Olaf peers, one every `spacingMs`, and returns them once all joined. */
async function joinMany(
  net: MemoryNetwork,
  bootstraps: string[],
  first: number,
  count: number,
  spacingMs: number,
): Promise<Room[]> {
  const joining: Promise<Room>[] = [];
  for (let i = 0; i < count; i++) {
    joining.push(joinRoom(ROOM, {
      bootstraps,
      bind: net.bind,
      clock: net.clock,
      hostname: host(first + i),
      port: 4000,
      joinTimeoutMs: 60_000,
    }));
    await net.advance(spacingMs);
  }
  let done = false;
  const all = Promise.all(joining).finally(() => (done = true));
  assert.ok(await net.runUntil(() => done, { timeoutMs: 60_000 }), "every peer joined");
  return await all;
}

function key(p: { ip: string; port: number }): string {
  return `${p.ip}:${p.port}`;
}

/** Whether every live room sees exactly the other live members (and, optionally, legacy peers). */
function converged(rooms: Room[], legacy: LegacyV1Peer[] = [], legacyKeys: string[] = []): boolean {
  const everyone = [...rooms.map((r) => key(r.self)), ...legacyKeys].sort();
  for (const r of rooms) {
    const mine = key(r.self);
    const expected = everyone.filter((k) => k !== mine).join();
    if (r.peers.map(key).sort().join() !== expected) return false;
  }
  for (let i = 0; i < legacy.length; i++) {
    const expected = everyone.filter((k) => k !== legacyKeys[i]).join();
    // A deployed peer whose BOOTSTRAP_R was lost does not know its own record, so it
    // lists itself when others name it (its own defect): ignore that entry.
    const known = legacy[i]!.peerKeys.filter((k) => k !== legacyKeys[i]);
    if (known.join() !== expected) return false;
  }
  return true;
}

async function leaveAll(rooms: Room[], nodes: { stop(): Promise<void> }[] = []): Promise<void> {
  await Promise.all(rooms.map((r) => r.leave()));
  await Promise.all(nodes.map((n) => n.stop()));
}

Deno.test("50 peers converge within one heartbeat after the last join", async () => {
  const net = network();
  const boot = await olafBootstrap(net);
  const rooms = await joinMany(net, [boot.spec], 1, 50, 100);
  const timeouts: string[] = [];
  for (const r of rooms) r.onPeerLeave((p, reason) => timeouts.push(`${key(p)} ${reason}`));
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
  // And it stays that way: nobody is dropped while everyone heartbeats.
  await net.advance(2 * TIMEOUT);
  assert.ok(converged(rooms));
  assert.deepEqual(timeouts, []);
  // Ids are distinct and the bootstrap holds the room with every member.
  assert.equal(new Set(rooms.map((r) => r.self.id)).size, 50);
  assert.equal(boot.core.room(ROOM)?.memberCount, 50);
  await leaveAll(rooms, [boot.node]);
});

Deno.test("with 20% loss, duplication and reordering the room still converges", async () => {
  const net = network({
    loss: 0.2,
    duplicate: 0.1,
    reorder: 0.1,
    seed: 11,
  });
  const boot = await olafBootstrap(net);
  const rooms = await joinMany(net, [boot.spec], 1, 50, 50);
  // Liveness needs direct evidence. A pair that lost a datagram repairs it at the next
  // candidate ping (every second) or answer, so the tail is short: measured 2-4 s over
  // seeds 1-13; bound at two heartbeats (it was 3-6 heartbeats when only heartbeats repaired).
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: 2 * HEARTBEAT }));
  // Later, a member dropped by mistake (5 pings lost in a row) is back at its next ping.
  await net.advance(TIMEOUT);
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: 2 * HEARTBEAT }));
  await leaveAll(rooms, [boot.node]);
});

Deno.test("a bye removes the member at once everywhere", async () => {
  const net = network();
  const boot = await olafBootstrap(net);
  const rooms = await joinMany(net, [boot.spec], 1, 10, 10);
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
  const leaving = rooms[4]!;
  const reasons: string[] = [];
  for (const r of rooms) {
    if (r !== leaving) {
      r.onPeerLeave((p, reason) => key(p) === key(leaving.self) && reasons.push(reason));
    }
  }
  await leaving.leave();
  const rest = rooms.filter((r) => r !== leaving);
  // One network delay (at most 20 ms), not a timeout.
  assert.ok(await net.runUntil(() => converged(rest), { timeoutMs: 25 }));
  assert.deepEqual(reasons, Array(9).fill("bye"));
  await leaveAll(rest, [boot.node]);
});

Deno.test("a crashed member is dropped within the timeout plus one heartbeat", async () => {
  const net = network();
  const boot = await olafBootstrap(net);
  const rooms = await joinMany(net, [boot.spec], 1, 8, 10);
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
  const crashed = rooms[3]!;
  const rest = rooms.filter((r) => r !== crashed);
  const crashedAt = net.now();
  net.partition([crashed.self.ip], rooms.filter((r) => r !== crashed).map((r) => r.self.ip));
  assert.ok(await net.runUntil(() => converged(rest), { timeoutMs: TIMEOUT + HEARTBEAT + 25 }));
  assert.ok(net.now() - crashedAt >= TIMEOUT - HEARTBEAT, "not dropped early either");
  net.heal();
  await leaveAll(rooms, [boot.node]);
});

Deno.test("when the collector crashes the room survives at the bootstrap", async () => {
  for (const kind of ["olaf", "legacy"] as const) {
    const net = network();
    const boot = kind === "olaf" ? await olafBootstrap(net) : await legacyBootstrap(net);
    const rooms = await joinMany(net, [boot.spec], 1, 5, 1000);
    assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
    const collector = rooms.reduce((a, b) => (a.self.id <= b.self.id ? a : b));
    const rest = rooms.filter((r) => r !== collector);
    // Crash: the collector can no longer reach anyone, nor be reached.
    net.partition([collector.self.ip], [...rest.map((r) => r.self.ip), boot.spec.split(":")[0]!]);
    // Long after the room's 15 s inactivity timeout: the next-lowest id keeps it alive.
    await net.advance(4 * TIMEOUT);
    assert.ok(converged(rest), `${kind}: survivors still see each other`);
    if ("core" in boot) {
      const members = boot.core.room(ROOM)?.members.map(key).sort();
      assert.deepEqual(members, rest.map((r) => key(r.self)).sort(), "the report reconciled it");
    } else {
      // The deployed bootstrap forgets rooms without JOIN_B for 15 s; the new collector
      // keeps re-joining, so the room is there (at worst after a short gap at hand-over).
      assert.ok(await net.runUntil(() => boot.model.rooms.has(ROOM), { timeoutMs: HEARTBEAT }));
    }
    // A newcomer finds everyone through the bootstrap.
    const [newcomer] = await joinMany(net, [boot.spec], 100, 1, 0);
    assert.ok(
      await net.runUntil(() => converged([...rest, newcomer!]), { timeoutMs: HEARTBEAT }),
      `${kind}: the newcomer converges with the survivors`,
    );
    net.heal();
    await leaveAll([...rooms, newcomer!], [boot.node]);
  }
});

Deno.test("a deployed bootstrap never forgets a live Olaf room (defect 2 worked around)", async () => {
  const net = network();
  const boot = await legacyBootstrap(net);
  const rooms = await joinMany(net, [boot.spec], 1, 4, 500);
  let missing = 0;
  for (let t = 0; t < 120; t++) {
    await net.advance(1000);
    if (!boot.model.rooms.has(ROOM)) missing++;
  }
  assert.equal(missing, 0);
  await leaveAll(rooms, [boot.node]);
});

Deno.test("a restarted bootstrap that forgot the room gets it back from the collector", async () => {
  for (const kind of ["olaf", "legacy"] as const) {
    const net = network();
    const start = async () => {
      if (kind === "olaf") {
        const { core, node, spec } = await olafBootstrap(net);
        return { node, spec, members: () => core.room(ROOM)?.memberCount ?? 0 };
      }
      const { model, node, spec } = await legacyBootstrap(net);
      return { node, spec, members: () => model.rooms.get(ROOM)?.members.length ?? 0 };
    };
    const before = await start();
    const rooms = await joinMany(net, [before.spec], 1, 5, 100);
    assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
    await before.node.stop();
    const boot = await start(); // same address, empty memory: the room is forgotten
    assert.equal(boot.members(), 0);
    // The collector's next report recreates it (Olaf); a deployed bootstrap ignores the report,
    // so the collector re-joins at the heartbeat after the unanswered one.
    assert.ok(
      await net.runUntil(() => boot.members() > 0, { timeoutMs: 2 * HEARTBEAT + 100 }),
      `${kind}: the room is back`,
    );
    if (kind === "olaf") assert.equal(boot.members(), 5, "the report restored every member");
    const [newcomer] = await joinMany(net, [boot.spec], 100, 1, 0);
    // The restarted deployed bootstrap lists only the collector, and members answer a newcomer
    // they have not validated within 3x its ping (issue 12), so part of the room reaches it
    // with the members' next heartbeat, not before: "by the first heartbeat" here.
    const within = kind === "legacy" ? HEARTBEAT + 100 : HEARTBEAT;
    assert.ok(
      await net.runUntil(() => converged([...rooms, newcomer!]), { timeoutMs: within }),
      `${kind}: a newcomer finds everyone`,
    );
    await leaveAll([...rooms, newcomer!], [boot.node]);
  }
});

Deno.test("bootstrap failover: members and newcomers move to the next bootstrap and come back", async () => {
  const net = network();
  const a = await olafBootstrap(net, "10.9.0.1");
  const b = await olafBootstrap(net, "10.9.0.2");
  const specs = [a.spec, b.spec];
  const rooms = await joinMany(net, specs, 1, 4, 100);
  assert.ok(await net.runUntil(() => converged(rooms), { timeoutMs: HEARTBEAT }));
  const preferred = `${rooms[0]!.bootstrap.hostname}:${rooms[0]!.bootstrap.port}`;
  for (const r of rooms) {
    assert.equal(key({ ip: r.bootstrap.hostname, port: r.bootstrap.port }), preferred);
  }
  const [dead, alive] = preferred === a.spec ? [a, b] : [b, a];
  await dead.node.stop();
  // The collector notices (3 unanswered heartbeats) and recreates the room at the other one.
  assert.ok(
    await net.runUntil(() => alive.core.room(ROOM) !== undefined, { timeoutMs: 5 * HEARTBEAT }),
  );
  // A newcomer with the same list finds the room after its own failover.
  const [newcomer] = await joinMany(net, specs, 50, 1, 0);
  assert.ok(await net.runUntil(() => converged([...rooms, newcomer!]), { timeoutMs: HEARTBEAT }));
  assert.equal(key({ ip: newcomer!.bootstrap.hostname, port: 5000 }), alive.spec);
  // The preferred bootstrap comes back (empty, as after a restart): within a minute the
  // collector returns to it, and its report restores the whole room there.
  const restarted = await olafBootstrap(net, dead.spec.split(":")[0]);
  assert.ok(
    await net.runUntil(() => restarted.core.room(ROOM)?.memberCount === 5, { timeoutMs: 70_000 }),
  );
  assert.ok(converged([...rooms, newcomer!]));
  await leaveAll([...rooms, newcomer!], [alive.node, restarted.node]);
});

for (const kind of ["olaf", "legacy"] as const) {
  Deno.test(`mixed room with deployed v1 peers through the ${kind} bootstrap: converge and talk`, async () => {
    const net = network({ seed: kind === "olaf" ? 3 : 4 });
    const boot = kind === "olaf" ? await olafBootstrap(net) : await legacyBootstrap(net);
    const bootAddress = { hostname: boot.spec.split(":")[0]!, port: 5000 };
    const legacy: LegacyV1Peer[] = [];
    const legacyNodes: DrivenNode[] = [];
    const rooms: Room[] = [];
    // Alternate: legacy, olaf, legacy, olaf, ... joining 400 ms apart.
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) {
        const peer = new LegacyV1Peer({ room: ROOM, bootstraps: [bootAddress], now: net.now() });
        legacy.push(peer);
        legacyNodes.push(
          await drive(peer, {
            bind: net.bind,
            clock: net.clock,
            hostname: host(i + 1),
            port: 4000,
          }),
        );
        await net.advance(400);
      } else {
        rooms.push(...await joinMany(net, [boot.spec], i + 1, 1, 400));
      }
    }
    const legacyKeys = legacyNodes.map((n) =>
      key({ ip: n.address.hostname, port: n.address.port })
    );
    // Within one heartbeat of the last join, Olaf peers see everyone (a deployed peer is
    // heard from at its first heartbeat ping) and deployed peers know every Olaf peer
    // (Olaf lists carry the sender's own record, which a deployed peer adds).
    assert.ok(
      await net.runUntil(
        () =>
          converged(rooms, [], legacyKeys) &&
          legacy.every((l) => rooms.every((r) => l.known.has(key(r.self)))),
        { timeoutMs: HEARTBEAT + 50 },
      ),
      "the Olaf side converges within a heartbeat",
    );
    // Deployed peers only learn each other through lists (defect 4): give them a few rounds.
    assert.ok(
      await net.runUntil(() => converged(rooms, legacy, legacyKeys), { timeoutMs: 3 * HEARTBEAT }),
      "everyone knows everyone",
    );
    // Olaf peers learn the deployed peers' ids too.
    assert.ok(
      await net.runUntil(() => rooms.every((r) => r.peers.every((p) => p.id !== 0)), {
        timeoutMs: 3 * HEARTBEAT,
      }),
    );

    // Messages both ways.
    const got: string[][] = rooms.map(() => []);
    rooms.forEach((r, i) => r.onMessage((m) => got[i]!.push(m.text())));
    rooms[0]!.send("from olaf");
    legacy[0]!.send("from legacy");
    legacyNodes[0]!.flush();
    await net.advance(50);
    for (const l of legacy.slice(1)) {
      assert.deepEqual(l.received.map((m) => m.text).sort(), ["from legacy", "from olaf"]);
    }
    assert.deepEqual(legacy[0]!.received.map((m) => m.text), ["from olaf"]);
    assert.deepEqual(got[0], ["from legacy"]);
    for (const g of got.slice(1)) assert.deepEqual(g.sort(), ["from legacy", "from olaf"]);

    // A deployed peer crashes: the other deployed peers keep naming it to each other
    // forever (defect 3), but Olaf peers drop it within the timeout plus a heartbeat.
    await legacyNodes[1]!.stop();
    await net.advance(TIMEOUT + HEARTBEAT + 25);
    for (const r of rooms) {
      assert.ok(!r.peers.some((p) => key(p) === legacyKeys[1]), "olaf dropped it");
    }
    for (const l of [legacy[0]!, legacy[2]!]) {
      assert.ok(
        l.known.has(legacyKeys[1]!),
        "the deployed peers keep the ghost (model is faithful)",
      );
    }
    await leaveAll(rooms, [boot.node, legacyNodes[0]!, legacyNodes[2]!]);
  });
}

Deno.test("mixed room under 20% loss, duplication and reordering still converges", async () => {
  const net = network({ loss: 0.2, duplicate: 0.1, reorder: 0.1, seed: 5 });
  const boot = await olafBootstrap(net);
  const bootAddress = { hostname: "10.9.0.1", port: 5000 };
  const legacy: LegacyV1Peer[] = [];
  const legacyNodes: DrivenNode[] = [];
  for (let i = 0; i < 5; i++) {
    const peer = new LegacyV1Peer({ room: ROOM, bootstraps: [bootAddress], now: net.now() });
    legacy.push(peer);
    legacyNodes.push(
      await drive(peer, { bind: net.bind, clock: net.clock, hostname: host(100 + i), port: 4000 }),
    );
    await net.advance(300);
  }
  const rooms = await joinMany(net, [boot.spec], 1, 10, 300);
  const legacyKeys = legacyNodes.map((n) => key({ ip: n.address.hostname, port: n.address.port }));
  assert.ok(
    await net.runUntil(() => converged(rooms, legacy, legacyKeys), { timeoutMs: 10 * HEARTBEAT }),
  );
  // Olaf peers learn every deployed peer's id too (from gossip or the collector's reply).
  assert.ok(
    await net.runUntil(() => rooms.every((r) => r.peers.every((p) => p.id !== 0)), {
      timeoutMs: 3 * HEARTBEAT,
    }),
  );
  await leaveAll(rooms, [boot.node, ...legacyNodes]);
});

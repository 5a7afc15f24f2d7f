/**
 * NAT traversal (issue 11) on the simulator's NAT model: the real `joinRoom`
 * driver with `nat: true` and the real bootstrap with `--relay` on the
 * public side, one peer behind each NAT, over every pair of NAT types. Each
 * pair must end with the expected path (direct, or relayed where no hole can
 * be punched) and messages both ways.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork, type NatType } from "@olaf/protocol/memory-network";
import { joinRoom, type PathKind, type Room } from "@olaf/peer";
import { simWorld, T0 } from "./_sim_world.ts";

const key = (p: { ip: string; port: number }) => `${p.ip}:${p.port}`;
const TYPES: NatType[] = ["full-cone", "restricted-cone", "port-restricted-cone", "symmetric"];

/**
 * The expected outcome, by RFC 4787 reasoning: a symmetric NAT sends the
 * punch from a port nobody has seen, so it only gets through a NAT that
 * filters by address at most (full or restricted cone); with a port filter
 * (port-restricted cone, symmetric) on the other side, only the relay works.
 */
function expected(a: NatType, b: NatType): PathKind {
  const apdf = (t: NatType) => t === "port-restricted-cone" || t === "symmetric";
  return (a === "symmetric" && apdf(b)) || (b === "symmetric" && apdf(a)) ? "relayed" : "direct";
}

interface Options {
  relay?: boolean;
  mappingTimeoutMs?: number;
  allocation?: "sequential" | "preserve" | "random";
  /** A secure room's secret (issue 10): handshakes must find the path too. */
  secret?: string;
}

async function setup(typeA: NatType, typeB: NatType, options: Options = {}) {
  const nat = (type: NatType) => ({
    type,
    portAllocation: options.allocation ?? (type === "symmetric" ? "random" : "preserve"),
    mappingTimeoutMs: options.mappingTimeoutMs,
  });
  const world = await simWorld({
    seed: 11,
    nats: [nat(typeA), nat(typeB)],
    bootstrap: { nat: { relay: options.relay ?? true, checkPort: 5001 } },
  });
  const { net, nats, boot } = world;
  const join = (hostname: string) =>
    world.join(hostname, {
      joinTimeoutMs: 10_000,
      nat: true,
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
    });
  let done = false;
  const all = Promise.all([join("10.1.0.2"), join("10.2.0.2")]).finally(() => (done = true));
  assert.ok(await net.runUntil(() => done, { timeoutMs: 10_000 }), "both joined");
  const rooms: Room[] = await all;
  const inboxes: string[][] = [[], []];
  rooms.forEach((r, i) => r.on("message", (m) => inboxes[i]!.push(m.text())));
  const close = async () => {
    await Promise.all(rooms.map((r) => r.leave()));
    await boot.close();
  };
  return { net, nats, boot, rooms, inboxes, close };
}

/** Both see each other as members, and a message each way arrives. */
async function exchange(s: Awaited<ReturnType<typeof setup>>, label: string) {
  const [a, b] = s.rooms as [Room, Room];
  const meet = () =>
    a.peers.some((p) => key(p) === key(b.self)) && b.peers.some((p) => key(p) === key(a.self));
  const met = await s.net.runUntil(meet, { timeoutMs: 20_000 });
  if (!met) return false;
  const before = s.net.clock.now();
  a.send(`a->b ${label}`);
  b.send(`b->a ${label}`);
  const delivered = await s.net.runUntil(
    () => s.inboxes[0]!.includes(`b->a ${label}`) && s.inboxes[1]!.includes(`a->b ${label}`),
    { timeoutMs: 5_000 },
  );
  return delivered ? s.net.clock.now() - before + 0 : false;
}

Deno.test("NAT traversal: every pair of NAT types ends direct or relayed as RFC 4787 predicts", async () => {
  const table: string[] = [];
  for (const typeA of TYPES) {
    for (const typeB of TYPES) {
      const s = await setup(typeA, typeB);
      try {
        const label = `${typeA} x ${typeB}`;
        const ok = await exchange(s, label);
        assert.notEqual(ok, false, `${label}: met and exchanged messages`);
        const [a, b] = s.rooms as [Room, Room];
        const want = expected(typeA, typeB);
        // Settle: punching has its deadline, then the relay (or the direct path) holds.
        await s.net.advance(5_000);
        assert.equal(a.pathOf(b.self), want, `${label} (a's view)`);
        assert.equal(b.pathOf(a.self), want, `${label} (b's view)`);
        assert.notEqual(await exchange(s, `${label} again`), false, `${label}: still talking`);
        // Members are known by their public address whatever the path.
        assert.deepEqual(a.peers.map(key), [key(b.self)]);
        assert.deepEqual(b.peers.map(key), [key(a.self)]);
        const relayed = s.boot.natStats().relayedDatagrams;
        if (want === "relayed") assert.ok(relayed > 0, `${label}: the relay carried traffic`);
        table.push(`${label}: ${want}`);
      } finally {
        await s.close();
      }
    }
  }
  assert.equal(table.length, 16);
});

Deno.test("NAT traversal: without --relay, symmetric x symmetric peers never meet", async () => {
  const s = await setup("symmetric", "symmetric", { relay: false });
  try {
    assert.equal(await exchange(s, "no relay"), false);
    assert.equal(s.boot.natStats().reservationsRefused.disabled! >= 1, true);
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: NAT_CHECK tells a symmetric NAT from a cone", async () => {
  const s = await setup("port-restricted-cone", "symmetric");
  try {
    await s.net.advance(2_000);
    assert.equal(s.rooms[0]!.natClass, "endpoint-independent");
    assert.equal(s.rooms[1]!.natClass, "endpoint-dependent");
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: a path that outlives its NAT mapping is kept open by keepalives", async () => {
  // Mappings expire after 30 s of silence; heartbeats and PROBE keepalives (<= 25 s) hold them.
  const s = await setup("port-restricted-cone", "port-restricted-cone", {
    mappingTimeoutMs: 30_000,
  });
  try {
    assert.notEqual(await exchange(s, "first"), false);
    await s.net.advance(90_000);
    assert.notEqual(await exchange(s, "after 90 s"), false);
    assert.equal(s.rooms[0]!.pathOf(s.rooms[1]!.self), "direct");
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: a NAT reboot rebinds a peer to a new port, and the member stays one", async () => {
  const s = await setup("port-restricted-cone", "port-restricted-cone", {
    allocation: "sequential",
  });
  try {
    assert.notEqual(await exchange(s, "before"), false);
    const [a, b] = s.rooms as [Room, Room];
    const before = s.nats[0]!.mappings().map((m) => m.external.port);
    s.nats[0]!.expireAll(); // every mapping of A's NAT is gone: its next datagrams get new ports
    await s.net.advance(10_000);
    const after = s.nats[0]!.mappings().map((m) => m.external.port);
    assert.ok(after.length > 0 && after.every((p) => !before.includes(p)), "A was rebound");
    assert.notEqual(await exchange(s, "after the reboot"), false, "messages both ways again");
    assert.equal(b.peers.length, 1, "B still counts A once");
    assert.equal(a.peers.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: a relayed pair renews its reservations and keeps talking for 5 minutes", async () => {
  const s = await setup("symmetric", "symmetric");
  try {
    assert.notEqual(await exchange(s, "start"), false);
    await s.net.advance(300_000); // 2.5 reservation lifetimes (120 s)
    assert.notEqual(await exchange(s, "after 5 min"), false);
    const stats = s.boot.natStats();
    assert.equal(stats.reservations, 2);
    assert.ok(stats.reservationsGranted >= 6, `${stats.reservationsGranted} grants (renewals)`);
    assert.equal(s.rooms[0]!.pathOf(s.rooms[1]!.self), "relayed");
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: a secure room's pair behind two symmetric NATs handshakes and talks through the relay", async () => {
  const s = await setup("symmetric", "symmetric", { secret: "relay-secret" });
  try {
    assert.notEqual(await exchange(s, "sealed"), false);
    assert.equal(s.rooms[0]!.pathOf(s.rooms[1]!.self), "relayed");
    assert.ok(s.boot.natStats().relayedDatagrams > 0, "the relay carried the handshake and data");
  } finally {
    await s.close();
  }
});

Deno.test("NAT traversal: two bootstraps' views of a peer tell its NAT class too", async () => {
  for (
    const [type, want] of [["symmetric", "endpoint-dependent"], [
      "full-cone",
      "endpoint-independent",
    ]] as const
  ) {
    const net = new MemoryNetwork({ seed: 5, startTime: T0, delayMs: 5 });
    net.addNat({
      publicHostname: "198.51.100.1",
      hosts: ["10.1.0.2"],
      type,
      portAllocation: "random",
    });
    const boots = await Promise.all(
      ["203.0.113.1", "203.0.113.2"].map((hostname) =>
        startBootstrap({ bind: net.bind, clock: net.clock, hostname, port: 5000 })
      ),
    );
    let room: Room | undefined;
    joinRoom("lobby", {
      bootstraps: ["203.0.113.1:5000", "203.0.113.2:5000"],
      bind: net.bind,
      clock: net.clock,
      hostname: "10.1.0.2",
      nat: true,
    }).then((r) => (room = r));
    assert.ok(await net.runUntil(() => room?.natClass === want, { timeoutMs: 5_000 }), type);
    await room!.leave();
    for (const b of boots) await b.close();
  }
});

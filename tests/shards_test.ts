// Issue 15: rooms sharded over bootstrap processes by the peers' rendezvous hash. One shard dies:
// its rooms move to the next bootstrap in each room's order and are rebuilt there from the
// collector's member report within a heartbeat, while the members keep each other.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { eventually } from "@olaf/protocol/testing";
import { joinRoom, type Room } from "@olaf/peer";
import { Child } from "./_child.ts";

const T0 = 1_763_700_000_000;
const HEARTBEAT = 3000;

Deno.test("a dead shard's room moves to the next shard and is whole again within a heartbeat", async () => {
  const net = new MemoryNetwork({ startTime: T0, delayMs: 5 });
  const shards = [
    await startBootstrap({ bind: net.bind, clock: net.clock, hostname: "127.0.0.1", port: 5000 }),
    await startBootstrap({ bind: net.bind, clock: net.clock, hostname: "127.0.0.1", port: 5001 }),
  ];
  const bootstraps = ["127.0.0.1:5000", "127.0.0.1:5001"];
  const rooms: Room[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      let joined: Room | undefined;
      joinRoom("sharded", {
        bootstraps,
        bind: net.bind,
        clock: net.clock,
        hostname: `10.0.0.${i + 1}`,
      })
        .then((room) => (joined = room));
      await net.runUntil(() => joined !== undefined, { timeoutMs: 30_000 });
      rooms.push(joined!);
    }
    await net.advance(2 * HEARTBEAT);
    // Every member chose the same shard; the other one never heard of the room.
    const home = shards.findIndex((s) => s.room("sharded") !== undefined);
    assert.ok(home >= 0);
    const other = shards[1 - home]!;
    assert.equal(shards[home]!.room("sharded")?.memberCount, 5);
    assert.equal(other.room("sharded"), undefined);
    for (const room of rooms) assert.equal(room.peers.length, 4);

    await shards[home]!.close();
    const died = net.now();
    // Peers fail over after 3 unanswered requests (bootstrapMisses), one per heartbeat.
    let arrived: number | undefined;
    let whole: number | undefined;
    await net.runUntil(() => {
      const count = other.room("sharded")?.memberCount;
      if (count !== undefined) arrived ??= net.now();
      if (count === 5) whole ??= net.now();
      return whole !== undefined;
    }, { timeoutMs: 6 * HEARTBEAT });
    assert.ok(arrived! - died <= 4 * HEARTBEAT, `failed over after ${arrived! - died} ms`);
    assert.ok(whole! - arrived! <= HEARTBEAT, `rebuilt in ${whole! - arrived!} ms`);
    const port = other.localAddress.port;
    // Only the collector (the lowest id) talks to the bootstrap once a room has members, so it
    // is the one that moved; its member report rebuilt the whole room.
    assert.ok(rooms.some((room) => room.bootstrap.port === port));
    for (const room of rooms) assert.equal(room.peers.length, 4, "membership survived");
    // And it stays whole: no one is dropped over the next heartbeats.
    await net.advance(5 * HEARTBEAT);
    assert.equal(other.room("sharded")?.memberCount, 5);
    for (const room of rooms) assert.equal(room.peers.length, 4);
  } finally {
    for (const room of rooms) await room.leave();
    for (const shard of shards) await shard.close();
    await net.advance(1000);
  }
});

Deno.test("olaf-bootstrap shards: 2 real processes, aggregated /stats, a killed shard fails over", async () => {
  // "shards" from a config file (the shards read it too, and must not fork again).
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(config, JSON.stringify({ shards: 2 }));
  await using child = new Child([
    "run",
    "-A",
    new URL("../bootstrap/mod.ts", import.meta.url).pathname,
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "0",
    "--requests-per-second",
    "0",
  ], { cwd: new URL("..", import.meta.url), env: { NO_COLOR: "1" } });
  const line = await child.waitForLine(
    /^olaf bootstrap shards listening on (\S+) \(control plane (http:\/\/\S+?)\/ over 2 shards\) pids (\d+),(\d+)/,
    "the shards' start-up line",
  );
  const udp = line[1]!.split(",").map((a) => a.replace("udp://", ""));
  const control = line[2]!;
  const pids = [Number(line[3]), Number(line[4])];
  const stats = async () => await (await fetch(`${control}/stats`)).json();
  const rooms: Room[] = [];
  try {
    const options = {
      bootstraps: udp,
      hostname: "127.0.0.1",
      heartbeatMs: 500,
      bootstrapMisses: 2,
    };
    for (let i = 0; i < 3; i++) rooms.push(await joinRoom("sharded", options));
    await eventually(async () => (await stats()).members === 3, {
      what: "3 members over 2 shards",
    });
    const before = await stats();
    assert.equal(before.partial, false);
    const home = before.shards.findIndex((s: { members: number }) => s.members === 3);
    assert.ok(home >= 0, JSON.stringify(before));
    Deno.kill(pids[home]!, "SIGKILL");
    await eventually(async () => {
      const s = await stats();
      return s.partial && s.shards[1 - home].members === 3;
    }, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: "the room rebuilt on the other shard",
    });
    const after = await stats();
    assert.equal(after.shards[home].ok, false);
    assert.equal(after.shards[home].error, "connection refused");
    await eventually(() => rooms.every((r) => r.peers.length === 2), { what: "members kept" });
    assert.match(child.output(), /shard \d \(udp:\/\/\S+, pid \d+\) exited/);
  } finally {
    for (const room of rooms) await room.leave();
  }
  child.process.kill("SIGTERM");
  assert.equal((await child.process.status).code, 0);
  assert.equal(child.output().match(/olaf bootstrap listening on/g)?.length, 2, "two shards only");
  await Deno.remove(config);
});

Deno.test("olaf-bootstrap --shards refuses counts and port ranges that do not fit", async () => {
  const { main } = await import("@olaf/bootstrap");
  const error = console.error;
  const printed: string[] = [];
  console.error = (text: string) => printed.push(text);
  try {
    assert.equal(await main(["--shards", "0"], { handleSignals: false }), 2);
    assert.equal(await main(["--shards", "2", "--port", "65535"], { handleSignals: false }), 2);
    assert.equal(
      await main(["--shards", "3", "--port", "6000", "--http", "65533"], { handleSignals: false }),
      2,
    );
  } finally {
    console.error = error;
  }
  assert.match(printed[0]!, /^olaf-bootstrap: --shards must be/);
  assert.equal(printed[2], "olaf-bootstrap: --shards 2 from --port 65535 runs past port 65535");
  assert.equal(printed[4], "olaf-bootstrap: --shards 3 from --http 65533 runs past port 65535");
});

import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { encode } from "@olaf/protocol";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { DeliveryError } from "@olaf/protocol/reliable";
import {
  joinRoom,
  type JoinRoomOptions,
  ReliableSendError,
  type ReliableSendOutcome,
  type RoomMessage,
} from "./room.ts";
import { PeerLeftError } from "./peer_machine.ts";

const T0 = 1_763_700_000_000;

async function setup(loss = 0, extra: Partial<JoinRoomOptions> = {}) {
  const net = new MemoryNetwork({ startTime: T0, delayMs: { min: 5, max: 15 }, seed: 7 });
  const server = await startBootstrap({ bind: net.bind, clock: net.clock, port: 5000 });
  const join = async (hostname: string, more: Partial<JoinRoomOptions> = {}) => {
    let settled = false;
    const joining = joinRoom("lobby", {
      bootstraps: ["127.0.0.1:5000"],
      bind: net.bind,
      clock: net.clock,
      hostname,
      ...extra,
      ...more,
    });
    joining.then(() => (settled = true), () => (settled = true));
    await net.runUntil(() => settled, { timeoutMs: 30_000 });
    return joining;
  };
  const alice = await join("10.0.0.1");
  const bob = await join("10.0.0.2");
  // Open rooms encrypt links between Olaf peers by default: wait for that too (part of the
  // setup, like the join), unless a test turned it off.
  let sealed = extra.opportunistic === false ? 2 : 0;
  for (const r of [alice, bob]) r.on("link", (e) => e.encrypted && sealed++);
  await net.runUntil(() => alice.peers.length === 1 && bob.peers.length === 1 && sealed >= 2, {
    timeoutMs: 30_000,
  });
  // Lossy from here on: the join itself is not what is tested.
  net.configure({ loss, duplicate: loss > 0 ? 0.05 : 0, reorder: loss > 0 ? 0.1 : 0 });
  return { net, server, alice, bob };
}

for (const loss of [0.1, 0.3, 0.5]) {
  Deno.test(`reliable sendTo at ${loss * 100}% loss with duplication and reordering: exactly once, in order`, async () => {
    const { net, server, alice, bob } = await setup(loss);
    const got: RoomMessage[] = [];
    bob.on("message", (m) => got.push(m));
    const target = alice.peers[0]!;
    const n = 60;
    let settled = 0;
    const failures: unknown[] = [];
    for (let i = 0; i < n; i++) {
      alice.sendTo(target, `m${i}`, { reliable: true, ordered: true }).then(
        () => settled++,
        (error) => (settled++, failures.push(error)),
      );
    }
    await net.runUntil(() => settled === n, { timeoutMs: 120_000 });
    assert.deepEqual(failures, []);
    await net.runUntil(() => got.length >= n, { timeoutMs: 10_000 });
    await net.advance(2000); // late duplicates would show up here
    assert.deepEqual(got.map((m) => m.text()), Array.from({ length: n }, (_, i) => `m${i}`));
    assert.ok(got.every((m) => m.reliable === true && m.ordered === true));
    assert.ok(alice.rtt(target)! > 0);
    // The network really was lossy, duplicating and reordering (else this tests nothing).
    assert.ok(net.stats.lost > 0 && net.stats.duplicated > 0 && net.stats.reordered > 0);
    net.configure({ loss: 0, duplicate: 0, reorder: 0 });
    await alice.leave();
    await bob.leave();
    await server.close();
  });
}

Deno.test("reliable unordered messages at 30% loss arrive exactly once, and 256 KiB ones reassemble", async () => {
  const { net, server, alice, bob } = await setup(0.3);
  const got: RoomMessage[] = [];
  bob.on("message", (m) => got.push(m));
  const target = alice.peers[0]!;
  const big = new Uint8Array(256 * 1024).map((_, i) => (i * 31) & 0xff);
  let done = 0;
  const outcomes: unknown[] = [];
  const sends = [
    alice.sendTo(target, big, { reliable: true }),
    ...Array.from({ length: 20 }, (_, i) => alice.sendTo(target, `u${i}`, { reliable: true })),
  ];
  for (const s of sends) s.then(() => done++, (e) => (done++, outcomes.push(e)));
  await net.runUntil(() => done === sends.length, { timeoutMs: 300_000 });
  assert.deepEqual(outcomes, []);
  await net.runUntil(() => got.length >= 21, { timeoutMs: 10_000 });
  await net.advance(2000);
  assert.equal(got.length, 21);
  const large = got.filter((m) => m.data.length === big.length);
  assert.equal(large.length, 1);
  assert.deepEqual(large[0]!.data, big);
  assert.deepEqual(
    got.filter((m) => m.data.length < 100).map((m) => m.text()).sort(),
    Array.from({ length: 20 }, (_, i) => `u${i}`).sort(),
  );
  assert.ok(got.every((m) => m.reliable === true && m.ordered === false));
  net.configure({ loss: 0, duplicate: 0, reorder: 0 });
  await alice.leave();
  await bob.leave();
  await server.close();
});

Deno.test("a reliable broadcast settles per recipient; plain send is unchanged", async () => {
  const { net, server, alice, bob } = await setup();
  const got: RoomMessage[] = [];
  bob.on("message", (m) => got.push(m));
  assert.equal(alice.send("plain"), 1);
  let outcomes: ReliableSendOutcome[] | undefined;
  alice.send("everyone", { reliable: true }).then((o) => (outcomes = o));
  await net.runUntil(() => outcomes !== undefined, { timeoutMs: 10_000 });
  assert.deepEqual(outcomes, [{ peer: alice.peers[0], ok: true }]);
  await net.runUntil(() => got.length >= 2, { timeoutMs: 10_000 });
  // Both arrive (in either order: the network reorders by delay); only the reliable one says so.
  assert.deepEqual(
    got.map((m) => [m.text(), m.reliable]).sort(),
    [["everyone", true], ["plain", undefined]],
  );
  await alice.leave();
  await bob.leave();
  await server.close();
});

Deno.test("a crashed member fails the reliable send within the give-up time", async () => {
  const { net, server, alice, bob } = await setup();
  const target = alice.peers[0]!;
  // Bob crashes: his datagrams stop, and nothing reaches him.
  net.partition([bob.localAddress], [alice.localAddress, { hostname: "127.0.0.1", port: 5000 }]);
  const started = net.now();
  let error: unknown;
  alice.sendTo(target, "anyone?", { reliable: true }).catch((e) => (error = e));
  await net.runUntil(() => error !== undefined, { timeoutMs: 60_000 });
  // Default give-up: 10 tries or 30 s; the peer timeout (15 s) may come first.
  assert.ok(
    error instanceof DeliveryError || error instanceof PeerLeftError,
    String(error),
  );
  assert.ok(net.now() - started <= 31_000, `failed after ${net.now() - started} ms`);
  net.heal();
  await alice.leave();
  await bob.leave();
  await server.close();
});

Deno.test("a reliable send to a deployed v1 peer rejects at once; plain messages still flow", async () => {
  const { net, server, alice } = await setup();
  // A deployed v1 peer: its lists never start with its own record.
  const received: Uint8Array[] = [];
  const legacy = await net.bind({
    hostname: "10.0.0.9",
    port: 4000,
    onDatagram: (data: Uint8Array) => void received.push(data.slice()),
  });
  const aliceAddr = { hostname: alice.self.ip, port: alice.self.port };
  legacy.send(encode({ type: "PING", peers: [], payload: new Uint8Array() }), aliceAddr);
  const v1 = { ip: "10.0.0.9", port: 4000 };
  await net.runUntil(() => alice.peers.some((p) => p.ip === v1.ip), { timeoutMs: 10_000 });
  const before = net.now();
  const error = await alice.sendTo(v1, "x", { reliable: true }).catch((e) => e);
  assert.ok(error instanceof ReliableSendError);
  assert.equal(error.reason, "not-olaf");
  assert.match(error.message, /deployed v1 peer/);
  assert.equal(net.now(), before);
  let outcomes: ReliableSendOutcome[] | undefined;
  alice.send("all", { reliable: true }).then((o) => (outcomes = o));
  await net.runUntil(() => outcomes !== undefined, { timeoutMs: 10_000 });
  const byIp = new Map(
    (outcomes as unknown as { peer: { ip: string }; ok: boolean }[]).map((o) => [o.peer.ip, o.ok]),
  );
  assert.equal(byIp.get("10.0.0.9"), false);
  assert.equal(byIp.get("10.0.0.2"), true);
  const count = received.length;
  alice.sendTo(v1, "plain hello"); // plain still goes, as APP_R
  await net.runUntil(() => received.length > count, { timeoutMs: 5_000 });
  assert.ok(
    received.slice(count).some((d) =>
      new TextDecoder().decode(d).includes("plain hello") && d[0]! < 16
    ),
  );
  await legacy.close();
  await alice.leave();
  await server.close();
});

Deno.test("a send that gave up rejects with DeliveryError; after the path heals, the next one is acknowledged", async () => {
  const { net, server, alice, bob } = await setup(0, { reliable: { maxTransmissions: 3 } });
  const target = alice.peers[0]!;
  net.partition([bob.localAddress], [alice.localAddress]);
  let error: unknown;
  alice.sendTo(target, "lost", { reliable: true }).catch((e) => (error = e));
  await net.runUntil(() => error !== undefined, { timeoutMs: 20_000 });
  assert.ok(error instanceof DeliveryError, String(error));
  assert.equal(error.reason, "gave-up");
  assert.match(error.message, /3 transmissions/);
  assert.deepEqual(alice.peers, [target]); // still a member: the peer timeout is 15 s
  net.heal();
  const got: string[] = [];
  bob.on("message", (m) => got.push(m.text()));
  let acked = false;
  alice.sendTo(target, "again", { reliable: true }).then(() => (acked = true));
  await net.runUntil(() => acked, { timeoutMs: 10_000 });
  await net.runUntil(() => got.length > 0, { timeoutMs: 1_000 });
  assert.deepEqual(got, ["again"]);
  await alice.leave();
  await bob.leave();
  await server.close();
});

Deno.test("a full window makes reliable sends wait (backpressure), then they go in order", async () => {
  const { net, server, alice, bob } = await setup(0.1, { reliable: { windowPackets: 4 } });
  const got: string[] = [];
  bob.on("message", (m) => got.push(m.text()));
  const target = alice.peers[0]!;
  const order: number[] = [];
  const sends = Array.from(
    { length: 40 },
    (_, i) =>
      alice.sendTo(target, `w${i}`, { reliable: true, ordered: true }).then(() => order.push(i)),
  );
  let done = false;
  Promise.all(sends).then(() => (done = true));
  await net.runUntil(() => done, { timeoutMs: 120_000 });
  await net.runUntil(() => got.length >= 40, { timeoutMs: 5_000 });
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => `w${i}`));
  assert.equal(order.length, 40);
  net.configure({ loss: 0, duplicate: 0, reorder: 0 });
  await alice.leave();
  await bob.leave();
  await server.close();
});

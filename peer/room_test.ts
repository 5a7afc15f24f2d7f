import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { JoinError, joinRoom, type JoinRoomOptions, type Room } from "./room.ts";

const T0 = 1_763_700_000_000;

async function setup(maxRooms = 10) {
  const net = new MemoryNetwork({ startTime: T0, delayMs: 5 });
  const server = await startBootstrap({ bind: net.bind, clock: net.clock, port: 5000, maxRooms });
  const options = (hostname: string): JoinRoomOptions => ({
    bootstraps: ["127.0.0.1:5000"],
    bind: net.bind,
    clock: net.clock,
    hostname,
  });
  /** Joins and runs the network until the join settles. */
  const join = async (name: string, hostname: string, extra: Partial<JoinRoomOptions> = {}) => {
    let settled = false;
    const joining = joinRoom(name, { ...options(hostname), ...extra });
    joining.then(() => (settled = true), () => (settled = true));
    await net.runUntil(() => settled, { timeoutMs: 30_000 });
    return joining;
  };
  return { net, server, join };
}

async function rejection(promise: Promise<unknown>): Promise<JoinError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof JoinError, String(error));
    return error;
  }
  assert.fail("expected a rejection");
}

Deno.test("joinRoom rejects with a timeout when no bootstrap answers, and frees its port", async () => {
  const net = new MemoryNetwork({ startTime: T0 });
  let settled = false;
  const joining = joinRoom("lobby", {
    bootstraps: ["127.0.0.1:5000"],
    bind: net.bind,
    clock: net.clock,
    port: 4000,
    joinTimeoutMs: 10_000,
  });
  joining.catch(() => {}).finally(() => (settled = true));
  await net.runUntil(() => settled, { timeoutMs: 20_000 });
  const error = await rejection(joining);
  assert.equal(error.code, "timeout");
  assert.match(error.message, /127\.0\.0\.1:5000/);
  assert.equal(net.now() - T0, 10_000);
  await net.advance(1);
  const socket = await net.bind({ port: 4000 }); // the port is free again
  await socket.close();
});

Deno.test("joinRoom rejects with room-full when the bootstrap refuses the room", async () => {
  const { server, join } = await setup(1);
  const first = await join("one", "10.0.0.1");
  const error = await rejection(join("two", "10.0.0.2"));
  assert.equal(error.code, "room-full");
  assert.match(error.message, /ROOM_FULL/);
  await first.leave();
  await server.close();
});

Deno.test("an abort signal rejects a pending join, and leaves a joined room with bye", async () => {
  const { net, server, join } = await setup();
  const early = new AbortController();
  const joining = join("lobby", "10.0.0.1", { signal: early.signal });
  early.abort();
  assert.equal((await rejection(joining)).code, "aborted");
  const already = await rejection(join("lobby", "10.0.0.1", { signal: AbortSignal.abort() }));
  assert.equal(already.code, "aborted");

  const controller = new AbortController();
  const alice = await join("lobby", "10.0.0.2", { signal: controller.signal });
  const bob = await join("lobby", "10.0.0.3");
  await net.runUntil(() => bob.peers.length === 1);
  const reasons: string[] = [];
  bob.onPeerLeave((_peer, reason) => reasons.push(reason));
  controller.abort();
  await net.advance(10);
  assert.equal(alice.left, true);
  assert.deepEqual(reasons, ["bye"]);
  await bob.leave();
  await server.close();
});

Deno.test("Room events: peer-joined once per member, unsubscribe, messages() ends on leave", async () => {
  const { net, server, join } = await setup();
  const alice = await join("lobby", "10.0.0.1");
  const joined: string[] = [];
  alice.onPeerJoin((p) => joined.push(p.ip));
  const rooms: Room[] = [];
  for (let i = 2; i <= 4; i++) rooms.push(await join("lobby", `10.0.0.${i}`));
  await net.runUntil(() => alice.peers.length === 3);
  await net.advance(10_000); // heartbeats: no duplicate events
  assert.deepEqual(joined.sort(), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);

  const texts: string[] = [];
  const off = alice.onMessage((m) => texts.push(m.text()));
  const iterated: string[] = [];
  const reading = (async () => {
    for await (const m of alice.messages()) iterated.push(`${m.from.ip} ${m.text()}`);
  })();
  rooms[0]!.sendTo(alice.self, "one");
  await net.advance(10);
  off();
  rooms[1]!.send(new TextEncoder().encode("two"));
  await net.advance(10);
  assert.deepEqual(texts, ["one"]);

  let leftEvent = false;
  alice.on("left", () => (leftEvent = true));
  await alice.leave();
  await reading; // the iterator ended
  assert.deepEqual(iterated, ["10.0.0.2 one", "10.0.0.3 two"]);
  assert.equal(leftEvent, true);
  assert.throws(() => alice.send("late"), RangeError);
  await Promise.all(rooms.map((r) => r.leave()));
  await server.close();
});

Deno.test("a message sent as soon as joinRoom resolves reaches the room", async () => {
  const { net, server, join } = await setup();
  const alice = await join("lobby", "10.0.0.1");
  const got: string[] = [];
  alice.onMessage((m) => got.push(m.text()));
  const bob = await join("lobby", "10.0.0.2");
  assert.deepEqual(bob.peers, [], "alice has not answered bob yet");
  assert.equal(bob.send("first words"), 1);
  await net.advance(20);
  assert.deepEqual(got, ["first words"]);
  assert.deepEqual(alice.peers, [bob.self]);
  await Promise.all([alice.leave(), bob.leave()]);
  await server.close();
});

Deno.test("await using leaves the room with bye at the end of the block", async () => {
  const { net, server, join } = await setup();
  const alice = await join("lobby", "10.0.0.1");
  const reasons: string[] = [];
  alice.onPeerLeave((_peer, reason) => reasons.push(reason));
  {
    await using bob = await join("lobby", "10.0.0.2");
    await net.runUntil(() => alice.peers.length === 1 && bob.peers.length === 1);
  }
  await net.advance(10);
  assert.deepEqual(reasons, ["bye"]);
  assert.deepEqual(alice.peers, []);
  await alice.leave();
  await server.close();
});

Deno.test("a socket error (a failed send, say) is logged, not thrown: the room keeps working", async () => {
  const { net, server, join } = await setup();
  let onError: ((error: Error) => void) | undefined;
  const bind: JoinRoomOptions["bind"] = (options) => {
    onError = options.onError;
    return net.bind(options);
  };
  await using a = await join("errors", "10.0.0.1", { bind });
  await using b = await join("errors", "10.0.0.2");
  assert.ok(onError, "joinRoom handles socket errors itself");
  onError(new Error("network is unreachable")); // would be rethrown as uncaught without it
  const got: string[] = [];
  b.onMessage((message) => got.push(message.text()));
  await net.advance(3_000);
  a.send("still here");
  await net.advance(100);
  assert.deepEqual(got, ["still here"]);
  await server.close();
});

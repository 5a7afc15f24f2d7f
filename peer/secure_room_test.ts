// Secure rooms (issue 10) end to end on the in-memory network: three peers with the secret meet,
// strangers and a wrong secret get nothing, tampered and forged datagrams are dropped, and no
// datagram ever carries the plaintext, the room name or the secret.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { decode, encode } from "@olaf/protocol";
import { decodeDialect, isDialectDatagram } from "@olaf/protocol/dialect";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import type { DatagramBinder, DatagramSocket } from "@olaf/protocol/net";
import { joinRoom, type JoinRoomOptions, type Room } from "./room.ts";
import { roomKeys } from "./_secure/room_keys.ts";

const T0 = 1_763_700_000_000;
const SECRET = "8f0c1e2d3b4a59687766554433221100ffeeddccbbaa99887766554433221100";
const enc = new TextEncoder();

interface Wire {
  /** Every datagram any peer sent (copies). */
  readonly sent: Uint8Array[];
  /** When set, rewrites datagrams arriving at the peer bound to `hostname`. */
  mutate: { hostname: string; fn: (data: Uint8Array) => Uint8Array } | undefined;
}

/** A binder over the memory network that records what peers send and can tamper with it. */
function tapped(net: MemoryNetwork): { bind: DatagramBinder; wire: Wire } {
  const wire: Wire = { sent: [], mutate: undefined };
  const bind: DatagramBinder = async (options) => {
    const socket = await net.bind({
      ...options,
      onDatagram: (data, from) => {
        const m = wire.mutate;
        const bytes = m !== undefined && m.hostname === options.hostname ? m.fn(data) : data;
        options.onDatagram?.(bytes, from);
      },
    });
    const send = socket.send.bind(socket);
    return Object.assign(Object.create(socket) as DatagramSocket, {
      send(data: Uint8Array, to: { hostname: string; port: number }) {
        wire.sent.push(data.slice());
        send(data, to);
      },
      close: () => socket.close(),
      localAddress: socket.localAddress,
    });
  };
  return { bind, wire };
}

async function setup() {
  const net = new MemoryNetwork({ startTime: T0, delayMs: 5 });
  const server = await startBootstrap({ bind: net.bind, clock: net.clock, port: 5000 });
  const { bind, wire } = tapped(net);
  const join = async (hostname: string, extra: Partial<JoinRoomOptions> = {}) => {
    let settled = false;
    const joining = joinRoom("war-room", {
      bootstraps: ["127.0.0.1:5000"],
      bind,
      clock: net.clock,
      hostname,
      secret: SECRET,
      ...extra,
    });
    joining.then(() => (settled = true), () => (settled = true));
    await net.runUntil(() => settled, { timeoutMs: 30_000 });
    return joining;
  };
  return { net, server, wire, join };
}

function includes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function messagesOf(room: Room): string[] {
  const got: string[] = [];
  room.onMessage((m) => got.push(`${m.from.publicKey}:${m.text()}`));
  return got;
}

const meshed = (rooms: Room[]) => () =>
  rooms.every((r) => r.peers.length === rooms.length - 1 && r.peers.every((p) => p.id !== 0));

Deno.test("secure room: three peers with the secret meet, know each other by public key, chat sealed", async () => {
  const { net, server, wire, join } = await setup();
  const rooms = [await join("10.0.0.1"), await join("10.0.0.2"), await join("10.0.0.3")];
  assert.ok(await net.runUntil(meshed(rooms), { timeoutMs: 20_000 }), "all three meet");
  for (const r of rooms) {
    assert.equal(r.secure, true);
    assert.match(r.self.publicKey!, /^[0-9a-f]{64}$/);
    assert.equal(r.self.publicKey, r.publicKey);
    const others = rooms.filter((o) => o !== r).map((o) => o.publicKey).sort();
    assert.deepEqual(r.peers.map((p) => p.publicKey).sort(), others);
  }
  const inbox = messagesOf(rooms[1]!);
  const secretLine = "the eagle lands at dawn";
  rooms[0]!.send(secretLine);
  assert.ok(await net.runUntil(() => inbox.length === 1, { timeoutMs: 1_000 }));
  assert.deepEqual(inbox, [`${rooms[0]!.publicKey}:${secretLine}`]);
  await net.advance(100); // room 2 got it too

  // Reliable sends (issue 9) run inside the sealed links too.
  const reliableInbox = messagesOf(rooms[2]!);
  const big = "x".repeat(5_000) + " reliable and sealed";
  const sending = rooms[0]!.sendTo(rooms[2]!.self, big, { reliable: true });
  let done = false;
  sending.then(() => (done = true));
  assert.ok(await net.runUntil(() => done, { timeoutMs: 5_000 }), "acknowledged");
  assert.deepEqual(reliableInbox, [`${rooms[0]!.publicKey}:${big}`]);

  // What went over the wire: peer-to-peer only HANDSHAKE (18) and SEALED (19); to the bootstrap
  // the Olaf join naming the room tag; never the line, the room name or the secret.
  const tag = roomKeys("war-room", SECRET).tagHex;
  for (const d of wire.sent) {
    assert.ok(!includes(d, enc.encode(secretLine)), "the plaintext never travels");
    assert.ok(!includes(d, enc.encode("reliable and sealed")));
    assert.ok(!includes(d, enc.encode("war-room")), "the room name never travels");
    assert.ok(!includes(d, enc.encode(SECRET)), "the secret never travels");
    if (d[0] === 18 || d[0] === 19) continue;
    assert.ok(isDialectDatagram(d), `only the Olaf join to the bootstrap, not ${decode(d).type}`);
    const m = decodeDialect(d);
    assert.ok(m.type === "JOIN_O" || m.type === "REPORT_O", m.type);
    assert.equal(m.room, tag);
    assert.equal(m.secure, true);
  }
  assert.ok(wire.sent.some((d) => d[0] === 19) && wire.sent.some((d) => d[0] === 18));
  // Later joiners got members' keys in the WELCOME: IK (step 4) rather than XX (step 1).
  assert.ok(wire.sent.some((d) => d[0] === 18 && d[7] === 4), "IK from the WELCOME's keys");
  await Promise.all(rooms.map((r) => r.leave()));
  await server.close();
});

Deno.test("secure room: a wrong secret never yields a member or app data; the right side is told", async () => {
  const { net, server, join } = await setup();
  const alice = await join("10.0.0.1");
  const bob = await join("10.0.0.2");
  assert.ok(await net.runUntil(meshed([alice, bob]), { timeoutMs: 20_000 }));
  const errors: string[] = [];
  alice.on("error", (e) => errors.push(`${e.code}: ${e.message}`));
  const mallory = await join("10.0.0.9", { secret: "a guess" });
  const malloryInbox = messagesOf(mallory);
  const aliceInbox = messagesOf(alice);
  // Another tag: the bootstrap puts mallory in another room. Aimed at alice directly, her
  // handshakes fail alice's mac check.
  for (let i = 0; i < 5; i++) {
    mallory.sendTo(alice.self, "let me in");
    alice.send("members only");
    await net.advance(1_000);
  }
  assert.deepEqual(mallory.peers, []);
  assert.deepEqual(malloryInbox, []);
  assert.deepEqual(alice.peers.map((p) => p.publicKey), [bob.publicKey]);
  assert.deepEqual(aliceInbox, []);
  assert.equal(errors.length, 1, "rate-limited: one report per address per 10 s");
  assert.match(errors[0]!, /^wrong-secret: 10\.0\.0\.9:\d+ tried to join room "war-room"/);
  assert.ok(alice.stats.secure["bad-mac"] >= 5);
  await Promise.all([alice, bob, mallory].map((r) => r.leave()));
  await server.close();
});

Deno.test("secure room: an allow-list refuses other keys, with an event", async () => {
  const { net, server, join } = await setup();
  const carol = await join("10.0.0.3");
  const alice = await join("10.0.0.1", { allow: [carol.publicKey] });
  assert.ok(await net.runUntil(meshed([alice, carol]), { timeoutMs: 20_000 }));
  const errors: string[] = [];
  alice.on("error", (e) => errors.push(e.code));
  const dave = await join("10.0.0.4");
  await net.advance(10_000);
  assert.deepEqual(alice.peers.map((p) => p.publicKey), [carol.publicKey]);
  assert.ok(!dave.peers.some((p) => p.publicKey === alice.publicKey));
  assert.ok(errors.includes("refused-key"), errors.join());
  await Promise.all([alice, carol, dave].map((r) => r.leave()));
  await server.close();
});

Deno.test("secure room: forged APP_R, PING, BOOTSTRAP_R and extension datagrams produce nothing", async () => {
  const { net, server, join } = await setup();
  const alice = await join("10.0.0.1");
  const events: string[] = [];
  for (const t of ["peer-joined", "peer-left", "message", "error"] as const) {
    alice.on(t, () => events.push(t));
  }
  const stranger = await net.bind({ hostname: "10.0.0.66", port: 4000 });
  const to = { hostname: alice.self.ip, port: alice.self.port };
  const me = { ip: "10.0.0.66", port: 4000, id: 1 };
  const forged = [
    encode({ type: "APP_R", peers: [me], payload: enc.encode("injected") }),
    encode({ type: "PING", peers: [me], payload: new Uint8Array() }),
    encode({ type: "BOOTSTRAP_R", peers: [me], self: { ip: "6.6.6.6", port: 6, id: 1 } }),
    new Uint8Array([16, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]), // DATA
    new Uint8Array([20, 0, 0, 0, 0, 0, 0]), // an extension code
    new Uint8Array([19, 0, 0, 0, 0, 0, 28, ...new Uint8Array(28)]), // SEALED, unknown session
    new Uint8Array([18, 0, 0, 0, 0, 0, 3, 1, 2, 3]), // HANDSHAKE, malformed
  ];
  const before = alice.stats;
  const self = alice.self;
  for (const d of forged) stranger.send(d, to);
  await net.advance(5_000);
  assert.deepEqual(events, []);
  assert.deepEqual(alice.peers, []);
  assert.deepEqual(alice.self, self, "own record unchanged");
  const after = alice.stats;
  assert.equal((after.drops["not-sealed"] ?? 0) - (before.drops["not-sealed"] ?? 0), 5);
  assert.equal((after.drops.secure ?? 0) - (before.drops.secure ?? 0), 2);
  await stranger.close();
  await alice.leave();
  await server.close();
});

Deno.test("secure room: bytes tampered on the way are dropped, then traffic resumes", async () => {
  const { net, server, wire, join } = await setup();
  const alice = await join("10.0.0.1");
  const bob = await join("10.0.0.2");
  assert.ok(await net.runUntil(meshed([alice, bob]), { timeoutMs: 20_000 }));
  const inbox = messagesOf(bob);
  wire.mutate = {
    hostname: "10.0.0.2",
    fn: (d) => {
      const copy = d.slice();
      if (copy[0] === 19) copy[copy.length - 5] ^= 0x01; // one bit of the ciphertext or tag
      return copy;
    },
  };
  alice.send("tampered");
  await net.advance(100);
  assert.deepEqual(inbox, []);
  assert.ok(bob.stats.secure["bad-tag"] > 0);
  wire.mutate = undefined;
  alice.send("intact");
  await net.advance(100);
  assert.deepEqual(inbox, [`${alice.publicKey}:intact`]);
  await Promise.all([alice.leave(), bob.leave()]);
  await server.close();
});

Deno.test("open room: Olaf peers upgrade their links to sealed; the text then never travels", async () => {
  const { net, server, wire, join } = await setup();
  const a = await join("10.0.0.1", { secret: undefined, opportunistic: true });
  const b = await join("10.0.0.2", { secret: undefined, opportunistic: true });
  assert.ok(await net.runUntil(meshed([a, b]), { timeoutMs: 20_000 }));
  await net.advance(12_000); // the lower address upgrades at a heartbeat, before any data
  const inbox = messagesOf(b);
  const from = wire.sent.length;
  a.send("opportunistic but sealed");
  await net.advance(100);
  assert.deepEqual(inbox, ["undefined:opportunistic but sealed"], "no key on open records");
  const after = wire.sent.slice(from);
  assert.ok(after.length > 0 && after.every((d) => d[0] === 19), "sealed");
  assert.ok(!after.some((d) => includes(d, enc.encode("opportunistic but sealed"))));
  await Promise.all([a.leave(), b.leave()]);
  await server.close();
});

Deno.test("open room: v1 plaintext as before, no public keys on records", async () => {
  const { net, server, wire, join } = await setup();
  const a = await join("10.0.0.1", { secret: undefined, opportunistic: true });
  // Opportunistic encryption is the default now: b turns it off (CLI --plaintext).
  const b = await join("10.0.0.2", { secret: undefined, opportunistic: false });
  assert.ok(await net.runUntil(meshed([a, b]), { timeoutMs: 20_000 }));
  await net.advance(12_000);
  const from = wire.sent.length;
  a.send("plain as v1");
  await net.advance(100);
  const after = wire.sent.slice(from);
  assert.ok(after.some((d) => includes(d, enc.encode("plain as v1"))), "b turned it off");
  assert.equal(a.secure, false);
  assert.equal(a.self.publicKey, undefined);
  assert.equal(a.peers[0]!.publicKey, undefined);
  await Promise.all([a.leave(), b.leave()]);
  await server.close();
});

Deno.test("peer README: the Secure rooms example runs as shown", async () => {
  const text = await Deno.readTextFile(new URL("README.md", import.meta.url));
  const section = text.slice(text.indexOf("## Secure rooms"));
  const code = /^```ts\n([\s\S]*?)^```$/m.exec(section)![1]!;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});

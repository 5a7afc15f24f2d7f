/**
 * Issue 12 over real UDP with spoofed sources (a raw socket, `tests/spoof.c`,
 * as root): what the bootstrap sends toward forged victims on 127.0.0.0/8,
 * counted where it arrives, and the room hijack and squatting attacks. Skips
 * with the reason without root or gcc (CI runs as root).
 */
import assert from "node:assert/strict";
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";
import { eventually } from "@olaf/protocol/testing";
import { type BootstrapOptions, startBootstrap } from "@olaf/bootstrap";
import { buildSpoofer, fillRoom, receiver, spoofSkipReason } from "./_spoof.ts";

const skip = spoofSkipReason();
if (skip) console.warn(`hostile_udp_test: skipped: ${skip}`);
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });

const join = (room: string, peers: PeerRecord[] = []) => encode({ type: "JOIN_B", peers, room });
const collect = (room: string, peers: PeerRecord[] = []) =>
  encode({ type: "PEER_COLLECTOR", peers, room });

/** Fills `room` with 150 made-up members by a report from a real collector (sent twice: echo). */
async function fill(server: NetAddress, room: string): Promise<() => Promise<void>> {
  const c = await fillRoom(server, room);
  assert.equal(c.got[1]!.length, 1023, "the collector is validated: a full reply");
  return () => c.socket.close();
}

async function serve(options: BootstrapOptions = {}) {
  return await startBootstrap({ hostname: "127.0.0.1", port: 0, ...options });
}

test("spoofed UDP: a 7-byte JOIN_B toward one victim draws at most 21 bytes (was 1023)", async () => {
  await using server = await serve();
  const close = await fill(server.localAddress, "");
  const victim = await receiver("127.0.0.9");
  await using spoof = await buildSpoofer();
  const request = join("");
  await spoof.send(request, victim.address, server.localAddress, { count: 30, gapUs: 2000 });
  await eventually(() => server.stats().datagramsIn >= 32, { what: "the spoofed joins" });
  await eventually(() => victim.got.length >= 30, { what: "the replies at the victim" });
  const bytes = victim.got.reduce((n, d) => n + d.length, 0);
  assert.ok(victim.got.every((d) => d.length <= 3 * request.length), "each reply within 3x");
  assert.ok(bytes <= 3 * 30 * request.length, `${bytes} bytes back for ${30 * 7}`);
  await victim.socket.close();
  await close();
});

test("spoofed UDP: over 3000 victims the total stays within 3x and the global budget", async () => {
  await using server = await serve({
    requestsPerSecond: Infinity,
    unvalidatedBytesPerSecond: 4096,
    unvalidatedBytesBurst: 8192,
  });
  const close = await fill(server.localAddress, "lobby");
  await using spoof = await buildSpoofer();
  const started = Date.now();
  const sniff = spoof.sniff(server.localAddress.port, "127.1.0.0", 16, 30);
  await sniff.ready;
  const request = join("lobby");
  const victims = 3000;
  await spoof.send(request, { hostname: "127.1.0.1", port: 9999 }, server.localAddress, {
    count: victims,
    sources: victims,
    gapUs: 50,
  });
  const { bytes } = await sniff.done;
  const seconds = (Date.now() - started) / 1000;
  const received = server.stats().datagramsIn - 2;
  assert.ok(received > 0);
  assert.ok(bytes <= 3 * received * request.length, `${bytes} B for ${received} requests`);
  // The budget refills at 4096 B/s: what came back is bounded by the burst plus the time taken.
  assert.ok(bytes <= 8192 + 4096 * seconds, `${bytes} B in ${seconds} s`);
  assert.ok((server.stats().drops["unvalidated-budget"] ?? 0) > 0);
  await close();
});

test("spoofed UDP: a stranger's self-only reports and a claimed id 1 do not take the room", async () => {
  await using server = await serve();
  const alice = await receiver("127.0.0.1");
  const bob = await receiver("127.0.0.2");
  alice.socket.send(join("r"), server.localAddress);
  await eventually(() => alice.got.length === 1, { what: "alice's reply" });
  const aliceSelf = (decode(alice.got[0]!) as { self: PeerRecord }).self;
  alice.socket.send(join("r", [aliceSelf]), server.localAddress); // alice proves her address
  bob.socket.send(join("r"), server.localAddress);
  await eventually(() => bob.got.length === 1, { what: "bob's reply" });
  await using spoof = await buildSpoofer();
  const stranger = { hostname: "127.0.0.66", port: 6666 };
  // Reports naming only the stranger, 10 a second for 3 s, and a JOIN_B claiming id 1.
  const attack = spoof.send(
    collect("r", [{ ip: stranger.hostname, port: stranger.port, id: 1 }]),
    stranger,
    server.localAddress,
    { count: 30, gapUs: 100_000 },
  );
  const claimer = { hostname: "127.0.0.67", port: 6767 };
  await spoof.send(
    join("r", [{ ip: claimer.hostname, port: claimer.port, id: 1 }]),
    claimer,
    server.localAddress,
  );
  // A newcomer in the middle of the attack meets the room.
  const carol = await receiver("127.0.0.3");
  carol.socket.send(join("r"), server.localAddress);
  await eventually(() => carol.got.length === 1, { what: "carol's reply" });
  const carolReply = decode(carol.got[0]!);
  assert.equal(carolReply.type, "BOOTSTRAP_R");
  assert.ok(
    carolReply.peers.toArray().some((p) => p.port === alice.address.port && p.ip === "127.0.0.1"),
    "carol is told about the collector",
  );
  await attack;
  await eventually(() => (server.stats().drops["untrusted-report"] ?? 0) >= 30, {
    what: "the 30 reports",
  });
  const members = server.room("r")!.members;
  for (const who of [alice.address, bob.address, carol.address]) {
    assert.ok(members.some((m) => m.ip === who.hostname && m.port === who.port), `${who.hostname}`);
  }
  const lowest = members.reduce((a, b) => (b.id < a.id ? b : a));
  assert.equal(lowest.port, alice.address.port, "alice is still the collector");
  assert.ok(members.every((m) => m.id !== 1), "nobody got id 1");
  for (const s of [alice, bob, carol]) await s.socket.close();
});

test("spoofed UDP: squatters' rooms make way for a room in use; one source has a quota", async () => {
  await using server = await serve({ soloRoomEvictMs: 500, requestsPerSecond: Infinity });
  await using spoof = await buildSpoofer();
  // 10 rooms, each from a forged source: the server is full.
  for (let i = 0; i < 10; i++) {
    await spoof.send(
      join(`squat-${i}`),
      { hostname: `127.2.0.${i + 1}`, port: 1000 },
      server.localAddress,
    );
  }
  await eventually(() => server.stats().rooms === 10, { what: "10 squatted rooms" });
  const alice = await receiver("127.0.0.1");
  // A new room: ROOM_FULL until the squatted rooms are older than soloRoomEvictMs, then served.
  await eventually(async () => {
    const before = alice.got.length;
    alice.socket.send(join("game"), server.localAddress);
    await eventually(() => alice.got.length > before, { what: "a reply" });
    return decode(alice.got.at(-1)!).type === "BOOTSTRAP_R";
  }, { intervalMs: 100, what: "the room to be served" });
  assert.ok(server.room("game"));
  assert.equal(server.stats().drops["room-evicted"], 1);
  // One real source may create 5 rooms; the 6th gets ROOM_FULL. (Once every squatted room may
  // make way, so that only the quota can refuse bob.)
  await eventually(
    () =>
      server.listRooms({ offset: 0, limit: 100 }).rooms.every((r) =>
        r.createdAt <= Date.now() - 600
      ),
    {
      intervalMs: 50,
      what: "the squatted rooms to be old enough to make way",
    },
  );
  const bob = await receiver("127.0.0.2");
  for (let i = 0; i < 6; i++) bob.socket.send(join(`bob-${i}`), server.localAddress);
  await eventually(() => bob.got.length === 6, { what: "bob's replies" });
  assert.equal(server.stats().drops["room-quota"], 1);
  for (const s of [alice, bob]) await s.socket.close();
});

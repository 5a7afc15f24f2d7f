import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode, type Message, type PeerRecord } from "@olaf/protocol";
import { BootstrapCore, type BootstrapCoreOptions } from "./bootstrap_core.ts";
import { resolveLimits } from "./limits.ts";
import type { BootstrapEvent } from "./types.ts";

const T0 = 1_763_700_000_000; // ms; a whole second
const S0 = T0 / 1000;

function addr(ip: string, port: number) {
  return { hostname: ip, port };
}
const A = addr("203.0.113.1", 40001);
const B = addr("203.0.113.2", 40002);
const C = addr("203.0.113.3", 40003);
const D = addr("203.0.113.4", 40004);
const rec = (a: { hostname: string; port: number }, id: number): PeerRecord => ({
  ip: a.hostname,
  port: a.port,
  id,
});

function join(room: string, peers: PeerRecord[] = []): Uint8Array {
  return encode({ type: "JOIN_B", peers, room });
}
function collect(room: string, peers: PeerRecord[] = []): Uint8Array {
  return encode({ type: "PEER_COLLECTOR", peers, room });
}

interface Out {
  to: string;
  size: number;
  message: Message<PeerRecord[]>;
}

function drain(core: BootstrapCore): Out[] {
  const out: Out[] = [];
  for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) {
    const m = decode(t.data);
    const message = { ...m, peers: m.peers.toArray() } as Message<PeerRecord[]>;
    out.push({ to: `${t.to.hostname}:${t.to.port}`, size: t.data.length, message });
  }
  return out;
}

/** The single reply, which must be a BOOTSTRAP_R. */
function reply(core: BootstrapCore): { peers: PeerRecord[]; self: PeerRecord; size: number } {
  const out = drain(core);
  assert.equal(out.length, 1, "exactly one reply");
  const m = out[0]!.message;
  assert.equal(m.type, "BOOTSTRAP_R");
  if (m.type !== "BOOTSTRAP_R") throw new Error("unreachable");
  return { peers: m.peers, self: m.self, size: out[0]!.size };
}

function events(core: BootstrapCore): BootstrapEvent[] {
  const out: BootstrapEvent[] = [];
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) out.push(e);
  return out;
}

/**
 * A core with issue 12's traffic guards off (reply sizes toward unvalidated
 * addresses, their global budget, the per-source room quota): most tests here
 * pin the reply and room logic, which is what a trusted network gets. The
 * report and id rules stay on. `hostile_test.ts` tests the guards' defaults.
 */
function core(options: BootstrapCoreOptions = {}): BootstrapCore {
  return new BootstrapCore({
    startedAt: T0,
    amplificationFactor: Infinity,
    unvalidatedBytesPerSecond: Infinity,
    roomsPerSource: Infinity,
    ...options,
  });
}

Deno.test("first JOIN_B creates the room and answers with the joiner's own record", () => {
  const c = core();
  c.handleDatagram(join("lobby"), A, T0 + 250);
  const r = reply(c);
  assert.deepEqual(r.self, rec(A, S0));
  assert.deepEqual(r.peers, [rec(A, S0)]);
  assert.deepEqual(events(c), [
    { type: "room-created", room: "lobby", at: T0 + 250 },
    { type: "member-joined", room: "lobby", member: rec(A, S0), at: T0 + 250 },
  ]);
  const stats = c.stats(T0 + 1000);
  assert.equal(stats.rooms, 1);
  assert.equal(stats.members, 1);
  assert.equal(stats.datagramsIn, 1);
  assert.equal(stats.datagramsOut, 1);
  assert.equal(stats.bytesIn, join("lobby").length);
  assert.equal(stats.bytesOut, 3 + 10 + 10);
  assert.equal(stats.uptimeMs, 1000);
  assert.equal(stats.startedAt, T0);
});

Deno.test("ids are unique within one second and still increase with join time", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0 + 10);
  c.handleDatagram(join("r"), C, T0 + 20);
  const last = drain(c).at(-1)!.message;
  assert.equal(last.type, "BOOTSTRAP_R");
  assert.deepEqual(last.peers, [rec(A, S0), rec(B, S0 + 1), rec(C, S0 + 2)]);
  // Later joins use the Unix second again once it has caught up.
  c.handleDatagram(join("r"), D, T0 + 10_000);
  assert.deepEqual(reply(c).self, rec(D, S0 + 10));
  // Another room shares the same id sequence: ids are unique server-wide.
  c.handleDatagram(join("other"), A, T0 + 10_000);
  assert.deepEqual(reply(c).self, rec(A, S0 + 11));
});

Deno.test("the room's list names every member, recipient included, in join order", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0 + 1000);
  drain(c);
  c.handleDatagram(join("r"), C, T0 + 2000);
  const r = reply(c);
  assert.deepEqual(r.peers, [rec(A, S0), rec(B, S0 + 1), rec(C, S0 + 2)]);
  assert.deepEqual(r.self, rec(C, S0 + 2));
});

Deno.test("re-join from the same address keeps the member and its id", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  drain(c);
  events(c);
  c.handleDatagram(join("r"), A, T0 + 5000);
  const r = reply(c);
  assert.deepEqual(r.peers, [rec(A, S0)]);
  assert.deepEqual(events(c), []);
  assert.equal(c.room("r")!.members[0]!.lastSeen, T0 + 5000);
});

Deno.test("re-join with its own record keeps the id only when the record is the source", () => {
  const c = core();
  c.handleDatagram(join("r"), B, T0 + 60_000); // sets the clock and id sequence
  drain(c);
  // A peer from before a restart re-joins with its record: same ip:port, keeps its id (one that
  // does not win the election over B: issue 12, see hostile_test.ts for one that would).
  c.handleDatagram(join("r", [rec(A, S0 + 61)]), A, T0 + 61_000);
  assert.deepEqual(reply(c).self, rec(A, S0 + 61));
  // A record naming another address is no claim: fresh id.
  c.handleDatagram(join("r", [rec(D, S0 - 900)]), C, T0 + 62_000);
  assert.deepEqual(reply(c).self, rec(C, S0 + 62));
  // A NATed peer whose public port changed gets a new id as well.
  c.handleDatagram(join("r", [rec(A, S0 - 500)]), addr(A.hostname, 50000), T0 + 63_000);
  assert.deepEqual(reply(c).self, { ip: A.hostname, port: 50000, id: S0 + 63 });
});

Deno.test("a claimed id already held by another member, or from the future, is replaced", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  drain(c);
  c.handleDatagram(join("r", [rec(B, S0)]), B, T0 + 1000);
  assert.deepEqual(reply(c).self, rec(B, S0 + 1), "A holds S0");
  c.handleDatagram(join("r", [rec(C, S0 + 999)]), C, T0 + 2000);
  assert.deepEqual(reply(c).self, rec(C, S0 + 2), "S0 + 999 is in the future");
  c.handleDatagram(join("r", [rec(D, 0)]), D, T0 + 3000);
  assert.deepEqual(reply(c).self, rec(D, S0 + 3), "id 0 means no record");
});

Deno.test("a member may take back its old id on re-join when nobody else holds it", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0 + 100_000);
  drain(c);
  c.handleDatagram(join("r", [rec(A, S0)]), A, T0 + 101_000);
  assert.deepEqual(reply(c).self, rec(A, S0));
});

Deno.test("JOIN_B for one room more than maxRooms gets ROOM_FULL; existing rooms still work", () => {
  const c = core({ maxRooms: 2 });
  c.handleDatagram(join("one"), A, T0);
  c.handleDatagram(join("two"), A, T0);
  // Both rooms are in use by more than their creator, so neither makes way (issue 12).
  c.handleDatagram(join("one"), B, T0);
  c.handleDatagram(join("two"), B, T0);
  drain(c);
  c.handleDatagram(join("three"), B, T0 + 1);
  const out = drain(c);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.message.type, "ROOM_FULL");
  assert.equal(out[0]!.size, 7);
  assert.equal(out[0]!.to, "203.0.113.2:40002");
  assert.equal(c.stats().drops["room-limit"], 1);
  assert.equal(c.room("three"), undefined);
  c.handleDatagram(join("two"), B, T0 + 2);
  assert.equal(reply(c).peers.length, 2);
  // Once the rooms expire there is space again.
  c.handleDatagram(join("three"), B, T0 + 20_000);
  assert.equal(reply(c).peers.length, 1);
});

Deno.test("a newcomer past maxMembersPerRoom gets ROOM_FULL; members can still re-join", () => {
  const c = core({ maxMembersPerRoom: 2 });
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0);
  drain(c);
  c.handleDatagram(join("r"), C, T0);
  assert.equal(drain(c)[0]!.message.type, "ROOM_FULL");
  assert.equal(c.stats().drops["member-limit"], 1);
  c.handleDatagram(join("r"), B, T0 + 1);
  assert.equal(reply(c).peers.length, 2);
  assert.equal(c.room("r")!.memberCount, 2);
});

Deno.test("PEER_COLLECTOR keeps its room alive (deployed defect 2) and lists the room", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0);
  drain(c);
  for (let t = T0 + 3000; t <= T0 + 60_000; t += 3000) {
    c.handleTimeout(t);
    c.handleDatagram(collect("r"), A, t);
    const r = reply(c);
    assert.deepEqual(r.self, rec(A, S0));
  }
  assert.equal(c.stats().rooms, 1);
  assert.equal(c.room("r")!.lastActivity, T0 + 60_000);
  // The heartbeat stops: the room goes 15 s later, not before.
  c.handleTimeout(T0 + 74_999);
  assert.equal(c.stats().rooms, 1);
  assert.equal(c.pollTimeout(), T0 + 75_000);
  events(c);
  c.handleTimeout(T0 + 75_000);
  assert.equal(c.stats().rooms, 0);
  assert.equal(c.stats().members, 0);
  assert.deepEqual(events(c), [
    { type: "member-left", room: "r", member: rec(A, S0), reason: "room-expired", at: T0 + 75_000 },
    { type: "room-expired", room: "r", at: T0 + 75_000 },
  ]);
  assert.equal(c.pollTimeout(), undefined);
});

Deno.test("members not heard from for memberTimeoutMs are dropped while the room lives", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0 + 1000);
  drain(c);
  events(c);
  // A heartbeats with an empty (v1) collector; B goes silent.
  for (let t = T0 + 3000; t <= T0 + 15_000; t += 3000) {
    c.handleTimeout(t);
    c.handleDatagram(collect("r"), A, t);
  }
  drain(c);
  assert.equal(c.room("r")!.memberCount, 2);
  assert.equal(c.pollTimeout(), T0 + 16_000, "B's deadline");
  c.handleTimeout(T0 + 16_000);
  assert.deepEqual(events(c), [
    { type: "member-left", room: "r", member: rec(B, S0 + 1), reason: "expired", at: T0 + 16_000 },
  ]);
  assert.deepEqual(c.room("r")!.members.map((m) => m.port), [A.port]);
  assert.equal(c.stats().members, 1);
});

Deno.test("a trusted report reconciles membership: missing members go, new ones come", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0);
  c.handleDatagram(join("r"), C, T0);
  drain(c);
  events(c);
  // Issue 12: from the collector A, once C's direct grace (6 s) is over; D's id must not win.
  c.handleDatagram(collect("r", [rec(A, S0), rec(B, S0 + 1), rec(D, S0 + 5)]), A, T0 + 6000);
  const r = reply(c);
  assert.deepEqual(r.peers, [rec(A, S0), rec(B, S0 + 1), rec(D, S0 + 5)]);
  assert.deepEqual(events(c), [
    { type: "member-left", room: "r", member: rec(C, S0 + 2), reason: "reconciled", at: T0 + 6000 },
    { type: "member-joined", room: "r", member: rec(D, S0 + 5), at: T0 + 6000 },
  ]);
  // Being named in a trusted report counts as being seen.
  assert.ok(c.room("r")!.members.every((m) => m.lastSeen === T0 + 6000));
});

Deno.test("a report that does not name its sender is not trusted", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0);
  drain(c);
  // C claims the room is just C's friend D: ignored, but C itself did show up.
  c.handleDatagram(collect("r", [rec(D, 5)]), C, T0 + 1000);
  const r = reply(c);
  assert.deepEqual(r.peers.map((p) => p.port), [A.port, B.port, C.port]);
  assert.equal(c.stats().drops["untrusted-report"], 1);
  // A spoofed report "from" A still cannot remove B unless it names A: then it is trusted
  // (issue 12: once B's and C's direct grace of 6 s is over).
  c.handleDatagram(collect("r", [rec(A, S0)]), A, T0 + 7000);
  assert.deepEqual(reply(c).peers, [rec(A, S0)]);
});

Deno.test("restart recovery: a report recreates an unknown room with the reported ids", () => {
  const c = core();
  c.handleDatagram(join("warmup"), D, T0 + 100_000);
  drain(c);
  const report = [rec(A, S0 + 1), rec(B, S0 + 2), rec(C, S0 + 3)];
  c.handleDatagram(collect("lost", report), A, T0 + 101_000);
  assert.deepEqual(reply(c).peers, report);
  // A newcomer gets the recovered room, and a fresh id above all of them.
  c.handleDatagram(join("lost"), D, T0 + 102_000);
  const r = reply(c);
  assert.deepEqual(r.peers, [...report, rec(D, S0 + 102)]);
});

Deno.test("reports never take a room past the member limit, and always keep the sender", () => {
  const c = core({ maxMembersPerRoom: 3 });
  const peers = [1, 2, 3, 4, 5].map((i) => ({ ip: `198.51.100.${i}`, port: 1000 + i, id: i }));
  const sender = addr("198.51.100.5", 1005);
  c.handleDatagram(collect("r", peers), sender, T0);
  const r = reply(c);
  assert.deepEqual(r.peers, [peers[4]!, peers[0]!, peers[1]!]);
  assert.deepEqual(r.self, peers[4]!);
  assert.equal(c.stats().members, 3);
});

Deno.test("reports: duplicate endpoints count once, duplicate or zero ids get fresh ones", () => {
  const c = core();
  const report = [
    rec(A, S0 - 10),
    rec(B, S0 - 10),
    rec(A, S0 - 5),
    rec(C, 0),
    { ip: "0.0.0.0", port: 0, id: 3 },
  ];
  c.handleDatagram(collect("r", report), A, T0);
  assert.deepEqual(reply(c).peers, [rec(A, S0 - 10), rec(B, S0), rec(C, S0 + 1)]);
});

Deno.test("reports: a newcomer claiming an id a kept member holds gets a fresh one", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), B, T0);
  drain(c);
  c.handleDatagram(
    collect("r", [rec(A, S0), rec(B, S0 + 1), rec(C, S0 + 1), rec(D, S0 - 3)]),
    A,
    T0,
  );
  // Issue 12: D's S0 - 3 would win the election over the collector A (S0): D gets a fresh id too.
  assert.deepEqual(reply(c).peers, [rec(A, S0), rec(B, S0 + 1), rec(C, S0 + 2), rec(D, S0 + 3)]);
});

Deno.test("an empty collector for an unknown room recreates it with its sender", () => {
  const c = core();
  c.handleDatagram(collect("r"), A, T0);
  assert.deepEqual(reply(c).peers, [rec(A, S0)]);
  assert.equal(c.stats().rooms, 1);
});

Deno.test("a big room's reply fits the budget: recipient, lowest id, most recent others", () => {
  const c = core({
    maxMembersPerRoom: 300,
    requestsPerSecond: Infinity,
    replyBytesPerSecond: Infinity,
  });
  const members = Array.from(
    { length: 150 },
    (_, i) => addr(`10.0.${i >> 8}.${i & 255}`, 2000 + i),
  );
  members.forEach((m, i) => c.handleDatagram(join("big"), m, T0 + i * 10));
  drain(c);
  // Refresh members 50..99 most recently (in that order), then member 120 asks.
  for (let i = 50; i < 100; i++) c.handleDatagram(join("big"), members[i]!, T0 + 10_000 + i);
  drain(c);
  c.handleDatagram(join("big"), members[120]!, T0 + 11_000);
  const r = reply(c);
  assert.ok(r.size <= 1024);
  assert.equal(r.peers.length, 101);
  assert.equal(r.size, 3 + 101 * 10 + 10);
  assert.equal(r.peers[0]!.port, 2120, "recipient first");
  assert.equal(r.peers[1]!.port, 2000, "then the lowest id");
  // Then the 50 refreshed members, newest first, then the newest joiners.
  assert.deepEqual(
    r.peers.slice(2, 52).map((p) => p.port - 2000),
    Array.from({ length: 50 }, (_, i) => 99 - i),
  );
  const rest = r.peers.slice(52).map((p) => p.port - 2000);
  assert.deepEqual(rest, [
    149,
    148,
    147,
    146,
    145,
    144,
    143,
    142,
    141,
    140,
    139,
    138,
    137,
    136,
    135,
    134,
    133,
    132,
    131,
    130,
    129,
    128,
    127,
    126,
    125,
    124,
    123,
    122,
    121,
    119,
    118,
    117,
    116,
    115,
    114,
    113,
    112,
    111,
    110,
    109,
    108,
    107,
    106,
    105,
    104,
    103,
    102,
    101,
    100,
  ]);
  assert.equal(new Set(r.peers.map((p) => p.port)).size, 101);
  assert.ok(c.stats().drops["reply-budget"]! >= 1);
});

Deno.test("a smaller reply budget gives smaller replies", () => {
  const c = core({ replyBudgetBytes: 53 }); // 3 header + 4 records + 10 self
  for (let i = 0; i < 10; i++) c.handleDatagram(join("r"), addr("10.0.0.1", 1000 + i), T0 + i);
  const last = drain(c).at(-1)!;
  assert.equal(last.size, 53);
  assert.equal(last.message.peers.length, 4);
});

Deno.test("per-source request rate limit: burst, then drops, then refill", () => {
  const c = core({ requestsPerSecond: 10, requestBurst: 5 });
  for (let i = 0; i < 8; i++) c.handleDatagram(join("r"), A, T0);
  assert.equal(drain(c).length, 5);
  assert.equal(c.stats().drops["rate-limited"], 3);
  // Another address (even on the same port) has its own bucket.
  c.handleDatagram(join("r"), addr("203.0.113.9", A.port), T0);
  assert.equal(drain(c).length, 1);
  // 10 per second: after 300 ms three more get through.
  for (let i = 0; i < 5; i++) c.handleDatagram(join("r"), A, T0 + 300);
  assert.equal(drain(c).length, 3);
  // Every port of one address shares the bucket.
  c.handleDatagram(join("r"), addr(A.hostname, 1), T0 + 300);
  assert.equal(drain(c).length, 0);
});

Deno.test("per-address reply-byte limit: replies shrink to recipient + lowest, then stop", () => {
  // 23 members; a full reply is 3 + 230 + 10 = 243 bytes, a trimmed one 33.
  const c = core({ requestsPerSecond: Infinity, replyBytesPerSecond: 100, replyBytesBurst: 600 });
  for (let i = 0; i < 22; i++) c.handleDatagram(join("r"), addr(`10.0.0.${i + 1}`, 1000), T0);
  drain(c);
  const sizes: number[] = [];
  for (let i = 0; i < 6; i++) {
    c.handleDatagram(join("r"), A, T0 + 1);
    for (const o of drain(c)) sizes.push(o.size);
  }
  // 600 bytes: two full replies (486), then trimmed ones (33 each) while they fit.
  assert.deepEqual(sizes, [243, 243, 33, 33, 33]);
  assert.equal(c.stats().drops["reply-rate-trimmed"], 3);
  assert.equal(c.stats().drops["rate-limited-reply"], 1);
  c.handleDatagram(join("r"), A, T0 + 1);
  const last = drain(c);
  assert.equal(last.length, 0);
  // The trimmed reply still names the recipient and the room's lowest id.
  c.handleDatagram(join("r"), A, T0 + 1000); // refilled 100 bytes
  const r = reply(c);
  assert.deepEqual(r.peers, [rec(A, S0 + 22), { ip: "10.0.0.1", port: 1000, id: S0 }]);
});

Deno.test("an Infinity rate switches its bucket off while the other one still limits", () => {
  const requestsOff = core({ requestsPerSecond: Infinity, replyBytesBurst: 100 * 23 });
  for (let i = 0; i < 101; i++) requestsOff.handleDatagram(join("r"), A, T0);
  assert.equal(drain(requestsOff).length, 100, "the burst of reply bytes, not of requests");
  assert.equal(requestsOff.stats().drops["rate-limited"], undefined);

  const bytesOff = core({ replyBytesPerSecond: Infinity, requestBurst: 3, maxRooms: 100 });
  for (let i = 0; i < 4; i++) bytesOff.handleDatagram(join("r"), A, T0);
  assert.equal(drain(bytesOff).length, 3);
  const big = core({ replyBytesPerSecond: Infinity, requestsPerSecond: 1e6, requestBurst: 1e6 });
  for (let i = 0; i < 2000; i++) big.handleDatagram(join("r"), A, T0);
  assert.equal(drain(big).length, 2000, "far past the default reply-byte burst");
});

Deno.test("the rate limiter's table is bounded; an evicted source starts afresh", () => {
  const c = core({ requestsPerSecond: 1, requestBurst: 1, maxTrackedSources: 2 });
  c.handleDatagram(join("r"), A, T0);
  c.handleDatagram(join("r"), A, T0);
  assert.equal(drain(c).length, 1, "A is limited");
  c.handleDatagram(join("r"), B, T0);
  c.handleDatagram(join("r"), C, T0); // evicts A, the oldest
  drain(c);
  c.handleDatagram(join("r"), A, T0);
  assert.equal(drain(c).length, 1, "A has a fresh bucket");
});

Deno.test("malformed datagrams are counted by reason and dropped", () => {
  const c = core({ maxRoomNameBytes: 8, maxDatagramBytes: 64 });
  const good = join("r");
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([1, 0]), "truncated-header"],
    [new Uint8Array([1, 0, 1, 0, 0]), "peer-block-overflow"],
    [new Uint8Array([1, 0, 0, 0, 0]), "truncated-payload"],
    [good.subarray(0, good.length - 1), "payload-length-overflow"],
    [Uint8Array.from([...good, 0]), "trailing-bytes"],
    [Uint8Array.from([1, 0, 0, 0, 0, 0, 2, 0xc3, 0x28]), "room-not-utf8"],
    [join("a-long-room-name"), "room-too-long"],
    [new Uint8Array(65), "datagram-too-large"],
    [
      encode({ type: "EXTENSION", code: 16, peers: [], payload: new Uint8Array(2) }),
      "unknown-type",
    ],
    [new Uint8Array([9, 9, 9]), "unknown-type"], // not v1 framing: still just an unknown type
    [new Uint8Array([200]), "unknown-type"],
    [encode({ type: "PING", peers: [], payload: new Uint8Array() }), "unexpected-type"],
    [encode({ type: "BOOTSTRAP_R", peers: [], self: rec(A, 1) }), "unexpected-type"],
  ];
  for (const [bytes] of cases) c.handleDatagram(bytes, A, T0);
  c.handleDatagram(good, addr("::1", 5), T0);
  assert.equal(drain(c).length, 0);
  const expected: Record<string, number> = { "non-ipv4-source": 1 };
  for (const [, reason] of cases) expected[reason] = (expected[reason] ?? 0) + 1;
  assert.deepEqual(c.stats().drops, expected);
  assert.equal(c.stats().datagramsIn, cases.length + 1);
  assert.equal(c.stats().rooms, 0);
  // The server still answers.
  c.handleDatagram(good, A, T0);
  assert.equal(reply(c).peers.length, 1);
});

Deno.test("IPv4-mapped IPv6 sources and numeric sources are served", () => {
  const c = core();
  c.handleDatagram(join("r"), addr("::ffff:192.0.2.1", 7), T0);
  assert.deepEqual(reply(c).self, { ip: "192.0.2.1", port: 7, id: S0 });
  c.handleDatagram(join("r"), { ipv4: 0xc0000202, port: 8 }, T0);
  const out = c.pollTransmit()!;
  assert.deepEqual(out.to, { hostname: "192.0.2.2", port: 8 });
});

Deno.test("listRooms pages in creation order; room() gives members with last-seen times", () => {
  const c = core({ maxRooms: 5 });
  for (const name of ["a", "b", "c", "d"]) c.handleDatagram(join(name), A, T0 + 1);
  c.handleDatagram(join("c"), B, T0 + 2);
  assert.deepEqual(c.listRooms({ offset: 1, limit: 2 }), {
    total: 4,
    rooms: [
      { name: "b", memberCount: 1, createdAt: T0 + 1, lastActivity: T0 + 1 },
      { name: "c", memberCount: 2, createdAt: T0 + 1, lastActivity: T0 + 2 },
    ],
  });
  assert.deepEqual(c.listRooms({ offset: 10, limit: 5 }).rooms, []);
  assert.deepEqual(c.room("c"), {
    name: "c",
    memberCount: 2,
    createdAt: T0 + 1,
    lastActivity: T0 + 2,
    members: [
      { ip: A.hostname, port: A.port, id: S0 + 2, lastSeen: T0 + 1 },
      { ip: B.hostname, port: B.port, id: S0 + 4, lastSeen: T0 + 2 },
    ],
  });
  assert.equal(c.room("nope"), undefined);
});

Deno.test("the event queue is bounded when nobody reads it", () => {
  const c = core({ maxQueuedEvents: 3 });
  for (let i = 0; i < 5; i++) c.handleDatagram(join("r"), addr("10.0.0.1", 100 + i), T0);
  assert.equal(events(c).length, 3);
  assert.equal(c.stats().drops["events-overflow"], 3);
  const quiet = core({ emitEvents: false });
  quiet.handleDatagram(join("r"), A, T0);
  assert.equal(quiet.pollEvent(), undefined);
});

Deno.test("time going backwards is treated as standing still", () => {
  const c = core();
  c.handleDatagram(join("r"), A, T0 + 5000);
  c.handleDatagram(join("r"), B, T0);
  drain(c);
  assert.equal(c.room("r")!.lastActivity, T0 + 5000);
  assert.equal(c.pollTimeout(), T0 + 20_000);
});

Deno.test("invalid limits are refused", () => {
  assert.throws(() => resolveLimits({ roomTimeoutMs: -1 }), RangeError);
  assert.throws(() => resolveLimits({ maxMembersPerRoom: 70_000 }), RangeError);
  assert.throws(() => resolveLimits({ replyBudgetBytes: 10 }), RangeError);
  assert.throws(() => new BootstrapCore({ maxRooms: 1.5 }), RangeError);
  assert.equal(resolveLimits({ roomTimeoutMs: 5000 }).memberTimeoutMs, 5000);
});

Deno.test("no datagram can throw, or grow rooms or members past the limits", () => {
  const limits = { maxRooms: 4, maxMembersPerRoom: 5, requestsPerSecond: Infinity };
  const c = core(limits);
  const room = fc.constantFrom("a", "b", "c", "d", "e", "f");
  const record = fc.record({
    ip: fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.3", "0.0.0.0"),
    port: fc.integer({ min: 0, max: 8 }),
    id: fc.nat(),
  });
  const structured = fc.tuple(fc.boolean(), room, fc.array(record, { maxLength: 8 })).map((
    [isJoin, name, peers],
  ) => encode({ type: isJoin ? "JOIN_B" : "PEER_COLLECTOR", peers, room: name }));
  const datagram = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    structured,
    structured.chain((b) => fc.nat(b.length).map((n) => b.subarray(0, n))),
  );
  let now = T0;
  fc.assert(
    fc.property(
      datagram,
      fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.3"),
      fc.integer({ min: 1, max: 8 }),
      fc.nat(4000),
      (bytes, ip, port, dt) => {
        now += dt;
        c.handleDatagram(bytes, addr(ip, port), now);
        while (c.pollTransmit() !== undefined);
        const s = c.stats();
        assert.ok(s.rooms <= 4);
        let members = 0;
        for (const summary of c.listRooms({ offset: 0, limit: 100 }).rooms) {
          assert.ok(summary.memberCount <= 5);
          members += summary.memberCount;
          const ids = c.room(summary.name)!.members.map((m) => m.id);
          assert.equal(new Set(ids).size, ids.length, "ids unique within a room");
        }
        assert.equal(members, s.members);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("invalid numeric sources are dropped; unpolled replies stay bounded", () => {
  const c = core({ requestsPerSecond: Infinity, replyBytesPerSecond: Infinity });
  c.handleDatagram(join("r"), { ipv4: 1, port: 70_000 }, T0);
  c.handleDatagram(join("r"), { ipv4: Number.NaN, port: 1 }, T0);
  assert.equal(c.stats().drops["invalid-source"], 2);
  for (let i = 0; i < 5000; i++) c.handleDatagram(join("r"), A, T0);
  assert.equal(c.stats().drops["transmit-overflow"], 5000 - 4096);
  assert.equal(drain(c).length, 4096);
});

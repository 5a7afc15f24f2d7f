import assert from "node:assert/strict";
import fc from "fast-check";
import { BYE, decode, encode, FIRST_EXTENSION_CODE, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";
import { drainEvents, drainTransmits } from "@olaf/protocol/testing";
import { type PeerEvent, PeerMachine } from "./peer_machine.ts";

const B1: NetAddress = { hostname: "10.0.0.1", port: 5000 };
const B2: NetAddress = { hostname: "10.0.0.2", port: 5000 };
const EMPTY = new Uint8Array();

function rec(n: number, id = n): PeerRecord {
  return { ip: `10.1.0.${n}`, port: 4000 + n, id };
}
function addr(r: PeerRecord): NetAddress {
  return { hostname: r.ip, port: r.port };
}
const drain = drainTransmits;
const events = drainEvents<PeerEvent>;
function ping(peers: PeerRecord[], payload: Uint8Array = EMPTY): Uint8Array {
  return encode({ type: "PING", peers, payload });
}
function reply(peers: PeerRecord[], self: PeerRecord): Uint8Array {
  return encode({ type: "BOOTSTRAP_R", peers, self });
}
/** A machine that joined as `me` with the given members already answering. */
/** These tests check v1 bytes: no opportunistic encryption (opportunistic_test.ts has it). */
const V1_BYTES = { opportunistic: false };

function joined(me: PeerRecord, members: PeerRecord[] = [], options = {}): PeerMachine {
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1], ...options });
  m.handleTimeout(0);
  m.handleDatagram(reply([me, ...members], me), m.bootstrap, 1);
  for (const p of members) m.handleDatagram(ping([p]), addr(p), 2);
  drain(m);
  events(m);
  return m;
}

Deno.test("PeerMachine joins: JOIN_B at once, every second until answered, then every heartbeat while alone", () => {
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1], now: 100 });
  assert.equal(m.pollTimeout(), 100);
  m.handleTimeout(100);
  const [join] = drain(m);
  assert.deepEqual(join!.to, B1);
  assert.deepEqual(join!.message.type === "JOIN_B" && join!.message.room, "lobby");
  assert.equal(join!.message.peers.length, 0);
  assert.equal(m.pollTimeout(), 1100);
  m.handleTimeout(1099); // early: nothing
  assert.equal(drain(m).length, 0);
  m.handleTimeout(1100);
  assert.deepEqual(drain(m).map((t) => t.message.type), ["JOIN_B"]);
  const me = rec(1);
  m.handleDatagram(reply([me], me), B1, 1150);
  m.handleTimeout(2100);
  assert.equal(m.pollTimeout(), 5100); // joined: the heartbeat pace
  const [rejoin] = drain(m);
  assert.deepEqual(rejoin!.message.peers.toArray(), [me], "re-joins with its record");
});

Deno.test("PeerMachine: BOOTSTRAP_R makes us joined; listed peers are pinged, members once they answer", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1] });
  m.handleTimeout(0);
  drain(m);
  m.handleDatagram(reply([me, bob], me), B1, 5);
  assert.deepEqual(events(m), [{ type: "joined", self: me }]);
  assert.deepEqual(m.self, me);
  const out = drain(m);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.to, addr(bob));
  assert.equal(out[0]!.message.type, "PING");
  assert.deepEqual(out[0]!.message.peers.toArray(), [me]); // our own record, so bob learns our id
  assert.deepEqual(m.peers, []); // bob has not answered yet
  m.handleDatagram(ping([bob, me]), addr(bob), 8);
  assert.deepEqual(events(m), [{ type: "peer-joined", peer: bob }]);
  assert.deepEqual(m.peers, [bob]);
  assert.equal(drain(m).length, 0, "no welcome ping to a peer we already pinged");
});

Deno.test("PeerMachine adds a newcomer on its first datagram and answers with its list", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob]);
  const carol = rec(3);
  m.handleDatagram(ping([carol]), addr(carol), 10);
  assert.deepEqual(events(m), [{ type: "peer-joined", peer: carol }]);
  const [welcome] = drain(m);
  assert.deepEqual(welcome!.to, addr(carol));
  assert.deepEqual(welcome!.message.peers.toArray(), [me, bob, carol]);
});

Deno.test("PeerMachine learns the id of a deployed peer heard directly from later gossip", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob]);
  const dave = rec(4, 77);
  m.handleDatagram(ping([me, bob]), addr(dave), 10); // deployed: does not list itself
  assert.deepEqual(events(m), [{ type: "peer-joined", peer: { ...dave, id: 0 } }]);
  m.handleDatagram(ping([me, dave]), addr(bob), 11);
  assert.deepEqual(m.peers, [bob, dave]);
});

Deno.test("PeerMachine: only direct evidence keeps a member alive (defect 3)", () => {
  const me = rec(1);
  const bob = rec(2);
  const carol = rec(3);
  const m = joined(me, [bob, carol]);
  // Carol crashes at t=2; Bob keeps naming her in every ping.
  for (let t = 3000; t <= 18000; t += 3000) {
    m.handleDatagram(ping([bob, carol, me]), addr(bob), t - 1);
    m.handleTimeout(t);
  }
  assert.deepEqual(events(m).filter((e) => e.type === "peer-left"), [
    { type: "peer-left", peer: carol, reason: "timeout" },
  ]);
  assert.deepEqual(m.peers, [bob]);
  // Gossip naming her does not bring her back; a datagram from her does.
  m.handleDatagram(ping([bob, carol, me]), addr(bob), 19000);
  assert.deepEqual(m.peers, [bob]);
  m.handleDatagram(ping([carol]), addr(carol), 19500);
  assert.deepEqual(m.peers, [bob, carol]);
});

Deno.test("PeerMachine: bye removes at once and late gossip does not resurrect", () => {
  const me = rec(1);
  const bob = rec(2);
  const carol = rec(3);
  const m = joined(me, [bob, carol]);
  m.handleDatagram(ping([], BYE), addr(carol), 100);
  assert.deepEqual(events(m), [{ type: "peer-left", peer: carol, reason: "bye" }]);
  m.handleDatagram(ping([carol, me]), addr(bob), 101);
  assert.deepEqual(m.peers, [bob]);
  assert.equal(drain(m).length, 0, "no ping to a peer that said bye");
});

Deno.test("PeerMachine: the lowest id reports live members in PEER_COLLECTOR; others do not", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob]);
  assert.equal(m.isCollector, true);
  m.handleTimeout(3000);
  const out = drain(m);
  const collector = out.find((t) => t.message.type === "PEER_COLLECTOR")!;
  assert.deepEqual(collector.to, B1);
  assert.deepEqual(collector.message.peers.toArray(), [me, bob]);
  assert.deepEqual(out.filter((t) => t.message.type === "PING").map((t) => t.to), [addr(bob)]);

  const b = joined(bob, [me]);
  assert.equal(b.isCollector, false);
  b.handleTimeout(3000);
  assert.deepEqual(drain(b).map((t) => t.message.type), ["PING"]);
});

Deno.test("PeerMachine collector re-joins every ~10 s so a deployed bootstrap keeps the room", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob], V1_BYTES);
  const sent: string[] = [];
  for (let t = 3000; t <= 24000; t += 3000) {
    m.handleDatagram(ping([bob]), addr(bob), t - 1);
    m.handleTimeout(t);
    for (const out of drain(m)) {
      if (out.message.type === "PING") continue;
      sent.push(out.message.type);
      m.handleDatagram(reply([me, bob], me), B1, t + 1); // the bootstrap answers
    }
  }
  assert.deepEqual(sent, [
    "PEER_COLLECTOR",
    "PEER_COLLECTOR",
    "JOIN_B",
    "PEER_COLLECTOR",
    "PEER_COLLECTOR",
    "JOIN_B",
    "PEER_COLLECTOR",
    "PEER_COLLECTOR",
  ]);
});

Deno.test("PeerMachine answers an Olaf member's ping that does not name us, once, naming it", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob, rec(3)]);
  // Bob's ping does not name us: he has not counted us yet (our datagrams to him were lost).
  m.handleDatagram(ping([bob, rec(3)]), addr(bob), 10);
  const out = drain(m);
  assert.deepEqual(out.map((t) => [t.to, t.message.peers.toArray()]), [[addr(bob), [me, bob]]]);
  // It names us now: nothing to say.
  m.handleDatagram(ping([bob, rec(3), me]), addr(bob), 11);
  assert.deepEqual(drain(m), []);
  // A deployed member's pings never name us and never get an answer (it would not use it).
  const dave = rec(4);
  m.handleDatagram(ping([bob]), addr(dave), 12); // a stranger: the full-list welcome
  assert.equal(drain(m).length, 1);
  m.handleDatagram(ping([bob]), addr(dave), 13);
  assert.deepEqual(drain(m), []);
  // Bounded per heartbeat, like the welcomes (spoofed pings must not draw answers at will).
  m.handleTimeout(3000); // a fresh heartbeat, a fresh budget
  drain(m);
  let answers = 0;
  for (let i = 0; i < 100; i++) {
    m.handleDatagram(ping([bob]), addr(bob), 3001);
    answers += drain(m).length;
  }
  assert.equal(answers, 64);
});

Deno.test("PeerMachine pings candidates every second, not every heartbeat, until they answer", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1] });
  m.handleTimeout(0);
  drain(m);
  m.handleDatagram(reply([me, bob], me), B1, 10);
  assert.deepEqual(drain(m).map((t) => t.to), [addr(bob)]);
  m.handleTimeout(1000); // the join retry pace: then the heartbeat pace
  drain(m);
  assert.equal(m.pollTimeout(), 2000, "bob is still a candidate: again in a second");
  m.handleTimeout(2000);
  assert.deepEqual(drain(m).map((t) => [t.message.type, t.to]), [["PING", addr(bob)]]);
  m.handleDatagram(ping([bob, me]), addr(bob), 2500);
  assert.equal(m.pollTimeout(), 4000, "no candidate left: the next heartbeat");
});

Deno.test("PeerMachine: a deployed member with a lower id does not take the collector duty", () => {
  const me = rec(5);
  const m = joined(me, [rec(6)]);
  const old = rec(2); // deployed: its list does not start with its own record
  m.handleDatagram(ping([rec(6), me]), addr(old), 10);
  m.handleDatagram(ping([rec(6), old, me]), addr(rec(6)), 11); // gossip tells us its id
  assert.deepEqual(m.peers.map((p) => p.id), [2, 5, 6].filter((id) => id !== 5));
  assert.equal(m.isCollector, true);
  // An Olaf member with a lower id does, once the bootstrap listed it with that id (issue 12:
  // a claimed id alone does not count).
  m.handleDatagram(ping([rec(3)]), addr(rec(3)), 12);
  assert.equal(m.isCollector, true, "id 3 is only claimed");
  m.handleDatagram(reply([me, rec(3), rec(6)], me), m.bootstrap, 13);
  assert.equal(m.isCollector, false);
});

Deno.test("PeerMachine: equal ids (deployed bootstrap) elect the lowest ip:port", () => {
  const a = joined(rec(1, 9), [rec(2, 9)]);
  const b = joined(rec(2, 9), [rec(1, 9)]);
  assert.equal(a.isCollector, true);
  assert.equal(b.isCollector, false);
});

Deno.test("PeerMachine collector re-joins when the room was forgotten, fails over, comes back", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = new PeerMachine({
    room: "lobby",
    bootstraps: [B1, B2],
    bootstrapMisses: 3,
    bootstrapRetryMs: 30_000,
    ...V1_BYTES,
  });
  const preferred = m.bootstrap;
  const other = preferred === B1 ? B2 : B1;
  m.handleTimeout(0);
  m.handleDatagram(reply([me, bob], me), preferred, 1);
  m.handleDatagram(ping([bob]), addr(bob), 2);
  drain(m);
  events(m);
  const toBootstrap = (now: number) => {
    m.handleDatagram(ping([bob]), addr(bob), now - 1);
    m.handleTimeout(now);
    return drain(m).filter((t) => t.message.type !== "PING").map((t) => [t.message.type, t.to]);
  };
  // Reply says the bootstrap has no record of us: re-join with our record.
  assert.deepEqual(toBootstrap(3000), [["PEER_COLLECTOR", preferred]]);
  m.handleDatagram(reply([], { ip: "0.0.0.0", port: 0, id: 0 }), preferred, 3001);
  const rejoin = (m.handleTimeout(6000), drain(m).find((t) => t.message.type === "JOIN_B")!);
  assert.deepEqual(rejoin.message.peers.toArray(), [me]);
  // No answer at all now: JOIN_B again, then fail over after 3 misses.
  assert.deepEqual(toBootstrap(9000), [["JOIN_B", preferred]]);
  assert.deepEqual(toBootstrap(12000), [["JOIN_B", preferred]]);
  // The report goes to the fallback, which recreates the room from it.
  assert.deepEqual(toBootstrap(15000), [["PEER_COLLECTOR", other]]);
  const errors = events(m).filter((e) => e.type === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.type === "error" && errors[0]!.code, "bootstrap-unreachable");
  // The fallback answers; later the peer tries the preferred one again.
  m.handleDatagram(reply([me, bob], me), other, 15001);
  assert.deepEqual(toBootstrap(18000), [["JOIN_B", other]]); // the periodic ~10 s refresh
  m.handleDatagram(reply([me, bob], me), other, 18001);
  assert.deepEqual(toBootstrap(42000), [["PEER_COLLECTOR", other]]);
  m.handleDatagram(reply([me, bob], me), other, 42001);
  assert.deepEqual(toBootstrap(45000), [["PEER_COLLECTOR", preferred]]);
});

Deno.test("PeerMachine: members of a room prefer the same bootstrap whatever the list order", () => {
  const list = [B1, B2, { hostname: "10.0.0.3", port: 5000 }];
  for (const room of ["a", "b", "lobby", "chat", "🙂"]) {
    const x = new PeerMachine({ room, bootstraps: list });
    const y = new PeerMachine({ room, bootstraps: [...list].reverse() });
    assert.deepEqual(x.bootstrap, y.bootstrap);
  }
});

Deno.test("PeerMachine refuses options it cannot run with", () => {
  const ok = { room: "lobby", bootstraps: [B1] };
  assert.throws(() => new PeerMachine({ ...ok, bootstraps: [] }), RangeError);
  assert.throws(() => new PeerMachine({ ...ok, room: "é".repeat(128) }), /over 255 UTF-8 bytes/);
  new PeerMachine({ ...ok, room: "é".repeat(127) + "x" }); // exactly 255 bytes is fine
  // The codec would refuse it inside the first heartbeat's timer: refused up front instead.
  assert.throws(() => new PeerMachine({ ...ok, room: "lobby\ud800" }), /lone surrogate/);
  assert.throws(() => new PeerMachine({ ...ok, heartbeatMs: 0 }), /heartbeatMs/);
  assert.throws(
    () => new PeerMachine({ ...ok, heartbeatMs: 3000, peerTimeoutMs: 3000 }),
    /peerTimeoutMs \(3000\) must be longer than heartbeatMs \(3000\)/,
  );
  new PeerMachine({ ...ok, heartbeatMs: 200, peerTimeoutMs: 1000 });
});

Deno.test("PeerMachine: ROOM_FULL is one clear error", () => {
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1] });
  m.handleTimeout(0);
  const full = encode({ type: "ROOM_FULL", peers: [], payload: EMPTY });
  m.handleDatagram(full, B1, 1);
  m.handleTimeout(1000);
  m.handleDatagram(full, B1, 1001);
  const got = events(m);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.type, "error");
  assert.equal(got[0]!.type === "error" && got[0]!.code, "room-full");
  assert.match(got[0]!.type === "error" ? got[0]!.message : "", /ROOM_FULL/);
});

Deno.test("PeerMachine keeps every peer list within 1024 bytes and rotates through big rooms", () => {
  const me = rec(1);
  const members: PeerRecord[] = [];
  for (let i = 2; i < 252; i++) {
    members.push({ ip: `10.2.${i >> 8}.${i & 255}`, port: 7000, id: i });
  }
  // The v1 heartbeat's windows (what deployed peers get); partial views would probe instead.
  const m = joined(me, members, { maxPeers: 1000, largeRoomThreshold: Infinity });
  const seen = new Set<number>();
  for (let hb = 1; hb <= 3; hb++) {
    for (const p of members) m.handleDatagram(ping([p]), addr(p), hb * 3000 - 1);
    m.handleTimeout(hb * 3000);
    for (const t of drain(m)) {
      assert.ok(t.data.length <= 1024, `${t.message.type} of ${t.data.length} bytes`);
      if (t.message.type !== "PING") continue;
      const named = t.message.peers.toArray();
      for (const r of named) seen.add(r.id);
      assert.ok(
        named.some((r) => r.ip === t.to.hostname && r.port === t.to.port),
        "names its destination",
      );
    }
  }
  assert.equal(seen.size, 251, "every member is advertised");
});

Deno.test("PeerMachine: an APP_R from an unknown sender makes it a member, then is delivered", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = joined(me, [bob]);
  const carol = rec(3);
  const app = (peers: PeerRecord[]) =>
    encode({ type: "APP_R", peers, payload: new Uint8Array([5]) });
  m.handleDatagram(app([carol]), addr(carol), 10);
  assert.deepEqual(events(m), [
    { type: "peer-joined", peer: carol },
    { type: "message", from: carol, data: new Uint8Array([5]) },
  ]);
  assert.deepEqual(m.peers, [bob, carol]);
  // A deployed sender does not list itself: a member all the same, id unknown for now.
  const dave = rec(4);
  m.handleDatagram(app([me, bob]), addr(dave), 11);
  assert.deepEqual(events(m).map((e) => e.type), ["peer-joined", "message"]);
  assert.deepEqual(m.peers.map((p) => p.port), [bob.port, carol.port, dave.port]);
});

Deno.test("PeerMachine: send right after joining reaches the peers the bootstrap listed", () => {
  const me = rec(1);
  const bob = rec(2);
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1] });
  m.handleTimeout(0);
  m.handleDatagram(reply([me, bob], me), B1, 1);
  drain(m);
  assert.deepEqual(m.peers, [], "bob has not answered yet");
  assert.equal(m.send(new Uint8Array([1])), 1);
  const [app] = drain(m);
  assert.deepEqual([app!.message.type, app!.to], ["APP_R", addr(bob)]);
});

Deno.test("PeerMachine: APP_R in and out", () => {
  const me = rec(1);
  const bob = rec(2);
  const carol = rec(3);
  const m = joined(me, [bob, carol], V1_BYTES);
  assert.equal(m.send(new TextEncoder().encode("hi")), 2);
  const out = drain(m);
  assert.deepEqual(out.map((t) => t.to), [addr(bob), addr(carol)]);
  const app = out[0]!.message;
  assert.equal(app.type, "APP_R");
  assert.deepEqual(app.type === "APP_R" && new TextDecoder().decode(app.payload), "hi");
  m.sendTo(carol, new Uint8Array([1]));
  assert.deepEqual(drain(m).map((t) => t.to), [addr(carol)]);

  m.handleDatagram(
    encode({ type: "APP_R", peers: [], payload: new Uint8Array([7]) }),
    addr(bob),
    9,
  );
  const [msg] = events(m);
  assert.deepEqual(msg, { type: "message", from: bob, data: new Uint8Array([7]) });
});

Deno.test("PeerMachine drops malformed and unexpected datagrams without throwing", () => {
  const me = rec(1);
  const m = joined(me, [rec(2)]);
  m.handleDatagram(new Uint8Array([0, 0]), addr(rec(9)), 5);
  m.handleDatagram(new Uint8Array([0, 0, 9]), addr(rec(9)), 5);
  m.handleDatagram(reply([rec(8)], rec(8)), addr(rec(9)), 5); // BOOTSTRAP_R from a non-bootstrap
  m.handleDatagram(
    encode({ type: "EXTENSION", code: FIRST_EXTENSION_CODE, peers: [], payload: EMPTY }),
    B1,
    5,
  );
  m.handleDatagram(ping([]), { hostname: "::1", port: 1 }, 5);
  assert.deepEqual(m.stats.drops, {
    "truncated-header": 1,
    "peer-block-overflow": 1,
    "unexpected-sender": 1,
    "unexpected-from-bootstrap": 1,
    "non-ipv4-source": 1,
  });
  assert.deepEqual(m.peers, [rec(2)]);
});

Deno.test("PeerMachine.leave sends bye to everyone and stops", () => {
  const me = rec(1);
  const m = joined(me, [rec(2), rec(3)]);
  m.leave();
  const out = drain(m);
  assert.deepEqual(out.map((t) => t.to), [addr(rec(2)), addr(rec(3))]);
  for (const t of out) assert.ok(t.message.type === "PING" && t.message.payload.length === 3);
  assert.equal(m.pollTimeout(), undefined);
  m.handleDatagram(ping([]), addr(rec(4)), 11);
  assert.equal(drain(m).length, 0);
  assert.throws(() => m.send(new Uint8Array()), RangeError);
});

Deno.test("PeerMachine bounds full-list answers to unknown senders (spoofed pings)", () => {
  const me = rec(1);
  const members = [rec(2), rec(3), rec(4)];
  const m = joined(me, members, { strangersPerHeartbeat: 0 }); // admission: the next test
  const sizes: number[] = [];
  for (let i = 0; i < 70; i++) {
    // A ping naming 4 records (47 bytes): our 4-record answer fits 3x of it.
    const from = { hostname: `10.3.0.${i + 1}`, port: 9 };
    m.handleDatagram(ping([rec(5), rec(6), rec(7), rec(8)]), from, 100);
    const answers = drain(m).filter((t) => t.to.hostname === from.hostname);
    sizes.push(answers[0]!.message.peers.length);
  }
  // The room's list to the first 64 in a heartbeat, then just our own record.
  assert.ok(sizes.slice(0, 64).every((n) => n >= 4));
  assert.deepEqual(sizes.slice(64), [1, 1, 1, 1, 1, 1]);
  m.handleTimeout(3000); // a new heartbeat refills the budget
  drain(m);
  m.handleDatagram(ping([rec(5), rec(6), rec(7), rec(8)]), { hostname: "10.3.1.1", port: 9 }, 3001);
  assert.ok(drain(m)[0]!.message.peers.length > 1);
  // A 7-byte spoofed ping never draws more than 3x its size (issue 12): our record only.
  m.handleDatagram(ping([]), { hostname: "10.3.1.2", port: 9 }, 3002);
  const [small] = drain(m);
  assert.ok(small!.data.length <= 3 * 7);
  assert.deepEqual(small!.message.peers.toArray(), [me]);
});

Deno.test("PeerMachine never throws on arbitrary datagrams and keeps its lists within budget", () => {
  const sources = [B1, addr(rec(2)), addr(rec(3)), addr(rec(4))];
  const record = fc.record({
    ip: fc.constantFrom("10.1.0.2", "10.1.0.3", "10.1.0.9", "0.0.0.0", "10.0.0.1"),
    port: fc.constantFrom(0, 4002, 4003, 4009, 5000),
    id: fc.nat(10),
  });
  const datagram = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.record({
      type: fc.constantFrom("PING", "APP_R", "ROOM_FULL"),
      peers: fc.array(record, { maxLength: 5 }),
      payload: fc.constantFrom(EMPTY, BYE, new Uint8Array([1, 2])),
    }).map((m) => encode(m as never)),
    fc.record({ peers: fc.array(record, { maxLength: 5 }), self: record })
      .map(({ peers, self }) => reply(peers, self)),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(datagram, fc.nat(3), fc.nat(4000)), { maxLength: 40 }),
      (inputs) => {
        const m = new PeerMachine({ room: "lobby", bootstraps: [B1], heartbeatMs: 1000 });
        let now = 0;
        for (const [data, source, dt] of inputs) {
          now += dt;
          m.handleDatagram(data, sources[source]!, now);
          m.handleTimeout(now);
          for (let t = m.pollTransmit(); t; t = m.pollTransmit()) {
            assert.ok(t.data.length <= 1024);
            decode(t.data); // everything we send is well-formed
          }
          while (m.pollEvent());
          const keys = m.peers.map((p) => `${p.ip}:${p.port}`);
          assert.equal(new Set(keys).size, keys.length, "no duplicate members");
          assert.ok(!keys.includes("10.0.0.1:5000"), "a bootstrap is never a member");
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("PeerMachine builds bytes at poll time: one shared heartbeat ping, a copied app payload", () => {
  const me = rec(1);
  const m = joined(me, [rec(2), rec(3), rec(4)], V1_BYTES);
  m.handleTimeout(3000); // heartbeat: the same list for everyone in a small room
  const pings = drain(m).filter((t) => t.message.type === "PING");
  assert.equal(pings.length, 3);
  assert.ok(pings.every((t) => t.data === pings[0]!.data), "encoded once, shared");
  const before = m.stats.bytesOut;

  const payload = new Uint8Array([1, 2, 3]);
  m.send(payload);
  payload.fill(9); // the caller reuses its buffer before the driver polls
  const sent = drain(m);
  assert.equal(sent.length, 3);
  for (const t of sent) {
    assert.ok(t.message.type === "APP_R");
    assert.deepEqual(t.message.payload, new Uint8Array([1, 2, 3]));
  }
  const stats = m.stats;
  assert.equal(stats.bytesOut, before + sent.reduce((n, t) => n + t.data.length, 0));
  stats.drops["peer-limit"] = 99; // a snapshot: changing it changes nothing inside
  assert.equal(m.stats.drops["peer-limit"], undefined);
});

Deno.test("PeerMachine: one timer table; the candidate retry runs only while there are candidates", () => {
  const me = rec(1);
  const m = new PeerMachine({ room: "lobby", bootstraps: [B1] });
  m.handleTimeout(0);
  m.handleDatagram(reply([me, rec(2)], me), B1, 10); // rec(2) becomes a candidate
  m.handleTimeout(1000); // heartbeat (next at 4000); the candidate is pinged again at 2000
  drain(m);
  assert.equal(m.pollTimeout(), 2000);
  m.handleDatagram(ping([rec(2), me]), addr(rec(2)), 1500); // it answers: no candidates left
  assert.equal(m.pollTimeout(), 4000); // only the heartbeat remains
});

Deno.test("PeerMachine drops DATA/ACK from a non-member without a reply", () => {
  const me = rec(1);
  const m = joined(me, [rec(2)]);
  drain(m);
  const data = new Uint8Array(40);
  data[0] = 16;
  m.handleDatagram(data, addr(rec(9)), 5);
  data[0] = 17;
  m.handleDatagram(data, addr(rec(9)), 6);
  assert.deepEqual(m.stats.drops, { "reliable-from-stranger": 2 });
  assert.equal(m.pollTransmit(), undefined);
  assert.deepEqual(m.peers, [rec(2)]);
});

Deno.test("PeerMachine: a stranger's self-claimed id 1 does not take the collector duty", () => {
  const me = rec(5);
  const m = joined(me, [rec(6)]);
  assert.equal(m.isCollector, true);
  const claim = { ...rec(9), id: 1 }; // an Olaf-style list: its own record first
  m.handleDatagram(ping([claim]), addr(claim), 10);
  assert.deepEqual(m.peers.map((p) => p.id), [1, 6]);
  assert.equal(m.isCollector, true, "still ours: the bootstrap never issued id 1 to it");
  m.handleTimeout(3000);
  const out = drain(m);
  const report = out.find((t) => t.message.type === "PEER_COLLECTOR")!;
  assert.ok(report, "we still report the room");
  // It is reported with id 0: the bootstrap keeps or issues the id, never the claimed one.
  const listed = report.message.peers.toArray().find((p) => p.port === claim.port)!;
  assert.equal(listed.id, 0);
  // The bootstrap's reply lists it with an id it issued: still not a vouch (our own report).
  m.handleDatagram(reply([me, rec(6), { ...claim, id: 1 }], me), m.bootstrap, 3010);
  assert.equal(m.isCollector, true);
});

Deno.test("PeerMachine: at most strangersPerHeartbeat strangers become members per heartbeat", () => {
  const m = joined(rec(1), [rec(2)], { strangersPerHeartbeat: 3 });
  for (let i = 0; i < 10; i++) {
    m.handleDatagram(ping([]), { hostname: `10.4.0.${i + 1}`, port: 9 }, 100);
  }
  assert.equal(m.peers.length, 1 + 3);
  assert.equal(m.stats.drops["stranger-limit"], 7);
  const answered = new Set(drain(m).map((t) => t.to.hostname));
  assert.equal(answered.size, 3, "the rest get no reply");
  m.handleTimeout(3000); // a new heartbeat: three more
  for (let i = 0; i < 10; i++) {
    m.handleDatagram(ping([]), { hostname: `10.4.0.${i + 1}`, port: 9 }, 3001);
  }
  assert.equal(m.peers.length, 1 + 6);
});

Deno.test("PeerMachine: a PING naming 1000 addresses draws one small probe each, a few at a time", () => {
  const m = joined(rec(1), [rec(2), rec(3)], { probeRate: 50 });
  const named: PeerRecord[] = [];
  for (let i = 0; i < 1000; i++) {
    named.push({ ip: `10.5.${i >> 8}.${i & 255}`, port: 7, id: i + 10 });
  }
  const attack = ping(named);
  m.handleDatagram(attack, { hostname: "10.6.0.1", port: 9 }, 100);
  let toVictims = 0;
  let count = 0;
  let most = 0;
  for (let t = 100; t <= 20_000; t += 100) {
    if (t > 100) m.handleTimeout(t);
    let now = 0;
    for (const x of drain(m)) {
      if (!x.to.hostname.startsWith("10.5.")) continue;
      most = Math.max(most, ++now);
      toVictims += x.data.length;
      count++;
      assert.ok(x.data.length <= 17, "a probe: our own record");
    }
  }
  assert.ok(toVictims <= 3 * attack.length, `${toVictims} bytes for ${attack.length}`);
  assert.ok(count <= 1000, "at most one probe per mention");
  // So many named peers make the room large: a few pings at once (the member-list sync and
  // gossip bring the rest), not one to each of the first 64 (the probe bucket is the bound
  // behind it: _send_budget_test.ts).
  assert.ok(count > 0 && most <= 8, `${count} probes, ${most} at once`);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import {
  type Candidate,
  decodeDialect,
  type DialectMessage,
  encodeDialect,
  type IntroduceMessage,
  type JoinOMessage,
  MAX_LAN_CANDIDATES,
  type WelcomeMessage,
} from "@olaf/protocol/dialect";
import { bindDatagram } from "@olaf/protocol/net";
import { BootstrapCore, type BootstrapCoreOptions } from "./bootstrap_core.ts";
import { MAX_INTRODUCTIONS_PER_JOIN, TOKEN_LIFETIME_MS } from "./_dialect.ts";
import { startBootstrap } from "./server.ts";

const T0 = 1_763_700_000_000;
type Addr = { hostname: string; port: number };
const addr = (i: number): Addr => ({ hostname: `203.0.113.${i}`, port: 40000 + i });
const key = (i: number) => new Uint8Array(32).fill(i);
const lan = (i: number): Candidate[] => [{ ip: `192.168.1.${i}`, port: 40000 + i }];

function core(options: BootstrapCoreOptions = {}): BootstrapCore {
  return new BootstrapCore({ startedAt: T0, tokenSecret: new Uint8Array(32).fill(9), ...options });
}

function joinO(room: string, i: number, extra: Partial<JoinOMessage> = {}): JoinOMessage {
  return {
    type: "JOIN_O",
    room,
    secure: false,
    publicKey: key(i),
    candidates: lan(i),
    introductions: true,
    ...extra,
  };
}

interface Out {
  to: string;
  size: number;
  message: DialectMessage;
}
function drain(c: BootstrapCore): Out[] {
  const out: Out[] = [];
  for (let t = c.pollTransmit(); t !== undefined; t = c.pollTransmit()) {
    out.push({
      to: `${t.to.hostname}:${t.to.port}`,
      size: t.data.length,
      message: decodeDialect(t.data),
    });
  }
  return out;
}
const at = (a: Addr) => `${a.hostname}:${a.port}`;

/** Joins `i` the way a client does: JOIN_O, TOKEN, JOIN_O with the token; returns WELCOME. */
function admit(c: BootstrapCore, room: string, i: number, now = T0, extra = {}): WelcomeMessage {
  c.handleDatagram(encodeDialect(joinO(room, i, extra)), addr(i), now);
  const [token] = drain(c);
  assert.ok(token?.message.type === "TOKEN");
  c.handleDatagram(
    encodeDialect(joinO(room, i, { ...extra, token: token.message.token })),
    addr(i),
    now,
  );
  const out = drain(c);
  const welcome = out.find((o) => o.to === at(addr(i)))?.message;
  assert.ok(welcome?.type === "WELCOME", "a WELCOME after the token echo");
  return welcome;
}

Deno.test("dialect: a JOIN_O without a token gets only a TOKEN, within 3x, and joins nothing", () => {
  const c = core();
  const request = encodeDialect(joinO("lobby", 1));
  c.handleDatagram(request, addr(1), T0);
  const out = drain(c);
  assert.equal(out.length, 1);
  const token = out[0]!;
  assert.equal(token.to, at(addr(1)));
  assert.ok(token.message.type === "TOKEN");
  assert.deepEqual(token.message.observed, { ip: "203.0.113.1", port: 40001 });
  assert.ok(token.size <= 3 * request.length);
  assert.equal(c.stats().rooms, 0, "no room for an unproved address");
  assert.equal(c.stats().drops["dialect-token-missing"], 1);
  assert.equal(c.dialectStats().tokensSent, 1);
});

Deno.test("dialect: echoing the token gets a WELCOME with the member's own record and id", () => {
  const c = core();
  const welcome = admit(c, "lobby", 1);
  assert.deepEqual(welcome.self, { ip: "203.0.113.1", port: 40001, id: T0 / 1000 });
  assert.equal(welcome.total, 0);
  assert.deepEqual(welcome.members, []);
  assert.equal(c.room("lobby")?.memberCount, 1);
  assert.equal(c.dialectStats().olafMembers, 1);
  // The WELCOME's fresh token refreshes without a TOKEN round trip.
  c.handleDatagram(
    encodeDialect(joinO("lobby", 1, { token: welcome.token })),
    addr(1),
    T0 + 1000,
  );
  const out = drain(c);
  assert.equal(out.length, 1);
  assert.ok(out[0]!.message.type === "WELCOME");
  assert.equal(out[0]!.message.self.id, welcome.self.id, "a refresh keeps the id");
});

Deno.test("dialect: a spoofed source with another address's token, or a stale token, gets a TOKEN", () => {
  const c = core();
  c.handleDatagram(encodeDialect(joinO("lobby", 1)), addr(1), T0);
  const [first] = drain(c);
  assert.ok(first?.message.type === "TOKEN");
  // The victim's address, the attacker's token: just a TOKEN toward the victim.
  const spoofed = encodeDialect(joinO("lobby", 2, { token: first.message.token }));
  c.handleDatagram(spoofed, addr(2), T0);
  let out = drain(c);
  assert.deepEqual(out.map((o) => [o.message.type, o.to]), [["TOKEN", at(addr(2))]]);
  assert.ok(out[0]!.size <= 3 * spoofed.length);
  assert.equal(c.stats().drops["dialect-token-invalid"], 1);
  // Good in its own bucket and the next one, not after.
  const echo = encodeDialect(joinO("lobby", 1, { token: first.message.token }));
  c.handleDatagram(echo, addr(1), T0 + 2 * TOKEN_LIFETIME_MS + 1);
  out = drain(c);
  assert.deepEqual(out.map((o) => o.message.type), ["TOKEN"]);
  assert.equal(c.stats().rooms, 0);
});

Deno.test("dialect: the newcomer's WELCOME and the members' INTRODUCEs go out together", () => {
  const c = core();
  admit(c, "lobby", 1);
  // A v1 member in the same room.
  c.handleDatagram(encode({ type: "JOIN_B", peers: [], room: "lobby" }), addr(2), T0 + 10);
  const v1Reply = decode(c.pollTransmit()!.data);
  assert.ok(v1Reply.type === "BOOTSTRAP_R");
  c.handleDatagram(encodeDialect(joinO("lobby", 3)), addr(3), T0 + 20);
  const [token] = drain(c);
  assert.ok(token?.message.type === "TOKEN");
  c.handleDatagram(
    encodeDialect(joinO("lobby", 3, { token: token.message.token })),
    addr(3),
    T0 + 20,
  );
  const out = drain(c);
  assert.deepEqual(out.map((o) => [o.message.type, o.to]).sort(), [
    ["INTRODUCE", at(addr(1))],
    ["WELCOME", at(addr(3))],
  ]);
  const intro = out.find((o) => o.message.type === "INTRODUCE")!.message as IntroduceMessage;
  const welcome = out.find((o) => o.message.type === "WELCOME")!.message as WelcomeMessage;
  assert.deepEqual(intro.peer.record, welcome.self);
  assert.deepEqual(intro.peer.publicKey, key(3));
  assert.deepEqual(intro.peer.candidates, lan(3));
  assert.deepEqual(intro.punchToken, welcome.punchToken, "both sides hold the same punch token");
  // The welcome: the introduced Olaf member first, then the v1 member without a key.
  assert.equal(welcome.total, 2);
  const [olaf, v1] = welcome.members;
  assert.equal(olaf?.introduced, true);
  assert.deepEqual(olaf?.publicKey, key(1));
  assert.deepEqual(olaf?.candidates, lan(1));
  assert.deepEqual(
    { olaf: v1?.olaf, key: v1?.publicKey, introduced: v1?.introduced },
    { olaf: false, key: undefined, introduced: false },
  );
  assert.equal(v1?.record.ip, "203.0.113.2");
  // A v1 JOIN_B sees both Olaf members as plain records (re-joining with its record, as a
  // deployed peer does, it proves its address: issue 12's replies to unproven ones stay in 3x).
  c.handleDatagram(
    encode({ type: "JOIN_B", peers: [v1Reply.self], room: "lobby" }),
    addr(2),
    T0 + 30,
  );
  const reply = decode(c.pollTransmit()!.data);
  assert.ok(reply.type === "BOOTSTRAP_R");
  assert.deepEqual(reply.peers.toArray().map((p) => p.ip).sort(), [
    "203.0.113.1",
    "203.0.113.2",
    "203.0.113.3",
  ]);
});

Deno.test("dialect: introductions per join are bounded, most recent members first", () => {
  const c = core();
  const n = MAX_INTRODUCTIONS_PER_JOIN + 4;
  for (let i = 1; i <= n; i++) {
    admit(c, "big", i, T0 + i);
    drain(c);
  }
  c.handleDatagram(encodeDialect(joinO("big", 99)), addr(99), T0 + 1000);
  const [token] = drain(c);
  assert.ok(token?.message.type === "TOKEN");
  c.handleDatagram(
    encodeDialect(joinO("big", 99, { token: token.message.token })),
    addr(99),
    T0 + 1000,
  );
  const intros = drain(c).filter((o) => o.message.type === "INTRODUCE").map((o) => o.to);
  assert.equal(intros.length, MAX_INTRODUCTIONS_PER_JOIN);
  const newest = Array.from({ length: MAX_INTRODUCTIONS_PER_JOIN }, (_, k) => at(addr(n - k)));
  assert.deepEqual(intros.sort(), newest.sort());
  // A newcomer that wants none causes none, and is never sent one; a refresh introduces nobody.
  const before = c.dialectStats().introductionsSent;
  admit(c, "big", 100, T0 + 2000, { introductions: false });
  admit(c, "big", 99, T0 + 2001);
  assert.equal(c.dialectStats().introductionsSent, before);
  c.handleDatagram(encodeDialect(joinO("big", 101)), addr(101), T0 + 3000);
  const [t101] = drain(c);
  assert.ok(t101?.message.type === "TOKEN");
  c.handleDatagram(
    encodeDialect(joinO("big", 101, { token: t101.message.token })),
    addr(101),
    T0 + 3000,
  );
  const targets = drain(c).filter((o) => o.message.type === "INTRODUCE").map((o) => o.to);
  assert.equal(targets.length, MAX_INTRODUCTIONS_PER_JOIN);
  assert.ok(!targets.includes(at(addr(100))));
  assert.equal(targets[0], at(addr(99)), "the most recently seen first");
});

Deno.test("dialect: a WELCOME stays within the reply budget and says it was trimmed", () => {
  const c = core({ maxMembersPerRoom: 200 });
  for (let i = 1; i <= 60; i++) {
    admit(c, "big", i, T0 + i, { introductions: false });
    drain(c);
  }
  const welcome = admit(c, "big", 61, T0 + 100, { introductions: false });
  assert.equal(welcome.total, 60);
  assert.ok(welcome.members.length > 0 && welcome.members.length < 60);
  const size = encodeDialect(welcome).length;
  assert.ok(size <= c.limits.replyBudgetBytes, `${size} > budget`);
  assert.equal(welcome.members[0]!.record.ip, "203.0.113.60", "most recent first");
});

Deno.test("dialect: a secure room lives under its tag, and keys are kept", () => {
  const c = core();
  const tag = "cca9a2ab3e8b5700058207ea3ca90c3f";
  admit(c, tag, 1, T0, { secure: true });
  const welcome = admit(c, tag, 2, T0, { secure: true });
  assert.deepEqual(welcome.members[0]?.publicKey, key(1));
  assert.equal(c.room(tag)?.memberCount, 2);
});

Deno.test("dialect: REPORT_O only from validated Olaf members of the room", () => {
  const c = core();
  const w1 = admit(c, "lobby", 1);
  admit(c, "lobby", 2);
  drain(c);
  const ids = c.room("lobby")!.members.map((m) => ({ ip: m.ip, port: m.port, id: m.id }));
  const report = (members: PeerRecord[], token?: Uint8Array) =>
    encodeDialect({
      type: "REPORT_O",
      room: "lobby",
      secure: false,
      members,
      ...(token ? { token } : {}),
    });

  // A stranger (unvalidated): no reply at all, nothing changes.
  c.handleDatagram(report([{ ...ids[0]!, ip: "198.51.100.9" }]), {
    hostname: "198.51.100.9",
    port: 1,
  }, T0);
  assert.equal(drain(c).length, 0);
  assert.equal(c.stats().drops["dialect-unvalidated"], 1);
  // A validated address that is no member of the room: nothing changes.
  admit(c, "other", 5);
  drain(c);
  c.handleDatagram(report([{ ip: "203.0.113.5", port: 40005, id: 1 }]), addr(5), T0);
  assert.equal(drain(c).length, 0);
  assert.equal(c.stats().drops["dialect-not-member"], 1);
  assert.equal(c.room("lobby")?.memberCount, 2);
  // A member that is not the collector (not the lowest id) speaks for nobody.
  c.handleDatagram(report([ids[1]!]), addr(2), T0 + 4);
  assert.deepEqual(drain(c).map((o) => o.message.type), ["WELCOME"]);
  assert.equal(c.room("lobby")?.memberCount, 2);
  assert.equal(c.dialectStats().reportsAccepted, 0);
  // The collector's report leaving out member 2 removes it; the answer is a WELCOME.
  c.handleDatagram(report([ids[0]!], w1.token), addr(1), T0 + 5);
  const out = drain(c);
  assert.deepEqual(out.map((o) => [o.message.type, o.to]), [["WELCOME", at(addr(1))]]);
  assert.equal(c.room("lobby")?.memberCount, 1);
  assert.equal(c.dialectStats().reportsAccepted, 1);
  assert.equal(c.dialectStats().olafMembers, 2, "member 2's Olaf fields went with it");
});

Deno.test("dialect: members that expire take their Olaf fields with them", () => {
  const c = core();
  admit(c, "lobby", 1);
  admit(c, "lobby", 2);
  drain(c);
  assert.equal(c.dialectStats().olafMembers, 2);
  c.handleTimeout(T0 + 10 * 60_000);
  assert.equal(c.stats().rooms, 0);
  assert.equal(c.dialectStats().olafMembers, 0);
});

Deno.test("dialect: nothing a stranger sends is answered with more than 3x its size", () => {
  const c = core();
  admit(c, "lobby", 1);
  drain(c);
  const candidate = fc.record({ ip: fc.constant("10.0.0.1"), port: fc.nat(65535) });
  const datagram = fc.oneof(
    fc.record({
      room: fc.string({ maxLength: 40 }),
      token: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }),
      candidates: fc.array(candidate, { maxLength: MAX_LAN_CANDIDATES }),
      introductions: fc.boolean(),
    }).map((j) =>
      encodeDialect({
        type: "JOIN_O",
        room: j.room,
        secure: false,
        candidates: j.candidates,
        introductions: j.introductions,
        ...(j.token ? { token: j.token } : {}),
      })
    ),
    fc.constant(encodeDialect({ type: "REPORT_O", room: "lobby", secure: false, members: [] })),
    fc.tuple(fc.integer({ min: 24, max: 28 }), fc.uint8Array({ maxLength: 60 })).map((
      [t, tail],
    ) => new Uint8Array([t, 0, 0, 0, 0, 0, tail.length, ...tail])),
  );
  let port = 1;
  fc.assert(
    fc.property(datagram, (bytes) => {
      const from = { hostname: "198.51.100.7", port: port++ };
      c.handleDatagram(bytes, from, T0 + 10);
      for (let t = c.pollTransmit(); t !== undefined; t = c.pollTransmit()) {
        assert.ok(t.data.length <= 3 * bytes.length, `${t.data.length} for ${bytes.length}`);
        assert.equal(t.data[0], 25, "a stranger only ever gets a TOKEN");
        assert.equal(`${t.to.hostname}:${t.to.port}`, `${from.hostname}:${from.port}`);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("dialect: real UDP join, token retry and welcome against startBootstrap", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const socket = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
  try {
    const replies = socket[Symbol.asyncIterator]();
    const next = async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no reply within 5 s")), 5000);
      });
      try {
        const r = await Promise.race([replies.next(), timeout]);
        assert.ok(!r.done);
        return decodeDialect(r.value.data);
      } finally {
        clearTimeout(timer);
      }
    };
    const join = joinO("udp-room", 1, { candidates: [] });
    socket.send(encodeDialect(join), server.localAddress);
    const token = await next();
    assert.ok(token.type === "TOKEN");
    assert.equal(token.observed.port, socket.localAddress.port);
    socket.send(encodeDialect({ ...join, token: token.token }), server.localAddress);
    const welcome = await next();
    assert.ok(welcome.type === "WELCOME");
    assert.equal(welcome.self.port, socket.localAddress.port);
    assert.equal(server.room("udp-room")?.memberCount, 1);
  } finally {
    socket.close();
  }
});

Deno.test("dialect: TOKENs share the global budget of replies to unvalidated addresses", () => {
  const c = core({ unvalidatedBytesPerSecond: 1, unvalidatedBytesBurst: 40 });
  c.handleDatagram(encodeDialect(joinO("lobby", 1)), addr(1), T0);
  c.handleDatagram(encodeDialect(joinO("lobby", 2)), addr(2), T0);
  assert.deepEqual(drain(c).map((o) => [o.message.type, o.to]), [["TOKEN", at(addr(1))]]);
  assert.equal(c.stats().drops["unvalidated-budget"], 1);
  assert.equal(c.dialectStats().tokensSent, 1);
});

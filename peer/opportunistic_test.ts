// Opportunistic encryption in open rooms at the machine level (issue 10): what the first
// application datagram does, what goes sealed and what stays v1, that strangers get no handshake,
// that answers are budgeted, and that a member who restarts with a new key gets a new session.
import assert from "node:assert/strict";
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { PeerMachine } from "./peer_machine.ts";
import { SecureEndpoint } from "./_secure/endpoint.ts";
import { roomKeys } from "./_secure/room_keys.ts";
import { generateIdentity } from "./identity.ts";

const BOOT: NetAddress = { hostname: "10.0.0.1", port: 5000 };
const A: NetAddress = { hostname: "10.0.0.2", port: 4000 };
const B: NetAddress = { hostname: "10.0.0.3", port: 4000 };
const rec = (n: NetAddress, id: number): PeerRecord => ({ ip: n.hostname, port: n.port, id });
const same = (x: NetAddress, y: NetAddress) => x.hostname === y.hostname && x.port === y.port;
const ROOM = "open";

function machine(at: NetAddress, opportunistic = true): PeerMachine {
  const m = new PeerMachine({ room: ROOM, bootstraps: [BOOT], opportunistic });
  m.handleTimeout(0);
  m.handleDatagram(
    encode({
      type: "BOOTSTRAP_R",
      peers: [rec(A, 1), rec(B, 2)],
      self: rec(at, same(at, A) ? 1 : 2),
    }),
    BOOT,
    0,
  );
  return m;
}

/** Two machines on a lossless wire; `pump` delivers until quiet and records what went where. */
function pair() {
  const nodes: [PeerMachine, NetAddress][] = [[machine(A), A], [machine(B), B]];
  const wire: { from: NetAddress; data: Uint8Array }[] = [];
  const events: Record<string, unknown>[][] = [[], []];
  const pump = (now: number) => {
    for (let moved = true; moved;) {
      moved = false;
      for (const [m, at] of nodes) {
        for (let t = m.pollTransmit(now); t !== undefined; t = m.pollTransmit(now)) {
          const to = nodes.find(([, addr]) => same(addr, t.to));
          if (to === undefined) continue;
          wire.push({ from: at, data: t.data });
          to[0].handleDatagram(t.data, at, now);
          moved = true;
        }
      }
      nodes.forEach(([m], i) => {
        for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) {
          events[i]!.push(e as unknown as Record<string, unknown>);
        }
      });
    }
  };
  pump(0);
  return { a: nodes[0]![0], b: nodes[1]![0], nodes, wire, events, pump };
}

const text = (d: Uint8Array) => new TextDecoder("latin1").decode(d);

Deno.test("opportunistic: the first APP_R goes as v1 and starts one handshake; then APP_R is sealed, pings stay v1", () => {
  const { a, b, wire, events, pump } = pair();
  assert.equal(a.peers.length, 1);
  assert.equal(b.peers.length, 1);
  assert.equal(wire.filter((w) => w.data[0] === 18).length, 0, "no handshake before any data");
  const from = wire.length;
  a.sendTo(rec(B, 2), new TextEncoder().encode("first"));
  pump(10);
  const first = wire.slice(from);
  assert.ok(first.some((w) => w.data[0] === 3 && text(w.data).includes("first")), "v1 APP_R");
  assert.equal(first.filter((w) => w.data[0] === 18 && w.data[7] === 1).length, 1, "one XX msg 1");
  const links = events.map((es) => es.filter((e) => e.type === "link"));
  assert.deepEqual(links.map((l) => l.map((e) => e.encrypted)), [[true], [true]]);
  assert.equal(a.stats.opportunistic.started, 1);
  assert.equal(b.stats.opportunistic.started, 0, "the responder started nothing");

  const later = wire.length;
  a.sendTo(rec(B, 2), new TextEncoder().encode("second"));
  b.sendTo(rec(A, 1), new TextEncoder().encode("third"));
  pump(20);
  const sealed = wire.slice(later);
  assert.equal(sealed.length, 2);
  assert.ok(sealed.every((w) => w.data[0] === 19 && !text(w.data).includes("second")));
  const messages = events.map((es) =>
    es.filter((e) => e.type === "message").map((e) => text(e.data as Uint8Array))
  );
  assert.deepEqual(messages, [["third"], ["first", "second"]]);
  // A heartbeat's pings are v1 PINGs (membership never depends on the session).
  const beat = wire.length;
  a.handleTimeout(3000);
  pump(3000);
  const pings = wire.slice(beat).filter((w) => same(w.from, A));
  assert.ok(pings.length > 0 && pings.every((w) => decode(w.data).type === "PING"));
});

Deno.test("opportunistic: strangers' handshakes get no answer and nothing else", () => {
  const { a, wire, pump } = pair();
  const keys = roomKeys(ROOM, undefined);
  const before = wire.length;
  // 300 strangers (not members) each send a valid XX message 1: nothing comes back.
  for (let i = 0; i < 300; i++) {
    const e = new SecureEndpoint({ identity: generateIdentity(), room: keys });
    e.connect(0, "10.0.0.2:4000");
    a.handleDatagram(e.pollTransmit()!.data, { hostname: "10.9.9.9", port: 1000 + i }, 5);
  }
  pump(5);
  assert.equal(a.stats.drops["handshake-refused"], 300);
  assert.equal(a.stats.opportunistic.refused, 300);
  assert.equal(a.stats.opportunistic.answered, 0);
  assert.equal(wire.slice(before).filter((w) => w.data[0] === 18).length, 0, "no handshake out");
  let out = 0;
  for (let t = a.pollTransmit(5); t !== undefined; t = a.pollTransmit(5)) {
    if (t.to.hostname === "10.9.9.9") out++;
  }
  assert.equal(out, 0, "nothing to the strangers");
});

Deno.test("opportunistic: off, a machine answers no handshake and sends only v1", () => {
  const m = new PeerMachine({ room: ROOM, bootstraps: [BOOT], opportunistic: false });
  m.handleTimeout(0);
  m.handleDatagram(encode({ type: "BOOTSTRAP_R", peers: [rec(A, 1)], self: rec(A, 1) }), BOOT, 0);
  m.handleDatagram(encode({ type: "PING", peers: [rec(B, 2)], payload: new Uint8Array() }), B, 1);
  const e = new SecureEndpoint({ identity: generateIdentity(), room: roomKeys(ROOM, undefined) });
  e.connect(0, "10.0.0.2:4000");
  m.handleDatagram(e.pollTransmit()!.data, B, 2);
  m.sendTo(rec(B, 2), new TextEncoder().encode("plain"));
  const types: number[] = [];
  for (let t = m.pollTransmit(3); t !== undefined; t = m.pollTransmit(3)) types.push(t.data[0]!);
  assert.ok(types.length > 0 && types.every((t) => t < 16), `v1 only: ${types}`);
});

Deno.test("opportunistic: a member that restarts with a new key at the same address gets a new session", () => {
  const { a, nodes, wire, events, pump } = pair();
  a.sendTo(rec(B, 2), new TextEncoder().encode("hello"));
  pump(10);
  // b restarts: a new machine (a new identity) on the same address; a still has b as a member.
  const b2 = machine(B);
  nodes[1] = [b2, B];
  events[1]!.length = 0;
  pump(20);
  assert.equal(a.peers.length, 1);
  // b2 talks first: its first APP_R is v1 (a reads it), and it starts a handshake with a.
  b2.sendTo(rec(A, 1), new TextEncoder().encode("i am back"));
  pump(30);
  const from = wire.length;
  a.sendTo(rec(B, 2), new TextEncoder().encode("welcome back"));
  pump(40);
  const got = events[1]!.filter((e) => e.type === "message").map((e) => text(e.data as Uint8Array));
  const sent = wire.slice(from).filter((w) => same(w.from, A));
  assert.ok(sent.length > 0 && sent.every((w) => w.data[0] === 19), "sealed, on the new session");
  assert.ok(
    events[0]!.filter((e) => e.type === "link" && e.encrypted === true).length >= 2,
    "the link was sealed again (the new key)",
  );
  assert.ok(
    events[0]!.some((e) => e.type === "message" && text(e.data as Uint8Array) === "i am back"),
  );
  assert.deepEqual(got, ["welcome back"]);
  assert.equal(a.peers.length, 1, "still one member");
});

Deno.test("opportunistic: a member that restarts with it off gets plaintext again (session check unanswered)", () => {
  const { a, nodes, events, pump } = pair();
  a.sendTo(rec(B, 2), new TextEncoder().encode("hello"));
  pump(10);
  const b2 = machine(B, false); // --plaintext after the restart: it reads no SEALED
  nodes[1] = [b2, B];
  events[1]!.length = 0;
  // It keeps talking in plaintext; 3 s on, a checks the session (IK to the old key), which
  // goes unanswered, and the link goes back to plaintext.
  for (let t = 100; t <= 12_000; t += 500) {
    b2.sendTo(rec(A, 1), new TextEncoder().encode(`plain ${t}`));
    for (const m of [a, b2]) {
      m.pollTimeout(); // arms the timers (handshake retransmits) as a driver would
      m.handleTimeout(t);
    }
    pump(t);
  }
  const links = events[0]!.filter((e) => e.type === "link").map((e) => e.encrypted);
  assert.deepEqual(links, [true, false]);
  a.sendTo(rec(B, 2), new TextEncoder().encode("readable again"));
  pump(12_100);
  const got = events[1]!.filter((e) => e.type === "message").map((e) => text(e.data as Uint8Array));
  assert.ok(got.includes("readable again"), got.join());
  assert.equal(a.peers.length, 1, "b stayed a member throughout");
});

// Secure rooms at the machine level, driven by hand: replays, roaming (a new address keeps the
// member), and a forged BOOTSTRAP_R from the bootstrap's own address.
import assert from "node:assert/strict";
import { encode, type PeerRecord } from "@olaf/protocol";
import { decodeDialect, encodeDialect } from "@olaf/protocol/dialect";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { type PeerEvent, PeerMachine } from "./peer_machine.ts";
import { parsePublicKey } from "./identity.ts";
import { roomKeys } from "./_secure/room_keys.ts";

const BOOT: NetAddress = { hostname: "10.0.0.1", port: 5000 };
const SECRET = "0123456789abcdef0123456789abcdef";

interface Node {
  readonly m: PeerMachine;
  /** Where the others see it (tests move it). */
  at: NetAddress;
  readonly events: PeerEvent[];
}

function node(ip: string, now = 0): Node {
  return {
    m: new PeerMachine({ room: "lobby", bootstraps: [BOOT], secret: SECRET, now }),
    at: { hostname: ip, port: 4000 },
    events: [],
  };
}

const rec = (n: Node, id: number): PeerRecord => ({ ip: n.at.hostname, port: n.at.port, id });
const same = (a: NetAddress, b: NetAddress) => a.hostname === b.hostname && a.port === b.port;

/** Moves every datagram between nodes (bootstrap-bound ones are dropped) until quiet. */
function pump(nodes: Node[], now: number, tap?: (d: Uint8Array, from: Node, to: Node) => void) {
  for (let round = 0; round < 50; round++) {
    let moved = false;
    for (const n of nodes) {
      for (let t = n.m.pollTransmit(now); t !== undefined; t = n.m.pollTransmit(now)) {
        const to = nodes.find((o) => same(o.at, t.to));
        if (to === undefined) continue;
        tap?.(t.data, n, to);
        to.m.handleDatagram(t.data, n.at, now);
        moved = true;
      }
    }
    for (const n of nodes) for (let e = n.m.pollEvent(); e; e = n.m.pollEvent()) n.events.push(e);
    if (!moved) return;
  }
}

/** Two joined secure peers that have met; `a` joined first, `b` got a's key in its WELCOME. */
function meet(sent?: Uint8Array[]): [Node, Node] {
  const a = node("10.0.0.2");
  const b = node("10.0.0.3");
  const tag = roomKeys("lobby", SECRET).tagHex;
  for (const [n, id] of [[a, 1], [b, 2]] as const) {
    n.m.handleTimeout(0);
    const join = decodeDialect(n.m.pollTransmit(0)!.data);
    // The Olaf join, under the tag, with our key; never the room name.
    assert.ok(join.type === "JOIN_O" && join.secure && join.room === tag, JSON.stringify(join));
    assert.deepEqual(join.publicKey, parsePublicKey(n.m.publicKey));
    const other = n === a ? undefined : a;
    n.m.handleDatagram(
      encodeDialect({
        type: "WELCOME",
        self: rec(n, id),
        token: new Uint8Array(16),
        punchToken: new Uint8Array(8),
        total: other ? 1 : 0,
        members: other
          ? [{
            record: rec(other, 1),
            olaf: true,
            publicKey: parsePublicKey(other.m.publicKey),
            candidates: [],
            nat: "unknown",
            introduced: false,
          }]
          : [],
      }),
      BOOT,
      1,
    );
  }
  pump([a, b], 2, (d) => void sent?.push(d.slice()));
  assert.equal(a.m.peers.length, 1);
  assert.equal(b.m.peers.length, 1);
  assert.equal(a.m.peers[0]!.publicKey, b.m.publicKey);
  return [a, b];
}

Deno.test("secure machine: the WELCOME's keys make the first handshake IK", () => {
  const sent: Uint8Array[] = [];
  meet(sent);
  // HANDSHAKE step byte (after 7 bytes of framing): 4 = IK message 1, 1 = XX message 1.
  const steps = sent.filter((d) => d[0] === 18).map((d) => d[7]);
  assert.ok(steps.includes(4), `IK used: steps ${steps}`);
  assert.ok(!steps.includes(1), `no XX needed: steps ${steps}`);
});

Deno.test("secure machine: a replayed SEALED is dropped, the message arrives once", () => {
  const [a, b] = meet();
  b.events.length = 0;
  const sealed: Uint8Array[] = [];
  a.m.send(new TextEncoder().encode("once"));
  pump([a, b], 10, (d, _from, to) => to === b && d[0] === 19 && sealed.push(d.slice()));
  assert.equal(b.events.filter((e) => e.type === "message").length, 1);
  for (const d of sealed) b.m.handleDatagram(d, a.at, 11);
  assert.deepEqual(b.m.pollEvent(), undefined, "no event from a replay");
  assert.equal(b.m.stats.secure.replay, sealed.length);
});

Deno.test("secure machine: an identity survives an address change (roaming)", () => {
  const [a, b] = meet();
  b.events.length = 0;
  const key = a.m.publicKey;
  a.at = { hostname: "192.0.2.7", port: 31337 }; // a NAT rebinding, or a new network
  a.m.send(new TextEncoder().encode("from my new address"));
  pump([a, b], 100);
  const messages = b.events.filter((e) => e.type === "message");
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.type === "message" && messages[0]!.from.publicKey, key);
  assert.deepEqual(b.events.filter((e) => e.type !== "message"), [], "no leave, no join");
  assert.deepEqual(b.m.peers.map((p) => [p.ip, p.port, p.publicKey]), [[
    "192.0.2.7",
    31337,
    key,
  ]]);
  // b answers at the new path: a hears b's message there.
  a.events.length = 0;
  b.m.send(new TextEncoder().encode("got it"));
  pump([a, b], 200);
  assert.equal(a.events.filter((e) => e.type === "message").length, 1);
});

Deno.test("secure machine: a forged BOOTSTRAP_R from the bootstrap address yields no member", () => {
  const [a] = meet();
  a.events.length = 0;
  // Spoofing the bootstrap's address is possible for a stranger (UDP): the reply can list
  // addresses, but those are only candidates, and candidates get nothing but a HANDSHAKE.
  const evil = { ip: "10.0.0.66", port: 4000, id: 1 };
  a.m.handleDatagram(encode({ type: "BOOTSTRAP_R", peers: [evil], self: rec(a, 1) }), BOOT, 5);
  const out: Uint8Array[] = [];
  for (let t = a.m.pollTransmit(5); t !== undefined; t = a.m.pollTransmit(5)) {
    if (t.to.hostname === evil.ip) out.push(t.data);
  }
  assert.ok(out.length > 0 && out.every((d) => d[0] === 18), "only a HANDSHAKE to it");
  const stranger = { hostname: evil.ip, port: evil.port };
  a.m.handleDatagram(
    encode({ type: "APP_R", peers: [evil], payload: new Uint8Array([1]) }),
    stranger,
    6,
  );
  assert.deepEqual(a.m.pollEvent(), undefined);
  assert.deepEqual(a.m.peers.map((p) => p.ip), ["10.0.0.3"]);
});

Deno.test("secure machine: v1 datagrams from a member's own address are dropped too", () => {
  const [a, b] = meet();
  a.events.length = 0;
  const forged = encode({ type: "APP_R", peers: [rec(b, 2)], payload: new Uint8Array([1]) });
  a.m.handleDatagram(forged, b.at, 7);
  assert.deepEqual(a.m.pollEvent(), undefined, "the sender of a message is its verified key");
  assert.equal(a.m.stats.drops["not-sealed"], 1);
});

Deno.test("secure machine: leaving sends a sealed bye; the member leaves at once, no handshake", () => {
  const [a, b] = meet();
  b.events.length = 0;
  a.m.leave();
  const out: Uint8Array[] = [];
  for (let t = a.m.pollTransmit(50); t !== undefined; t = a.m.pollTransmit(50)) {
    out.push(t.data);
    if (same(t.to, b.at)) b.m.handleDatagram(t.data, a.at, 50);
  }
  assert.ok(out.length > 0 && out.every((d) => d[0] === 19), "only SEALED");
  assert.deepEqual(b.m.pollEvent(), {
    type: "peer-left",
    peer: { ...rec(a, 1), publicKey: a.m.publicKey },
    reason: "bye",
  });
});

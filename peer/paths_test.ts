// PeerMachine with NAT traversal on, driven by hand: what strangers can and cannot make it send.
import assert from "node:assert/strict";
import { decode, encode } from "@olaf/protocol";
import {
  decodeProbe,
  decodeRelayed,
  encodeProbe,
  encodeRelayed,
  encodeRelayReserve,
  PROBE_BYTES,
} from "@olaf/protocol/nat";
import { PeerMachine } from "@olaf/peer";

const bootstrap = { hostname: "203.0.113.1", port: 5000 };
const self = { ip: "198.51.100.1", port: 4000, id: 1 };

function joined(): PeerMachine {
  // v1 bytes on the paths: opportunistic encryption (handshakes first) is off here.
  const m = new PeerMachine({
    room: "lobby",
    bootstraps: [bootstrap],
    nat: true,
    opportunistic: false,
  });
  m.handleTimeout(0);
  m.handleDatagram(encode({ type: "BOOTSTRAP_R", peers: [self], self }), bootstrap, 10);
  drain(m);
  while (m.pollEvent() !== undefined); // "joined"
  return m;
}

function drain(m: PeerMachine) {
  const out = [];
  for (let t = m.pollTransmit(); t !== undefined; t = m.pollTransmit()) out.push(t);
  return out;
}

Deno.test("nat: a stranger's PROBE gets one reply of its size, and no probes to whom it names", () => {
  const m = joined();
  const stranger = { hostname: "192.0.2.9", port: 999 };
  const victim = { ip: "192.0.2.77", port: 4000, id: 0 };
  const request = encodeProbe({ kind: "request", self: victim, nonce: new Uint8Array(8).fill(3) });
  m.handleDatagram(request, stranger, 20);
  const out = drain(m);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.to, stranger);
  assert.equal(out[0]!.data.length, PROBE_BYTES);
  const reply = decodeProbe(out[0]!.data);
  assert.ok(reply?.kind === "reply");
  assert.deepEqual(reply.observed, { ip: "192.0.2.9", port: 999, id: 0 });
  assert.deepEqual(reply.self, self);
  // Time passes: nothing goes to the named victim (no entry was made for it).
  for (let t = 100; t < 30_000; t += 500) {
    m.handleTimeout(t);
    for (const tx of drain(m)) assert.notEqual(tx.to.hostname, victim.ip);
  }
  assert.deepEqual(m.peers, [], "a probe makes nobody a member");
});

Deno.test("nat: PROBE replies are rate-bounded (50 a second)", () => {
  const m = joined();
  for (let i = 0; i < 200; i++) {
    const request = encodeProbe({
      kind: "request",
      self: { ip: "192.0.2.1", port: 1000 + i, id: 0 },
      nonce: new Uint8Array(8).fill(i),
    });
    m.handleDatagram(request, { hostname: "192.0.2.1", port: 1000 + i }, 20);
  }
  const replies = drain(m).filter((t) => decodeProbe(t.data)?.kind === "reply");
  assert.ok(replies.length <= 51 && replies.length >= 40, `${replies.length} replies`);
});

Deno.test("nat: malformed PROBEs and a RELAYED from a non-bootstrap change nothing", () => {
  const m = joined();
  const before = drain(m).length;
  m.handleDatagram(Uint8Array.of(20, 0, 0, 0, 0), { hostname: "192.0.2.1", port: 1 }, 20);
  m.handleDatagram(Uint8Array.of(20), { hostname: "192.0.2.1", port: 1 }, 20);
  const inner = encode({ type: "APP_R", peers: [], payload: Uint8Array.of(1) });
  const relayed = encodeRelayed({ peer: { ip: "192.0.2.5", port: 5 }, data: inner });
  m.handleDatagram(relayed, { hostname: "192.0.2.1", port: 1 }, 20);
  assert.equal(drain(m).length, before);
  assert.deepEqual(m.peers, []);
  assert.equal(
    m.stats.drops["unknown-type"],
    1,
    "a RELAYED not from a bootstrap is an unknown type",
  );
});

Deno.test("nat: a RELAYED from the bootstrap is the named member's datagram", () => {
  const m = joined();
  // The relay granted us a reservation (the bootstrap only forwards between two of them).
  const grant = encodeRelayReserve({
    kind: "grant",
    lifetimeMs: 120_000,
    bytes: 1 << 20,
    rate: 50,
  });
  m.handleDatagram(grant, bootstrap, 25);
  const other = { ip: "198.51.100.2", port: 4000, id: 2 };
  const inner = encode({ type: "APP_R", peers: [other], payload: new TextEncoder().encode("hi") });
  m.handleDatagram(encodeRelayed({ peer: other, data: inner }), bootstrap, 30);
  const events = [];
  for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) events.push(e);
  assert.deepEqual(events[0], { type: "peer-joined", peer: other, path: "relayed" });
  assert.equal(events[1]?.type, "message");
  assert.equal(m.pathOf(other), "relayed");
  // Our answers to it go back through the relay, wrapped.
  m.sendTo(other, Uint8Array.of(7));
  const out = drain(m).filter((t) => t.to.port === bootstrap.port);
  const wrapped = out.map((t) => decodeRelayed(t.data)).filter((r) => r !== undefined);
  assert.ok(wrapped.length > 0, "wrapped in RELAYED to the bootstrap");
  const app = wrapped.map((r) => decode(r.data)).find((d) => d.type === "APP_R");
  assert.ok(app?.type === "APP_R" && app.payload[0] === 7);
  assert.deepEqual(wrapped[0]!.peer, { ip: other.ip, port: other.port });
});

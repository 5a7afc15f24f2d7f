/**
 * The models of the deployed peer and bootstrap must keep their defects:
 * a model kinder than the deployed system would make the interop tests pass
 * for the wrong reason. Each test pins one behaviour of the spec
 * (`olaf-v1.md`, "Behaviour of the deployed system" and "Known defects").
 */
import assert from "node:assert/strict";
import { BYE, encode, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";
import { drainTransmits } from "@olaf/protocol/testing";
import { LegacyV1Peer } from "./legacy_v1_peer.ts";
import { LegacyV1Bootstrap } from "./legacy_v1_bootstrap.ts";

const T0 = 1_763_700_000_000;
const B1: NetAddress = { hostname: "10.9.0.1", port: 5000 };
const B2: NetAddress = { hostname: "10.9.0.2", port: 5000 };
const EMPTY = new Uint8Array();

function rec(n: number, id = n): PeerRecord {
  return { ip: `10.1.0.${n}`, port: 4000, id };
}
function addr(r: PeerRecord): NetAddress {
  return { hostname: r.ip, port: r.port };
}
const drain = drainTransmits;
function ping(peers: PeerRecord[], payload: Uint8Array = EMPTY): Uint8Array {
  return encode({ type: "PING", peers, payload });
}
/** A deployed peer that joined as `me` and was told about `others` by the bootstrap. */
function legacyPeer(me: PeerRecord, others: PeerRecord[], bootstraps = [B1]): LegacyV1Peer {
  const peer = new LegacyV1Peer({ room: "lobby", bootstraps, now: 0 });
  peer.handleTimeout(0);
  peer.handleDatagram(encode({ type: "BOOTSTRAP_R", peers: [me, ...others], self: me }), B1, 1);
  drain(peer);
  return peer;
}

Deno.test("deployed peer model: alone it sends JOIN_B every heartbeat, to the first bootstrap only", () => {
  const peer = new LegacyV1Peer({ room: "lobby", bootstraps: [B1, B2], now: 0 });
  const sent: string[] = [];
  for (let t = 0; t <= 9000; t += 3000) {
    peer.handleTimeout(t);
    for (const { message, to } of drain(peer)) sent.push(`${message.type} ${to.hostname}`);
  }
  assert.deepEqual(sent, Array(4).fill("JOIN_B 10.9.0.1"), "no failover (defect 5)");
  peer.handleDatagram(
    encode({ type: "BOOTSTRAP_R", peers: [rec(1), rec(2)], self: rec(1) }),
    B1,
    9001,
  );
  peer.handleTimeout(12000);
  assert.deepEqual(drain(peer).map((t) => t.message.type), ["PING", "PEER_COLLECTOR"]);
});

Deno.test("deployed peer model: the sender of a PING is not added, the peers it names are (defect 4)", () => {
  const peer = legacyPeer(rec(1), [rec(2)]);
  peer.handleDatagram(ping([rec(2)]), addr(rec(3)), 10); // a newcomer that does not list itself
  assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000"]);
  peer.handleDatagram(ping([rec(3)]), addr(rec(3)), 11); // an Olaf newcomer lists itself
  assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000", "10.1.0.3:4000"]);
});

Deno.test("deployed peer model: a crashed peer named in pings stays alive forever (defect 3)", () => {
  const peer = legacyPeer(rec(1), [rec(2), rec(3)]);
  // rec(3) crashed at t=1; rec(2) keeps naming it. It is never purged (not even purged and
  // re-added from the next list, which a peer without defect 3 would do).
  for (let t = 3000; t <= 60_000; t += 3000) {
    peer.handleDatagram(ping([rec(1), rec(3)]), addr(rec(2)), t - 1);
    peer.handleTimeout(t);
    assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000", "10.1.0.3:4000"], `at ${t} ms`);
  }
  // Unnamed and silent, it goes after the timeout.
  for (let t = 63_000; t <= 81_000; t += 3000) {
    peer.handleDatagram(ping([rec(1)]), addr(rec(2)), t - 1);
    peer.handleTimeout(t);
  }
  assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000"]);
});

Deno.test("deployed peer model: collector duty for the lowest id, ties included, with an empty report", () => {
  const collectors = (me: PeerRecord, others: PeerRecord[]) => {
    const peer = legacyPeer(me, others);
    peer.handleTimeout(3000);
    return drain(peer).filter((t) => t.message.type === "PEER_COLLECTOR");
  };
  const [report] = collectors(rec(1, 5), [rec(2, 5), rec(3, 6)]);
  assert.deepEqual(report?.to, B1);
  assert.equal(report?.message.peers.length, 0);
  assert.equal(collectors(rec(2, 5), [rec(1, 5)]).length, 1, "equal ids: both collect");
  assert.equal(collectors(rec(3, 6), [rec(1, 5)]).length, 0);
});

Deno.test("deployed peer model: datagrams over 1024 bytes are cut and fail to decode", () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => rec(i + 2));
  const big = new LegacyV1Peer({ room: "lobby", bootstraps: [B1], now: 0 });
  const tooBig = encode({ type: "BOOTSTRAP_R", peers: [rec(1), ...many(101)], self: rec(1) });
  assert.equal(tooBig.length, 1033);
  big.handleDatagram(tooBig, B1, 1);
  assert.equal(big.self, undefined);
  assert.deepEqual(big.peerKeys, []);
  const fits = new LegacyV1Peer({ room: "lobby", bootstraps: [B1], now: 0 });
  fits.handleDatagram(
    encode({ type: "BOOTSTRAP_R", peers: [rec(1), ...many(100)], self: rec(1) }),
    B1,
    1,
  );
  assert.equal(fits.peerKeys.length, 100);
});

Deno.test("deployed peer model: bye removes the sender at once; APP_R is delivered from anyone", () => {
  const peer = legacyPeer(rec(1), [rec(2), rec(3)]);
  peer.handleDatagram(ping([], BYE), addr(rec(3)), 10);
  assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000"]);
  const text = new TextEncoder().encode("hi");
  peer.handleDatagram(encode({ type: "APP_R", peers: [rec(7)], payload: text }), addr(rec(9)), 11);
  assert.deepEqual(peer.received, [{ from: "10.1.0.9:4000", text: "hi" }]);
  assert.deepEqual(peer.peerKeys, ["10.1.0.2:4000"], "APP_R lists are ignored");
});

function join(
  boot: LegacyV1Bootstrap,
  from: NetAddress,
  now: number,
  room = "lobby",
  own?: PeerRecord,
) {
  boot.handleDatagram(encode({ type: "JOIN_B", peers: own ? [own] : [], room }), from, now);
  return drain(boot);
}

Deno.test("deployed bootstrap model: ids are Unix seconds, shared within a second (defect 1)", () => {
  const boot = new LegacyV1Bootstrap({ now: T0 });
  const [a] = join(boot, addr(rec(1)), T0 + 100);
  const [b] = join(boot, addr(rec(2)), T0 + 900);
  const [c] = join(boot, addr(rec(3)), T0 + 1000);
  const id = (t: typeof a) => t?.message.type === "BOOTSTRAP_R" ? t.message.self.id : -1;
  assert.equal(id(a), T0 / 1000);
  assert.equal(id(b), id(a));
  assert.equal(id(c), id(a) + 1);
});

Deno.test("deployed bootstrap model: PEER_COLLECTOR answers but does not keep the room (defect 2)", () => {
  const boot = new LegacyV1Bootstrap({ now: T0 });
  join(boot, addr(rec(1)), T0);
  join(boot, addr(rec(2)), T0 + 10);
  const collect = encode({ type: "PEER_COLLECTOR", peers: [], room: "lobby" });
  let answered = 0;
  for (let t = T0 + 3000; t <= T0 + 30_000; t += 3000) {
    boot.handleDatagram(collect, addr(rec(1)), t);
    answered += drain(boot).length;
    boot.handleTimeout(t);
  }
  assert.ok(answered >= 4, "it answers while the room exists");
  assert.equal(boot.rooms.has("lobby"), false, "gone ~15 s after the last JOIN_B");
  boot.handleDatagram(collect, addr(rec(1)), T0 + 31_000);
  assert.deepEqual(drain(boot), [], "a forgotten room draws no answer");
});

Deno.test("deployed bootstrap model: no member limit, no reply budget (defect 6), 10 rooms at most", () => {
  const boot = new LegacyV1Bootstrap({ now: T0 });
  let last: ReturnType<typeof join> = [];
  for (let i = 0; i < 200; i++) last = join(boot, { hostname: `10.2.0.${i}`, port: 4000 + i }, T0);
  assert.equal(last[0]!.message.peers.length, 200);
  assert.equal(last[0]!.data.length, 3 + 200 * 10 + 10);
  for (let r = 1; r < 10; r++) {
    assert.equal(join(boot, addr(rec(1)), T0, `room${r}`)[0]!.message.type, "BOOTSTRAP_R");
  }
  assert.equal(join(boot, addr(rec(1)), T0, "room10")[0]!.message.type, "ROOM_FULL");
});

Deno.test("deployed bootstrap model: a re-join keeps its id only from its own address", () => {
  const boot = new LegacyV1Bootstrap({ now: T0 });
  join(boot, addr(rec(9)), T0); // keeps the room alive
  const own = { ...rec(1), id: 42 };
  const [kept] = join(boot, addr(rec(1)), T0 + 5000, "lobby", own);
  assert.equal(kept?.message.type === "BOOTSTRAP_R" && kept.message.self.id, 42);
  const [fresh] = join(boot, addr(rec(2)), T0 + 6000, "lobby", own); // someone else's record
  assert.equal(
    fresh?.message.type === "BOOTSTRAP_R" && fresh.message.self.id,
    Math.floor(T0 / 1000) + 6,
  );
});

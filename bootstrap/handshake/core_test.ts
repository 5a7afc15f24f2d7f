// Deterministic tests of HandshakeCore on a virtual clock. Messages are built
// and read here with plain JSON, not with the module's serializer.
import assert from "node:assert/strict";
import { HandshakeCore, type HandshakeLimits } from "./core.ts";

type Json = Record<string, unknown>;
const enc = new TextEncoder();
const dec = new TextDecoder();

let counter = 0;
function uuid(): string {
  counter++;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, "0")}`;
}

function msg(type: string, payload: unknown, extra: Json = {}): Json {
  return {
    id: uuid(),
    message_type: type,
    timestamp: 1_764_633_600,
    payload,
    sender_addr: null,
    sequence_number: null,
    requires_ack: false,
    ack_for: null,
    ...extra,
  };
}

function nodeInfo(id: string, network = "lan", metadata: Json = {}): Json {
  return {
    id,
    name: `name-${id}`,
    version: "1.0.0",
    listen_addr: "0.0.0.0:9000",
    capabilities: ["chat"],
    metadata,
    network_id: network,
  };
}

class Harness {
  core: HandshakeCore;
  now = 1_000_000;
  constructor(limits: HandshakeLimits = {}) {
    this.core = new HandshakeCore({ randomUUID: uuid, ...limits, startedAt: this.now });
  }
  send(from: number | { hostname: string; port: number }, message: Json | string): void {
    const addr = typeof from === "number" ? { hostname: "10.0.0.1", port: from } : from;
    const bytes = typeof message === "string"
      ? enc.encode(message)
      : enc.encode(JSON.stringify(message));
    this.core.handleDatagram(bytes, addr, this.now);
  }
  /** Every datagram queued, parsed, with its destination port. */
  out(): { port: number; m: Json }[] {
    const got: { port: number; m: Json }[] = [];
    for (let t = this.core.pollTransmit(); t; t = this.core.pollTransmit()) {
      got.push({ port: t.to.port, m: JSON.parse(dec.decode(t.data)) });
    }
    return got;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const next = this.core.pollTimeout();
      if (next === undefined || next > end) break;
      this.now = Math.max(this.now, next);
      this.core.handleTimeout(this.now);
    }
    this.now = end;
  }
  handshake(port: number, id: string, network = "lan", metadata: Json = {}): Json[] {
    this.send(
      port,
      msg("HandshakeRequest", nodeInfo(id, network, metadata), { sequence_number: 1 }),
    );
    return this.out().filter((o) => o.port === port).map((o) => o.m);
  }
  ackAll(port: number, messages: Json[]): void {
    for (const m of messages) {
      if (m.requires_ack) this.send(port, msg("Ack", null, { ack_for: m.id }));
    }
  }
}

const payload = (m: Json) => m.payload as Json;

Deno.test("handshake gets HandshakeResponse then a DiscoveryResponse without the newcomer", () => {
  const h = new Harness({ networkId: "lan" });
  const first = h.handshake(4001, "a");
  assert.deepEqual(first.map((m) => m.message_type), ["HandshakeResponse", "DiscoveryResponse"]);
  const response = payload(first[0]!);
  assert.equal(response.success, true);
  assert.equal(response.error_message, null);
  assert.equal(response.public_addr, "10.0.0.1:4001");
  assert.equal((response.node_info as Json).network_id, "lan");
  assert.equal(typeof response.token, "string");
  assert.deepEqual(first[1]!.payload, []);
  assert.equal(first[0]!.requires_ack, true);

  h.ackAll(4001, first);
  const second = h.handshake(4002, "b");
  assert.deepEqual(second[1]!.payload, [{
    id: "a",
    addr: "10.0.0.1:4001",
    last_seen: Math.floor(h.now / 1000),
    capabilities: ["chat"],
  }]);
  // The others get the new list once, after the 300 ms debounce.
  h.advance(299);
  assert.deepEqual(h.out().filter((o) => o.m.message_type === "DiscoveryResponse"), []);
  h.advance(1);
  const updates = h.out().filter((o) => o.m.message_type === "DiscoveryResponse");
  assert.deepEqual(updates.map((o) => o.port), [4001]);
  assert.deepEqual((updates[0]!.m.payload as Json[]).map((e) => e.id), ["b"]);
  assert.equal(h.core.stats(h.now).nodes, 2);
  assert.deepEqual(h.core.networks(), [{ networkId: "lan", nodes: 2 }]);
});

Deno.test("retransmits at 500 ms, 1 s, 2 s until an Ack, then gives up", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  h.handshake(4002, "b");
  h.advance(300); // the debounced list update to "a"
  const update = h.out().find((o) => o.port === 4001)!.m;
  assert.equal(update.message_type, "DiscoveryResponse");
  assert.equal(update.requires_ack, true);
  const times: number[] = [];
  const start = h.now;
  for (let i = 0; i < 40; i++) {
    h.advance(250);
    for (const o of h.out()) if (o.m.id === update.id) times.push(h.now - start);
  }
  assert.deepEqual(times, [500, 1500, 3500]);
  const stats = h.core.stats(h.now);
  assert.ok(stats.unacked >= 1);
  assert.equal(stats.pending, 0);
});

Deno.test("an unproven address gets no retransmission beyond 3x; its repeated request does", () => {
  const h = new Harness();
  const request = msg("HandshakeRequest", nodeInfo("a"), { sequence_number: 1 });
  h.send(4001, request);
  const [response] = h.out().map((o) => o.m);
  h.advance(10_000);
  assert.deepEqual(h.out().filter((o) => o.m.id === response!.id), []);
  // The client did not get it and asks again (same id): the pending response goes again.
  h.send(4001, msg("HandshakeRequest", nodeInfo("a"), { sequence_number: 1, id: uuid() }));
  assert.equal(h.out()[0]!.m.message_type, "HandshakeResponse");
});

Deno.test("an Ack by id or by sequence number stops the retransmissions", () => {
  const h = new Harness();
  const [response, list] = h.handshake(4001, "a");
  h.send(4001, msg("Ack", null, { ack_for: response!.id }));
  h.send(4001, msg("Ack", null, { ack_for: String(list!.sequence_number) }));
  h.advance(10_000);
  const resent = h.out().filter((o) => o.m.message_type !== "Ping");
  assert.deepEqual(resent, []);
  assert.equal(h.core.stats(h.now).acked, 2);
  // An Ack from another address does not count.
  const [r2] = h.handshake(4002, "b");
  h.send(4003, msg("Ack", null, { ack_for: r2!.id }));
  assert.equal(h.core.stats(h.now).drops["ack-unknown"], 1);
});

Deno.test("Retransmit resends a pending message at once", () => {
  const h = new Harness();
  const [response] = h.handshake(4001, "a");
  h.send(4001, msg("Retransmit", { id: response!.id }));
  assert.deepEqual(h.out().map((o) => o.m.id), [response!.id]);
  h.send(4001, msg("Retransmit", { sequence_number: response!.sequence_number }));
  assert.deepEqual(h.out().map((o) => o.m.id), [response!.id]);
});

Deno.test("duplicates by id or by sender and sequence number are handled once and ACKed again", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  h.out();
  const data = msg("Data", { n: 1 }, { requires_ack: true, sequence_number: 2 });
  h.send(4001, data);
  const first = h.out().map((o) => o.m.message_type);
  assert.deepEqual(first, ["Ack", "Data"]);
  h.send(4001, data); // same id
  h.send(4001, { ...data, id: uuid() }); // same sender + sequence number
  const again = h.out();
  assert.deepEqual(again.map((o) => o.m.message_type), ["Ack", "Data", "Ack", "Data"]);
  assert.equal(again[0]!.m.ack_for, data.id);
  assert.equal(h.core.stats(h.now).duplicates, 2);
  assert.equal(h.core.stats(h.now).messagesIn.Data, 3);
});

Deno.test("an id bound to an address moves only with its token", () => {
  const h = new Harness();
  const [response] = h.handshake(4001, "a");
  const token = payload(response!).token as string;
  // A stranger claiming "a" from another address is refused.
  const refused = h.handshake(5000, "a");
  assert.equal(refused[0]!.message_type, "Error");
  assert.equal(payload(refused[0]!).code, "id-in-use");
  assert.equal(h.core.network("lan")![0]!.addr, "10.0.0.1:4001");
  // A wrong token is refused too.
  assert.equal(h.handshake(5000, "a", "lan", { olaf_token: "nope" })[0]!.message_type, "Error");
  // The owner, from its new address, with its token: rebound.
  const moved = h.handshake(4002, "a", "lan", { olaf_token: token });
  assert.equal(moved[0]!.message_type, "HandshakeResponse");
  assert.equal(payload(moved[0]!).public_addr, "10.0.0.1:4002");
  assert.equal(payload(moved[0]!).token, token);
  assert.equal(h.core.network("lan")![0]!.addr, "10.0.0.1:4002");
  const stats = h.core.stats(h.now);
  assert.equal(stats.takeoversRefused, 2);
  assert.equal(stats.rebinds, 1);
  // The token never shows in lists.
  h.handshake(4003, "b");
  h.send(4003, msg("ListNodesRequest", null));
  const list = h.out().find((o) => o.m.message_type === "ListNodesResponse")!;
  assert.deepEqual(((list.m.payload as Json).nodes as Json[])[0]!.metadata, {});
});

Deno.test("an expired binding may be taken by anyone", () => {
  const h = new Harness({ connectionTimeoutMs: 60_000 });
  h.handshake(4001, "a");
  h.now += 61_000;
  assert.equal(h.handshake(4002, "a")[0]!.message_type, "HandshakeResponse");
});

Deno.test("network mismatch and max connections get an Error", () => {
  const h = new Harness({ networkId: "lan", maxConnections: 2 });
  const wrong = h.handshake(4001, "a", "other");
  assert.equal(payload(wrong[0]!).code, "network-mismatch");
  h.handshake(4002, "b");
  h.handshake(4003, "c");
  assert.equal(payload(h.handshake(4004, "d")[0]!).code, "server-full");
  const stats = h.core.stats(h.now);
  assert.equal(stats.drops["network-mismatch"], 1);
  assert.equal(stats.drops["max-connections"], 1);
  assert.equal(stats.nodes, 2);
});

Deno.test("malformed and oversized datagrams are counted, never answered", () => {
  const h = new Harness({ maxDatagramBytes: 1000 });
  h.send(4001, "{not json");
  h.send(4001, "{" + " ".repeat(2000) + "}");
  h.send(4001, JSON.stringify({ ...msg("Ping", null), id: "not-a-uuid" }));
  h.send(4001, JSON.stringify({ ...msg("Nope", null) }));
  h.send(4001, JSON.stringify({ ...msg("Ping", null), sequence_number: -1 }));
  h.send(4001, "[1,2]");
  assert.deepEqual(h.out(), []);
  assert.deepEqual(h.core.stats(h.now).drops, {
    "malformed-json": 1,
    oversized: 1,
    "invalid-id": 1,
    "invalid-type": 1,
    "invalid-sequence-number": 1,
    "not-an-object": 1,
  });
});

Deno.test("list requests need a handshake; replies to strangers stay under 3x", () => {
  const h = new Harness();
  const request = msg("DiscoveryRequest", null);
  h.send(4001, request);
  const out = h.out();
  assert.equal(payload(out[0]!.m).code, "not-handshaken");
  // A spoofed handshake: many nodes exist, but the reply to the unproven address fits 3x.
  for (let i = 0; i < 40; i++) h.ackAll(6000 + i, h.handshake(6000 + i, `node-${i}`));
  h.advance(1000);
  h.out();
  const spoofed = msg("HandshakeRequest", nodeInfo("victim"));
  const size = enc.encode(JSON.stringify(spoofed)).length;
  h.send(7000, spoofed);
  const replies = h.out().filter((o) => o.port === 7000);
  const sent = replies.reduce((n, o) => n + enc.encode(JSON.stringify(o.m)).length, 0);
  assert.ok(sent <= 3 * size, `${sent} > 3 x ${size}`);
  const list = replies.find((o) => o.m.message_type === "DiscoveryResponse");
  assert.ok(!list || (list.m.payload as Json[]).length < 40);
  // Once the address proves itself (it acknowledges the response), it gets the full list.
  const response = replies.find((o) => o.m.message_type === "HandshakeResponse")!;
  h.send(7000, msg("Ack", null, { ack_for: response.m.id }));
  const full = h.out().filter((o) => o.port === 7000 && o.m.message_type === "DiscoveryResponse");
  assert.equal((full[0]!.m.payload as Json[]).length, 40);

  // Another spoofed handshake: no retransmission goes past its budget either.
  const other = msg("HandshakeRequest", nodeInfo("victim-2"));
  const otherSize = enc.encode(JSON.stringify(other)).length;
  h.send(7001, other);
  h.advance(10_000);
  const total = h.out().filter((o) => o.port === 7001)
    .reduce((n, o) => n + enc.encode(JSON.stringify(o.m)).length, 0);
  assert.ok(total <= 3 * otherSize, `${total} > 3 x ${otherSize}`);
});

Deno.test("ping, data echo, list nodes and disconnect", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  h.ackAll(4002, h.handshake(4002, "b"));
  h.advance(400);
  h.ackAll(4001, h.out().filter((o) => o.port === 4001).map((o) => o.m));
  h.send(4001, msg("Ping", null));
  assert.equal(h.out()[0]!.m.message_type, "Pong");
  h.send(4001, msg("Data", { hello: "world" }));
  const echo = h.out()[0]!.m;
  assert.equal(echo.message_type, "Data");
  assert.deepEqual(payload(echo).echo, { hello: "world" });
  assert.equal(typeof payload(echo).timestamp, "number");
  h.send(4001, msg("ListNodesRequest", null));
  const nodes = payload(h.out()[0]!.m).nodes as Json[];
  assert.deepEqual(nodes.map((n) => [n.id, n.listen_addr]), [["b", "10.0.0.1:4002"]]);
  h.send(4002, msg("Disconnect", { reason: "bye" }));
  h.advance(300);
  const update = h.out().find((o) => o.port === 4001 && o.m.message_type === "DiscoveryResponse");
  assert.deepEqual(update!.m.payload, []);
  assert.equal(h.core.stats(h.now).nodes, 1);
});

Deno.test("heartbeat pings idle nodes; silent ones expire", () => {
  const h = new Harness({ heartbeatIntervalMs: 30_000, connectionTimeoutMs: 60_000 });
  h.ackAll(4001, h.handshake(4001, "a"));
  h.advance(30_000);
  assert.ok(h.out().some((o) => o.m.message_type === "Ping"));
  h.advance(60_000);
  assert.equal(h.core.stats(h.now).nodes, 0);
  assert.deepEqual(h.core.networks(), []);
});

Deno.test("P2PConnect introduces both sides within one network", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  h.ackAll(4002, h.handshake(4002, "b"));
  h.ackAll(4003, h.handshake(4003, "c", "elsewhere"));
  h.out();
  h.send(4001, msg("P2PConnect", { peer_id: "b" }));
  const intros = h.out();
  assert.deepEqual(intros.map((o) => [o.port, payload(o.m).peer_id, payload(o.m).peer_addr]), [
    [4001, "b", "10.0.0.1:4002"],
    [4002, "a", "10.0.0.1:4001"],
  ]);
  h.send(4001, msg("P2PConnect", { peer_id: "c" }));
  assert.equal(payload(h.out()[0]!.m).code, "unknown-peer");
  assert.equal(h.core.stats(h.now).introductions, 1);
});

Deno.test("relay: off by default; when on, limited by size, rate and network", () => {
  const off = new Harness();
  off.handshake(4001, "a");
  off.handshake(4002, "b");
  off.out();
  off.send(4001, msg("RelayRequest", { target_peer_id: "b", data: [1, 2, 3] }));
  const refused = off.out()[0]!.m;
  assert.equal(refused.message_type, "RelayResponse");
  assert.equal(payload(refused).success, false);

  const h = new Harness({ relay: true, maxRelayBytes: 100, relayBytesPerSecond: 100 });
  h.ackAll(4001, h.handshake(4001, "a"));
  h.ackAll(4002, h.handshake(4002, "b"));
  h.ackAll(4003, h.handshake(4003, "c", "elsewhere"));
  h.out();
  h.send(4001, msg("RelayRequest", { target_peer_id: "b", data: [104, 105] }));
  const relayed = h.out();
  const data = relayed.find((o) => o.m.message_type === "RelayData")!;
  assert.equal(data.port, 4002);
  assert.deepEqual(data.m.payload, { from_peer_id: "a", data: [104, 105] });
  assert.equal(payload(relayed.find((o) => o.m.message_type === "RelayResponse")!.m).success, true);
  h.send(4001, msg("RelayRequest", { target_peer_id: "b", data: new Array(101).fill(0) }));
  h.send(4001, msg("RelayRequest", { target_peer_id: "c", data: [1] }));
  for (let i = 0; i < 3; i++) {
    h.send(4001, msg("RelayRequest", { target_peer_id: "b", data: new Array(90).fill(1) }));
  }
  const drops = h.core.stats(h.now).drops;
  assert.equal(drops["relay-too-large"], 1);
  assert.equal(drops["unknown-peer"], 1);
  assert.equal(drops["relay-rate-limited"], 1);
  assert.equal(h.core.stats(h.now).relayed, 3);
});

Deno.test("STUN Binding only when enabled", () => {
  const request = new Uint8Array(20);
  request.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
  request.fill(9, 8);
  const off = new HandshakeCore();
  assert.equal(off.handleStun(request, { hostname: "10.0.0.1", port: 5 }), undefined);
  const on = new HandshakeCore({ stun: true });
  const reply = on.handleStun(request, { hostname: "10.0.0.1", port: 5 })!;
  assert.equal(reply[0], 0x01);
  assert.equal(reply[1], 0x01);
  assert.equal(on.handleStun(new Uint8Array(7), { hostname: "10.0.0.1", port: 5 }), undefined);
  assert.equal(on.stats(0).stunResponses, 1);
  assert.equal(on.stats(0).drops["stun-malformed"], 1);
});

Deno.test("a restarted client counting from 1 again is not taken for a repeat", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  h.send(4001, msg("Data", { n: 1 }, { sequence_number: 2 }));
  assert.equal(h.out().filter((o) => o.m.message_type === "Data").length, 1);
  // Same address, new handshake (new message id, sequence numbers from 1 again).
  h.ackAll(4001, h.handshake(4001, "a"));
  h.send(4001, msg("Data", { n: 2 }, { sequence_number: 2 }));
  const echo = h.out().filter((o) => o.m.message_type === "Data");
  assert.deepEqual(echo.map((o) => payload(o.m).echo), [{ n: 2 }]);
  assert.equal(h.core.stats(h.now).duplicates, 0);
});

Deno.test("a copy of a message from another address is not answered with the original's replies", () => {
  const h = new Harness();
  h.ackAll(4001, h.handshake(4001, "a"));
  const request = msg("HandshakeRequest", nodeInfo("b"));
  h.send(4002, request);
  const token = payload(h.out().find((o) => o.m.message_type === "HandshakeResponse")!.m).token;
  h.send(4003, request); // replayed from elsewhere: a takeover attempt, refused, no token
  const replies = h.out().filter((o) => o.port === 4003);
  assert.deepEqual(replies.map((o) => payload(o.m).code), ["id-in-use"]);
  assert.ok(!JSON.stringify(replies).includes(token as string));
});

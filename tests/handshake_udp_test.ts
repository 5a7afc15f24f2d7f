// The JSON handshake dialect over real UDP on loopback, spoken by a client
// written here (its own JSON building and parsing, nothing from the server's
// handshake module), exactly as the handshake-server seed defines it.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { serveControl } from "@olaf/control";
import { decode, encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket, type NetAddress } from "@olaf/protocol/net";
import { eventually } from "@olaf/protocol/testing";

type Json = Record<string, unknown>;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A seed-style client: one JSON object per datagram. */
class JsonClient implements AsyncDisposable {
  readonly inbox: Json[] = [];
  /** Incoming datagrams for which this returns true are dropped (simulated loss). */
  drop: (m: Json) => boolean = () => false;
  /** Acknowledge every message that asks for it. */
  autoAck = true;
  seq = 0;
  private constructor(readonly socket: DatagramSocket, readonly server: NetAddress) {}

  static async open(server: NetAddress): Promise<JsonClient> {
    const box: { client?: JsonClient } = {};
    const socket = await bindDatagram({
      hostname: "127.0.0.1",
      onDatagram: (data) => box.client?.receive(data),
    });
    box.client = new JsonClient(socket, server);
    return box.client;
  }

  receive(data: Uint8Array): void {
    const m = JSON.parse(dec.decode(data)) as Json;
    if (this.drop(m)) return;
    this.inbox.push(m);
    if (this.autoAck && m.requires_ack === true) {
      this.send("Ack", null, { ack_for: m.id });
    }
  }

  send(type: string, payload: unknown, extra: Json = {}): Json {
    const message = {
      id: crypto.randomUUID(),
      message_type: type,
      timestamp: Math.floor(Date.now() / 1000),
      payload,
      sender_addr: `127.0.0.1:${this.socket.localAddress.port}`,
      sequence_number: ++this.seq,
      requires_ack: false,
      ack_for: null,
      ...extra,
    };
    this.raw(enc.encode(JSON.stringify(message)));
    return message;
  }

  raw(data: Uint8Array): void {
    this.socket.send(data, this.server);
  }

  /** Waits (bounded) for a message matching `match`, removes and returns it. */
  async next(match: (m: Json) => boolean, what = "a message"): Promise<Json> {
    for (let i = 0; i < 500; i++) {
      const index = this.inbox.findIndex(match);
      if (index >= 0) return this.inbox.splice(index, 1)[0]!;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${what} within 5 s; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`);
  }

  type(type: string): Promise<Json> {
    return this.next((m) => m.message_type === type, type);
  }

  handshake(id: string, network = "lan", metadata: Json = {}): Json {
    return this.send("HandshakeRequest", {
      id,
      name: `node ${id}`,
      version: "0.1.0",
      listen_addr: `0.0.0.0:${this.socket.localAddress.port}`,
      capabilities: ["chat"],
      metadata,
      network_id: network,
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.socket.close();
  }
}

const p = (m: Json) => m.payload as Json;

function until(check: () => boolean, what: string): Promise<void> {
  return eventually(check, { what, timeoutMs: 5000 });
}

Deno.test("handshake dialect on the bootstrap port: handshake, discovery, list, ping, echo, disconnect", async () => {
  await using server = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    handshake: { networkId: "lan" },
  });
  await using a = await JsonClient.open(server.localAddress);
  await using b = await JsonClient.open(server.localAddress);

  a.handshake("node-a");
  const response = await a.type("HandshakeResponse");
  assert.equal(p(response).success, true);
  assert.equal(p(response).error_message, null);
  assert.equal(p(response).public_addr, `127.0.0.1:${a.socket.localAddress.port}`);
  assert.equal((p(response).node_info as Json).network_id, "lan");
  assert.deepEqual((await a.type("DiscoveryResponse")).payload, []);

  b.handshake("node-b");
  await b.type("HandshakeResponse");
  const listForB = (await b.type("DiscoveryResponse")).payload as Json[];
  assert.deepEqual(listForB.map((e) => [e.id, e.addr]), [
    ["node-a", `127.0.0.1:${a.socket.localAddress.port}`],
  ]);
  // A hears about B after the debounce.
  const update = await a.type("DiscoveryResponse");
  assert.deepEqual((update.payload as Json[]).map((e) => e.id), ["node-b"]);

  a.send("ListNodesRequest", null);
  const nodes = p(await a.type("ListNodesResponse")).nodes as Json[];
  assert.deepEqual(nodes.map((n) => [n.id, n.name, n.listen_addr]), [
    ["node-b", "node node-b", `127.0.0.1:${b.socket.localAddress.port}`],
  ]);

  a.send("Ping", null);
  await a.type("Pong");
  a.send("Data", { text: "hello" });
  const echo = await a.type("Data");
  assert.deepEqual(p(echo).echo, { text: "hello" });
  assert.equal(typeof p(echo).timestamp, "number");

  b.send("Disconnect", { reason: "done" });
  const after = await a.next(
    (m) => m.message_type === "DiscoveryResponse" && (m.payload as Json[]).length === 0,
    "the list without B",
  );
  assert.deepEqual(after.payload, []);
  assert.equal(server.handshake!.stats().nodes, 1);

  // The v1 bootstrap still answers on the same port.
  await using v1 = await bindDatagram({ hostname: "127.0.0.1" });
  v1.send(encode({ type: "JOIN_B", peers: [], room: "lobby" }), server.localAddress);
  for await (const { data } of v1) {
    assert.equal(decode(data).type, "BOOTSTRAP_R");
    break;
  }
});

Deno.test("handshake dialect: ack and retransmit under loss, duplicates ACKed again", async () => {
  await using server = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    handshake: { port: 0 },
  });
  const address = server.handshake!.localAddress!;
  await using a = await JsonClient.open(address);
  await using b = await JsonClient.open(address);
  a.handshake("node-a");
  await a.type("HandshakeResponse"); // auto-acked: A's address is proven
  await a.type("DiscoveryResponse");

  // Lose the first copy of the next list update; the server sends it again with the same id.
  const lost: Json[] = [];
  a.drop = (m) => {
    if (m.message_type !== "DiscoveryResponse" || lost.length > 0) return false;
    lost.push(m);
    return true;
  };
  b.handshake("node-b");
  await until(() => lost.length === 1, "the first update");
  const again = await a.type("DiscoveryResponse");
  assert.equal(again.id, lost[0]!.id);
  await until(() => server.handshake!.stats().acked >= 3, "the Ack of the repeat");
  assert.ok(server.handshake!.stats().retransmits >= 1);

  // A request that asks for an Ack, sent twice (lost Ack): handled once, ACKed twice.
  const ping = a.send("Ping", null, { requires_ack: true });
  a.raw(enc.encode(JSON.stringify(ping)));
  const acks = [await a.type("Ack"), await a.type("Ack")];
  assert.deepEqual(acks.map((m) => m.ack_for), [ping.id, ping.id]);
  await a.type("Pong");
  await until(() => server.handshake!.stats().duplicates === 1, "the duplicate count");
  assert.equal(server.handshake!.stats().messagesIn.Ping, 2);

  // An Ack that names the sequence number (the seed README's reading) also counts.
  b.autoAck = false;
  const c = await JsonClient.open(address);
  try {
    c.handshake("node-c");
    await c.type("HandshakeResponse");
    const bUpdate = await b.next(
      (m) => m.message_type === "DiscoveryResponse" && (m.payload as Json[]).length === 2,
      "B's update",
    );
    const acked = server.handshake!.stats().acked;
    b.send("Ack", null, { ack_for: bUpdate.sequence_number });
    await until(() => server.handshake!.stats().acked === acked + 1, "the Ack by sequence number");
  } finally {
    await c[Symbol.asyncDispose]();
  }
});

Deno.test("handshake dialect: a bound id moves only with its token", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0, handshake: {} });
  await using owner = await JsonClient.open(server.localAddress);
  await using thief = await JsonClient.open(server.localAddress);
  owner.handshake("node-x", "lan");
  const token = p(await owner.type("HandshakeResponse")).token as string;
  assert.match(token, /^[0-9a-f]{32}$/);

  thief.handshake("node-x", "lan");
  const refused = await thief.type("Error");
  assert.equal(p(refused).code, "id-in-use");
  assert.equal(
    server.handshake!.network("lan")![0]!.addr,
    `127.0.0.1:${owner.socket.localAddress.port}`,
  );

  // The owner moves to a new socket (a new address) and proves it with the token.
  await using moved = await JsonClient.open(server.localAddress);
  moved.handshake("node-x", "lan", { olaf_token: token });
  const ok = await moved.type("HandshakeResponse");
  assert.equal(p(ok).public_addr, `127.0.0.1:${moved.socket.localAddress.port}`);
  assert.equal(
    server.handshake!.network("lan")![0]!.addr,
    `127.0.0.1:${moved.socket.localAddress.port}`,
  );
  const stats = server.handshake!.stats();
  assert.equal(stats.takeoversRefused, 1);
  assert.equal(stats.rebinds, 1);
});

Deno.test("handshake dialect: network mismatch, max connections, malformed and oversized input", async () => {
  await using server = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    handshake: { networkId: "lan", maxConnections: 2, maxDatagramBytes: 2048 },
  });
  const clients = await Promise.all([0, 1, 2, 3].map(() => JsonClient.open(server.localAddress)));
  try {
    const [wrong, one, two, three] = clients as [JsonClient, JsonClient, JsonClient, JsonClient];
    wrong.handshake("w", "other");
    assert.equal(p(await wrong.type("Error")).code, "network-mismatch");
    one.handshake("one");
    await one.type("HandshakeResponse");
    two.handshake("two");
    await two.type("HandshakeResponse");
    three.handshake("three");
    assert.equal(p(await three.type("Error")).code, "server-full");

    wrong.raw(enc.encode("{this is not json"));
    wrong.raw(enc.encode(`{"pad":"${"x".repeat(4000)}"}`));
    wrong.raw(enc.encode('{"id":"nope","message_type":"Ping","timestamp":0,"payload":null}'));
    wrong.raw(new Uint8Array([0x7b, 0xff, 0xfe]));
    // Still serving afterwards.
    wrong.send("Ping", null);
    await wrong.type("Pong");
    const drops = server.handshake!.stats().drops;
    assert.equal(drops["network-mismatch"], 1);
    assert.equal(drops["max-connections"], 1);
    assert.equal(drops["malformed-json"], 2);
    assert.equal(drops.oversized, 1);
    assert.equal(drops["invalid-id"], 1);
    assert.equal(server.stats().drops["unknown-type"], undefined, "none reached the v1 core");
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});

Deno.test("handshake dialect: P2PConnect, and relay off, on and limited", async () => {
  for (const relay of [false, true]) {
    await using server = await startBootstrap({
      hostname: "127.0.0.1",
      port: 0,
      handshake: { port: 0, relay, maxRelayBytes: 64, relayBytesPerSecond: 100 },
    });
    const address = server.handshake!.localAddress!;
    await using a = await JsonClient.open(address);
    await using b = await JsonClient.open(address);
    await using other = await JsonClient.open(address);
    for (const [c, id, net] of [[a, "a", "lan"], [b, "b", "lan"], [other, "o", "wan"]] as const) {
      c.handshake(id, net);
      await c.type("HandshakeResponse");
    }
    a.send("P2PConnect", { peer_id: "b" });
    assert.equal(
      p(await a.type("P2PConnect")).peer_addr,
      `127.0.0.1:${b.socket.localAddress.port}`,
    );
    assert.equal(p(await b.type("P2PConnect")).peer_id, "a");

    a.send("RelayRequest", { target_peer_id: "b", data: [104, 105] });
    const answer = await a.type("RelayResponse");
    assert.equal(p(answer).success, relay);
    if (!relay) {
      assert.equal(server.handshake!.stats().drops["relay-disabled"], 1);
      continue;
    }
    assert.deepEqual((await b.type("RelayData")).payload, { from_peer_id: "a", data: [104, 105] });
    a.send("RelayRequest", { target_peer_id: "b", data: new Array(65).fill(1) });
    assert.equal(p(await a.type("RelayResponse")).success, false);
    a.send("RelayRequest", { target_peer_id: "o", data: [1] });
    assert.equal(p(await a.type("RelayResponse")).success, false);
    for (let i = 0; i < 4; i++) {
      a.send("RelayRequest", { target_peer_id: "b", data: new Array(60).fill(2) });
    }
    await until(
      () => (server.handshake!.stats().drops["relay-rate-limited"] ?? 0) >= 1,
      "rate limit",
    );
    const drops = server.handshake!.stats().drops;
    assert.equal(drops["relay-too-large"], 1);
    assert.equal(drops["unknown-peer"], 1);
  }
});

Deno.test("handshake dialect: STUN Binding answered with XOR-MAPPED-ADDRESS", async () => {
  await using server = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    handshake: { stun: true, stunPort: 0 },
  });
  await using client = await bindDatagram({ hostname: "127.0.0.1" });
  // Hand-built Binding request: type 0x0001, length 0, magic cookie, transaction id.
  const tid = crypto.getRandomValues(new Uint8Array(12));
  const request = new Uint8Array(20);
  request.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
  request.set(tid, 8);
  client.send(request, server.handshake!.stunAddress!);
  for await (const { data } of client) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    assert.equal(view.getUint16(0), 0x0101);
    assert.equal(view.getUint32(4), 0x2112a442);
    assert.deepEqual(data.slice(8, 20), tid);
    assert.equal(view.getUint16(20), 0x0020); // XOR-MAPPED-ADDRESS first
    assert.equal(data[25], 0x01); // IPv4
    const port = view.getUint16(26) ^ 0x2112;
    const ip = [0, 1, 2, 3].map((i) => data[28 + i]! ^ [0x21, 0x12, 0xa4, 0x42][i]!).join(".");
    assert.equal(`${ip}:${port}`, `127.0.0.1:${client.localAddress.port}`);
    break;
  }
  assert.equal(server.handshake!.stats().stunResponses, 1);
});

Deno.test("control plane: /stats section, /handshake views and Prometheus counters", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0, handshake: {} });
  await using http = await serveControl({
    bootstrap: server,
    handshake: server.handshake,
    hostname: "127.0.0.1",
    port: 0,
  });
  await using a = await JsonClient.open(server.localAddress);
  a.handshake("node-a", "team");
  await a.type("HandshakeResponse");

  const stats = await (await fetch(new URL("/stats", http.url))).json();
  assert.equal(stats.handshake.nodes, 1);
  assert.equal(stats.handshake.messagesIn.HandshakeRequest, 1);
  const view = await (await fetch(new URL("/handshake", http.url))).json();
  assert.deepEqual(view.networks, [{ networkId: "team", nodes: 1 }]);
  const network = await (await fetch(new URL("/handshake/networks/team", http.url))).json();
  assert.equal(network.nodes[0].id, "node-a");
  assert.equal(network.nodes[0].addr, `127.0.0.1:${a.socket.localAddress.port}`);
  const missing = await fetch(new URL("/handshake/networks/nope", http.url));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const metrics = await (await fetch(new URL("/metrics", http.url))).text();
  assert.match(metrics, /^olaf_handshake_nodes 1$/m);
  assert.match(metrics, /^olaf_handshake_handshakes_total 1$/m);
  assert.match(metrics, /^olaf_handshake_messages_in_total\{type="HandshakeRequest"\} 1$/m);
});

Deno.test("without the dialect, a '{' datagram is still a v1 unknown type (unchanged)", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  assert.equal(server.handshake, undefined);
  await using client = await JsonClient.open(server.localAddress);
  client.send("Ping", null);
  await until(() => server.stats().drops["unknown-type"] === 1, "the unknown-type count");
});

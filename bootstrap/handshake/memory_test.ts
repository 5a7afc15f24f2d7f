// The handshake server on the in-memory network with 30% loss each way:
// reliable lists converge because the server retransmits, clients ACK, and a
// node whose list was given up on gets a fresh one when next heard from (here:
// its own Ping).
import assert from "node:assert/strict";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import type { DatagramSocket } from "@olaf/protocol/net";
import { startHandshakeServer } from "./server.ts";

type Json = Record<string, unknown>;

Deno.test("30% loss: every node ends up with the full list, via retransmission", async () => {
  const net = new MemoryNetwork({ seed: 7, delayMs: { min: 5, max: 20 }, loss: 0.3 });
  await using server = await startHandshakeServer({
    hostname: "10.0.0.1",
    port: 9000,
    bind: net.bind,
    clock: net.clock,
    heartbeatIntervalMs: 5_000,
  });
  const count = 8;
  const lists = new Map<string, string[]>();
  const newest = new Map<string, number>();
  const handshaken = new Set<string>();
  const sockets: DatagramSocket[] = [];
  const send = (socket: DatagramSocket, m: Json) =>
    socket.send(new TextEncoder().encode(JSON.stringify(m)), server.localAddress!);
  const envelope = (type: string, payload: unknown, extra: Json = {}) => ({
    id: crypto.randomUUID(),
    message_type: type,
    timestamp: 0,
    payload,
    sender_addr: null,
    sequence_number: null,
    requires_ack: false,
    ack_for: null,
    ...extra,
  });
  for (let i = 0; i < count; i++) {
    const id = `node-${i}`;
    const box: { socket?: DatagramSocket } = {};
    box.socket = await net.bind({
      hostname: `10.0.1.${i + 1}`,
      onDatagram: (data) => {
        const m = JSON.parse(new TextDecoder().decode(data)) as Json;
        if (m.requires_ack) send(box.socket!, envelope("Ack", null, { ack_for: m.id }));
        if (m.message_type === "Ping") send(box.socket!, envelope("Pong", null));
        if (m.message_type === "HandshakeResponse") handshaken.add(id);
        // Delays vary, so an old copy can arrive after a newer list: the highest sequence
        // number (the server counts per node) is the newest.
        const seq = m.sequence_number as number;
        if (m.message_type === "DiscoveryResponse" && seq > (newest.get(id) ?? 0)) {
          newest.set(id, seq);
          lists.set(id, (m.payload as Json[]).map((e) => e.id as string).sort());
        }
      },
    });
    sockets.push(box.socket);
  }
  const request = sockets.map((_, i) =>
    envelope("HandshakeRequest", {
      id: `node-${i}`,
      name: `n${i}`,
      version: "1",
      listen_addr: "",
      capabilities: [],
      metadata: {},
      network_id: "lan",
    })
  );
  // A client repeats its handshake (same message) until answered, as the seed's client would.
  for (let round = 0; round < 20 && handshaken.size < count; round++) {
    sockets.forEach((s, i) => handshaken.has(`node-${i}`) || send(s, request[i]!));
    await net.advance(1000);
  }
  assert.equal(handshaken.size, count);
  // Clients ping the server every 5 s, as a live client does.
  for (let t = 0; t < 12; t++) {
    for (const s of sockets) send(s, envelope("Ping", null));
    await net.advance(5_000);
  }
  const everyone = sockets.map((_, i) => `node-${i}`);
  for (const id of everyone) {
    assert.deepEqual(lists.get(id), everyone.filter((o) => o !== id).sort(), id);
  }
  const stats = server.stats();
  assert.ok(stats.retransmits > 0, "lost lists were retransmitted");
  assert.equal(stats.nodes, count);
  for (const s of sockets) await s.close();
});

import assert from "node:assert/strict";
import { encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket, type NetAddress } from "@olaf/protocol/net";
import { SecureEndpoint, type SecureEvent } from "./endpoint.ts";
import { generateIdentity } from "./identity.ts";
import { roomKeys } from "./room_keys.ts";
import { eventually } from "@olaf/protocol/testing";

const key = (a: NetAddress) => `${a.hostname}:${a.port}`;

async function node(secret: string) {
  const endpoint = new SecureEndpoint({
    identity: generateIdentity(),
    room: roomKeys("udp-room", secret),
    retryMs: 100,
  });
  const events: SecureEvent[] = [];
  const sock: DatagramSocket = await bindDatagram({
    hostname: "127.0.0.1",
    port: 0,
    onDatagram: (data, from) => {
      endpoint.handleDatagram(performance.now(), data, key(from));
      flush();
    },
  });
  const flush = () => {
    for (let t = endpoint.pollTransmit(); t; t = endpoint.pollTransmit()) {
      const [hostname, port] = t.to.split(":");
      sock.send(t.data, { hostname, port: Number(port) });
    }
    for (let e = endpoint.pollEvent(); e; e = endpoint.pollEvent()) events.push(e);
  };
  const timer = setInterval(() => {
    endpoint.handleTimeout(performance.now());
    flush();
  }, 20);
  return {
    endpoint,
    events,
    flush,
    address: key(sock.localAddress),
    async close() {
      clearInterval(timer);
      await sock.close();
    },
  };
}

function until(what: string, cond: () => boolean): Promise<void> {
  return eventually(cond, { what, timeoutMs: 5000 });
}

Deno.test("real UDP on loopback: handshake, sealed messages both ways, a wrong secret kept out", async () => {
  const a = await node("shared"), b = await node("shared"), c = await node("other");
  try {
    a.endpoint.connect(performance.now(), b.address);
    a.flush();
    await until("sessions", () => a.endpoint.peers.length === 1 && b.endpoint.peers.length === 1);
    const bKey = b.endpoint.identity.publicKey;
    const hello = encode({ type: "APP_R", peers: [], payload: new TextEncoder().encode("hi b") });
    assert.equal(a.endpoint.send(performance.now(), bKey, hello), "sent");
    a.flush();
    await until("message at b", () => b.events.some((e) => e.type === "message"));
    const m = b.events.find((e) => e.type === "message");
    assert.ok(m?.type === "message");
    assert.deepEqual(m.datagram, hello);
    assert.equal(m.address, a.address);
    const aKey = a.endpoint.identity.publicKey;
    assert.equal(b.endpoint.send(performance.now(), aKey, hello), "sent");
    b.flush();
    await until("message at a", () => a.events.some((e) => e.type === "message"));

    c.endpoint.connect(performance.now(), b.address);
    c.flush();
    await until("wrong-secret at b", () => b.events.some((e) => e.type === "wrong-secret"));
    await until("timeout at c", () => c.events.some((e) => e.type === "handshake-timeout"));
    assert.equal(b.endpoint.peers.length, 1);
    assert.equal(c.endpoint.peers.length, 0);
  } finally {
    await a.close();
    await b.close();
    await c.close();
  }
});

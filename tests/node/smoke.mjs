// Runs on Node (no Deno globals): the codec on the v1 vectors, then a peer over node:dgram that
// finds the bootstrap by name through node:dns (a stub DNS server here answers every A query with
// 127.0.0.1, so the name needs no network).
// Usage: node smoke.mjs BUNDLE.mjs VECTORS.json BOOTSTRAP_PORT ROOM
// Prints one JSON object per line; tests/other_runtimes_test.ts drives it.
import dgram from "node:dgram";
import dns from "node:dns/promises";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [bundlePath, vectorsPath, bootstrapPort, roomName] = process.argv.slice(2);
const olaf = await import(pathToFileURL(bundlePath).href);
const print = (event) => console.log(JSON.stringify(event));

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));

const { cases } = JSON.parse(readFileSync(vectorsPath, "utf8"));
const failures = [];
for (const c of cases) {
  const message = olaf.decode(unhex(c.hex));
  if (message.type !== c.type) failures.push(`${c.name}: decoded as ${message.type}`);
  const peers = message.peers.toArray().map((p) => [p.ip, p.port, p.id]);
  if (JSON.stringify(peers) !== JSON.stringify(c.peers)) failures.push(`${c.name}: peers`);
  if ("room" in message && message.room !== c.payload_utf8) failures.push(`${c.name}: room`);
  if ("payload" in message && hex(message.payload) !== c.payload_hex) {
    failures.push(`${c.name}: payload`);
  }
  if (hex(olaf.encode(message)) !== c.hex) failures.push(`${c.name}: re-encoded bytes differ`);
}
let reason;
try {
  olaf.decode(Uint8Array.from([3, 0, 0, 0, 0, 0, 9, 1, 2]));
} catch (error) {
  reason = error instanceof olaf.ProtocolError ? error.reason : String(error);
}
print({ event: "vectors", checked: cases.length, failures, malformedReason: reason });

print({ event: "udp", implementation: olaf.resolveUdpImplementation() });

const dnsStub = dgram.createSocket("udp4");
dnsStub.on("message", (query, from) => {
  const questionEnd = query.indexOf(0, 12) + 5; // the name, then its type and class
  const reply = Buffer.concat([
    query.subarray(0, 2), // id
    Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), // response, 1 question, 1 answer
    query.subarray(12, questionEnd),
    Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]), // A 127.0.0.1
  ]);
  dnsStub.send(reply, from.port, from.address);
});
await new Promise((resolve) => dnsStub.bind(0, "127.0.0.1", resolve));
dns.setServers([`127.0.0.1:${dnsStub.address().port}`]);
const bootstrap = `bootstrap.olaf.test:${bootstrapPort}`;
print({ event: "resolved", address: await olaf.resolveHostPort(bootstrap) });

const room = await olaf.joinRoom(roomName, { bootstraps: [bootstrap], hostname: "127.0.0.1" });
try {
  print({ event: "joined", self: room.self });
  for await (const message of room.messages()) {
    room.sendTo(message.from, `pong: ${message.text()}`);
    print({ event: "message", from: message.from, text: message.text() });
    break;
  }
} finally {
  await room.leave();
  dnsStub.close();
}
print({ event: "left" });

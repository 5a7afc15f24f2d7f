// HandshakeCore's cost per message, beside baselines measured in the same run:
// JSON.parse + JSON.stringify of the same datagram (the floor for any JSON
// dialect) and BootstrapCore handling a v1 JOIN_B. `deno bench -A bootstrap/handshake/`.
import { BootstrapCore } from "../bootstrap_core.ts";
import { encode } from "@olaf/protocol";
import { HandshakeCore } from "./core.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const ping = enc.encode(JSON.stringify({
  id: "6f1c3c0e-1d2b-4c8e-9a51-0f8b1f7a2c11",
  message_type: "Ping",
  timestamp: 1764633600,
  payload: null,
  sender_addr: null,
  sequence_number: null,
  requires_ack: false,
  ack_for: null,
}));

const core = new HandshakeCore({ maxDedupEntries: 1024 });
let port = 1;
const drain = (c: { pollTransmit(): unknown }) => {
  while (c.pollTransmit() !== undefined) { /* sent */ }
};

Deno.bench(
  "baseline: JSON.parse + JSON.stringify of a Ping",
  { group: "ping", baseline: true },
  () => {
    const m = JSON.parse(dec.decode(ping));
    enc.encode(JSON.stringify({ ...m, message_type: "Pong" }));
  },
);

Deno.bench(
  "HandshakeCore: Ping -> Pong (new id each time: dedup insert)",
  { group: "ping" },
  () => {
    // A fresh id per call, so every datagram is handled (no duplicate shortcut).
    const bytes = ping.slice();
    const n = (port = (port % 60000) + 1);
    bytes[1 + 6] = 0x30 + (n % 10); // vary one hex digit of the id
    core.handleDatagram(bytes, { hostname: "192.0.2.1", port: n }, Date.now());
    drain(core);
  },
);

const v1 = new BootstrapCore({
  maxRooms: 10,
  requestsPerSecond: Infinity,
  replyBytesPerSecond: Infinity,
});
const join = encode({ type: "JOIN_B", peers: [], room: "lobby" });
Deno.bench("BootstrapCore: v1 JOIN_B (for scale)", { group: "ping" }, () => {
  const n = (port = (port % 60000) + 1);
  v1.handleDatagram(join, { hostname: "192.0.2.1", port: n }, Date.now());
  drain(v1);
});

/**
 * Codec throughput: `deno bench protocol/codec_bench.ts`.
 *
 * The baseline in each decode group is a plain decoder that builds one object
 * (with an IPv4 string) per peer record, the obvious implementation; the ratio
 * deno bench prints is Olaf's lazy decoder against it. Target: at least 4
 * million decodes per second for the 10-peer `BOOTSTRAP_R`.
 */
import { decode, encode, formatIPv4, PeerList, type PeerRecord } from "./mod.ts";

const tenPeers: PeerRecord[] = Array.from({ length: 10 }, (_, i) => ({
  ip: `192.0.2.${i + 1}`,
  port: 40000 + i,
  id: 1763700000 + i,
}));
const reply = encode({ type: "BOOTSTRAP_R", peers: tenPeers, self: tenPeers[3]! });
const tenPeerList = PeerList.from(tenPeers);
const kib = new Uint8Array(1024).map((_, i) => i & 255);
const app = encode({ type: "APP_R", peers: [], payload: kib });

/** The obvious decoder: one object per record, addresses as strings. */
function eagerDecodeReply(data: Uint8Array) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint16(1);
  const read = (o: number) => ({
    ip: formatIPv4(view.getUint32(o)),
    port: view.getUint16(o + 4),
    id: view.getUint32(o + 6),
  });
  const peers = [];
  for (let i = 0; i < count; i++) peers.push(read(3 + i * 10));
  return { type: data[0], peers, self: read(3 + count * 10) };
}

let sink = 0;

Deno.bench("eager object-per-record decoder (baseline)", {
  group: "decode BOOTSTRAP_R, 10 peers",
  baseline: true,
}, () => {
  sink += eagerDecodeReply(reply).peers.length;
});

Deno.bench("olaf decode", { group: "decode BOOTSTRAP_R, 10 peers" }, () => {
  sink += decode(reply).peers.length;
});

Deno.bench("olaf decode + read every numeric field", {
  group: "decode BOOTSTRAP_R, 10 peers",
}, () => {
  const { peers } = decode(reply);
  for (let i = 0; i < peers.length; i++) sink += peers.portAt(i) + peers.idAt(i) + peers.ipv4At(i);
});

Deno.bench("olaf decode + toArray()", { group: "decode BOOTSTRAP_R, 10 peers" }, () => {
  sink += decode(reply).peers.toArray().length;
});

Deno.bench("olaf encode from records", { group: "encode BOOTSTRAP_R, 10 peers" }, () => {
  sink += encode({ type: "BOOTSTRAP_R", peers: tenPeers, self: tenPeers[3]! }).length;
});

Deno.bench("olaf encode from a PeerList", { group: "encode BOOTSTRAP_R, 10 peers" }, () => {
  sink += encode({ type: "BOOTSTRAP_R", peers: tenPeerList, self: tenPeers[3]! }).length;
});

Deno.bench("olaf decode", { group: "APP_R, 1 KiB payload" }, () => {
  sink += decode(app).type.length;
});

Deno.bench("olaf encode", { group: "APP_R, 1 KiB payload" }, () => {
  sink += encode({ type: "APP_R", peers: [], payload: kib }).length;
});

addEventListener("unload", () => {
  if (sink === 42) console.log(""); // keeps the results observable to the optimiser
});

const asciiJoin = encode({ type: "JOIN_B", peers: [], room: "game-lobby-42" });
const utf8Join = encode({ type: "JOIN_B", peers: [], room: "sala-ñandú-🎮" });

Deno.bench("ASCII room name", { group: "decode JOIN_B" }, () => {
  sink += decode(asciiJoin).type.length;
});

Deno.bench("UTF-8 room name", { group: "decode JOIN_B", baseline: true }, () => {
  sink += decode(utf8Join).type.length;
});

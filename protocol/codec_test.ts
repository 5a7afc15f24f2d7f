import assert from "node:assert/strict";
import {
  decode,
  encode,
  encodeInto,
  type MessageInit,
  MessageType,
  PeerList,
  ProtocolError,
} from "./mod.ts";

interface VectorCase {
  name: string;
  type: keyof typeof MessageType;
  code: number;
  peers: [string, number, number][];
  self?: [string, number, number];
  payload_hex?: string;
  payload_utf8?: string;
  hex: string;
}

const vectors: { cases: VectorCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/vectors-v1.json", import.meta.url)),
);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
function unhex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}
const record = ([ip, port, id]: [string, number, number]) => ({ ip, port, id });

Deno.test("every v1 vector decodes to its fields", () => {
  assert.ok(vectors.cases.length >= 17);
  for (const c of vectors.cases) {
    const message = decode(unhex(c.hex));
    assert.equal(message.type as string, c.type, c.name);
    assert.equal(MessageType[c.type], c.code, c.name);
    assert.deepEqual(message.peers.toArray(), c.peers.map(record), c.name);
    switch (message.type) {
      case "BOOTSTRAP_R":
        assert.deepEqual(message.self, record(c.self!), c.name);
        break;
      case "JOIN_B":
      case "PEER_COLLECTOR":
        assert.equal(message.room, c.payload_utf8, c.name);
        break;
      case "EXTENSION":
        assert.fail(`${c.name} decoded as an extension`);
        break;
      default:
        assert.equal(hex(message.payload), c.payload_hex, c.name);
    }
  }
});

function initFromVector(c: VectorCase): MessageInit {
  const peers = c.peers.map(record);
  switch (c.type) {
    case "BOOTSTRAP_R":
      return { type: c.type, peers, self: record(c.self!) };
    case "JOIN_B":
    case "PEER_COLLECTOR":
      return { type: c.type, peers, room: c.payload_utf8! };
    default:
      return { type: c.type, peers, payload: unhex(c.payload_hex!) };
  }
}

Deno.test("every v1 vector re-encodes to its exact bytes, from records and from a decoded list", () => {
  for (const c of vectors.cases) {
    assert.equal(hex(encode(initFromVector(c))), c.hex, c.name);
    assert.equal(hex(encode(decode(unhex(c.hex)))), c.hex, `${c.name} (decoded)`);
  }
});

Deno.test("payloads and peers are views of the datagram, not copies", () => {
  const bytes = unhex(vectors.cases.find((c) => c.name === "app text")!.hex);
  const message = decode(bytes);
  assert.equal(message.type, "APP_R");
  if (message.type !== "APP_R") return;
  assert.equal(message.payload.buffer, bytes.buffer);
  assert.equal(message.peers.bytes().buffer, bytes.buffer);
});

const malformed: [string, number[], string][] = [
  ["empty", [], "truncated-header"],
  ["two bytes", [1, 0], "truncated-header"],
  ["peer count past the end", [0, 0, 2, 1, 2, 3, 4, 0, 5, 0, 0, 0, 1], "peer-block-overflow"],
  ["no payload length", [0, 0, 0, 0, 0], "truncated-payload"],
  ["payload length past the end", [3, 0, 0, 0, 0, 0, 9, 1, 2], "payload-length-overflow"],
  ["trailing bytes", [4, 0, 0, 0, 0, 0, 0, 99], "trailing-bytes"],
  ["reply without self", [2, 0, 0, 1, 2, 3], "truncated-payload"],
  ["reply with trailing bytes", [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], "trailing-bytes"],
  ["room not utf-8", [1, 0, 0, 0, 0, 0, 2, 0xc3, 0x28], "room-not-utf8"],
];

Deno.test("malformed datagrams throw ProtocolError with a machine-readable reason", () => {
  for (const [name, bytes, reason] of malformed) {
    assert.throws(
      () => decode(Uint8Array.from(bytes)),
      (e: unknown) => e instanceof ProtocolError && e.reason === reason,
      name,
    );
  }
});

Deno.test("decode limits are options with safe defaults", () => {
  const long = encode({ type: "JOIN_B", peers: [], room: "x".repeat(1001) });
  assert.throws(
    () => decode(long),
    (e: unknown) => e instanceof ProtocolError && e.reason === "room-too-long",
  );
  assert.equal(decode(long, { maxRoomBytes: 2000 }).type, "JOIN_B");
  const peers = Array.from({ length: 20 }, (_, i) => ({ ip: "10.0.0.1", port: i, id: i }));
  const ping = encode({ type: "PING", peers, payload: new Uint8Array() });
  assert.throws(
    () => decode(ping, { maxPeers: 19 }),
    (e: unknown) => e instanceof ProtocolError && e.reason === "too-many-peers",
  );
  assert.throws(
    () => decode(ping, { maxDatagramBytes: 100 }),
    (e: unknown) => e instanceof ProtocolError && e.reason === "datagram-too-large",
  );
});
const app = encode({ type: "APP_R", peers: [], payload: new Uint8Array(600) });
assert.throws(
  () => decode(app, { maxPayloadBytes: 599 }),
  (e: unknown) => e instanceof ProtocolError && e.reason === "payload-too-large",
);
assert.equal(decode(app, { maxPayloadBytes: 600 }).type, "APP_R");
// Room names are bounded by maxRoomBytes, not by the payload limit.
const join = encode({ type: "JOIN_B", peers: [], room: "lobby" });
assert.equal(decode(join, { maxPayloadBytes: 1 }).type, "JOIN_B");

Deno.test("encoding refuses fields that do not fit the wire", () => {
  const cases: [MessageInit, string][] = [
    [
      { type: "PING", peers: [{ ip: "1.2.3", port: 1, id: 1 }], payload: new Uint8Array() },
      "invalid-ipv4",
    ],
    [
      { type: "PING", peers: [{ ip: "01.2.3.4", port: 1, id: 1 }], payload: new Uint8Array() },
      "invalid-ipv4",
    ],
    [
      { type: "PING", peers: [{ ip: "256.2.3.4", port: 1, id: 1 }], payload: new Uint8Array() },
      "invalid-ipv4",
    ],
    [
      { type: "PING", peers: [{ ip: "1.2.3.4", port: 65536, id: 1 }], payload: new Uint8Array() },
      "port-out-of-range",
    ],
    [
      { type: "PING", peers: [{ ip: "1.2.3.4", port: 1.5, id: 1 }], payload: new Uint8Array() },
      "port-out-of-range",
    ],
    [
      { type: "PING", peers: [{ ip: "1.2.3.4", port: 1, id: -1 }], payload: new Uint8Array() },
      "id-out-of-range",
    ],
    [
      { type: "PING", peers: [{ ip: "1.2.3.4", port: 1, id: 2 ** 32 }], payload: new Uint8Array() },
      "id-out-of-range",
    ],
    [{ type: "JOIN_B", peers: [], room: "\ud800" }, "room-not-utf8"],
    [{ type: "EXTENSION", code: 5, peers: [], payload: new Uint8Array() }, "invalid-type"],
    [{ type: "APP_R", peers: [], payload: new Uint8Array(70_000) }, "datagram-too-large"],
  ];
  for (const [message, reason] of cases) {
    assert.throws(
      () => encode(message),
      (e: unknown) => e instanceof ProtocolError && e.reason === reason,
      reason,
    );
  }
});

Deno.test("unknown type codes decode as extensions and round-trip", () => {
  const bytes = encode({ type: "EXTENSION", code: 16, peers: [], payload: Uint8Array.of(9) });
  const message = decode(bytes);
  assert.equal(message.type, "EXTENSION");
  if (message.type === "EXTENSION") assert.equal(message.code, 16);
  assert.deepEqual(encode(message), bytes);
});

Deno.test("PeerList gives numeric fields without allocating records", () => {
  const list = PeerList.from([{ ip: "203.0.113.7", port: 65535, id: 4294967295 }]);
  assert.equal(list.ipv4At(0), 0xcb007107);
  assert.equal(list.portAt(0), 65535);
  assert.equal(list.idAt(0), 4294967295);
  assert.equal(list.keyAt(0), 0xcb007107 * 65536 + 65535);
  assert.throws(() => list.get(1), RangeError);
  assert.equal(list.indexOf("203.0.113.7", 65535), 0);
  assert.equal(list.indexOf(0xcb007107, 65535), 0);
  assert.equal(list.indexOf("203.0.113.7", 65534), -1, "same ip, other port");
  assert.equal(list.indexOf("203.0.113.8", 65535), -1, "same port, other ip");
  assert.equal(list.indexOf("not an ip", 65535), -1);
  const two = PeerList.from([{ ip: "1.1.1.1", port: 1, id: 1 }, { ip: "2.2.2.2", port: 2, id: 2 }]);
  assert.equal(two.indexOf("2.2.2.2", 2), 1);
  // A decoded list starts 3 bytes into its datagram.
  const decoded = decode(encode({ type: "PING", peers: two, payload: new Uint8Array() })).peers;
  assert.equal(decoded.indexOf("2.2.2.2", 2), 1);
  assert.equal(decoded.indexOf("1.1.1.1", 1), 0);
});

Deno.test("encoded results stay independent: later encodes, even failed ones, never touch them", () => {
  const ping = (port: number) => ({
    type: "PING" as const,
    peers: [{ ip: "10.0.0.1", port, id: port }],
    payload: new Uint8Array(),
  });
  const kept = Array.from({ length: 5000 }, (_, i) => encode(ping(i))); // spans many slabs
  assert.throws(() => encode({ ...ping(1), peers: [{ ip: "bad", port: 1, id: 1 }] }));
  for (let i = 0; i < 20_000; i++) encode(ping(65535));
  kept.forEach((bytes, i) => assert.equal(decode(bytes).peers.portAt(0), i));
  const big = new Uint8Array(10_000);
  assert.equal(encode({ type: "APP_R", peers: [], payload: big }).buffer.byteLength, 10_007);
});

Deno.test("encodeInto writes at an offset and refuses a buffer that is too small", () => {
  const buffer = new Uint8Array(40).fill(0xee);
  const n = encodeInto({ type: "JOIN_B", peers: [], room: "hi" }, buffer, 5);
  assert.equal(n, 9);
  assert.deepEqual([...buffer.subarray(5, 14)], [1, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
  assert.equal(buffer[4], 0xee);
  assert.equal(buffer[14], 0xee);
  assert.throws(
    () => encodeInto({ type: "JOIN_B", peers: [], room: "hi" }, buffer, 35),
    RangeError,
  );
});

import assert from "node:assert/strict";
import { decode } from "@olaf/protocol";
import {
  decodeNatCheck,
  decodeProbe,
  decodeRelayed,
  decodeRelayReserve,
  encodeNatCheck,
  encodeProbe,
  encodeRelayed,
  encodeRelayReserve,
  NAT_CHECK_BYTES,
  PROBE_BYTES,
  RELAYED_OVERHEAD_BYTES,
} from "@olaf/protocol/nat";

const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const token = Uint8Array.of(0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8);
const a = { ip: "198.51.100.1", port: 4000, id: 1763700000 };
const b = { ip: "198.51.100.2", port: 4000, id: 1763700001 };
const observed = { ip: "198.51.100.1", port: 40001 };
const appR = Uint8Array.of(3, 0, 0, 0, 0, 0, 2, 0x68, 0x69);

/** What the vectors in EXTENSIONS.md encode, by case name. */
const cases: Record<
  string,
  { bytes: Uint8Array; decoded: unknown; decoder: (d: Uint8Array) => unknown }
> = {
  "probe-request": {
    bytes: encodeProbe({ kind: "request", self: a, nonce }),
    decoded: { kind: "request", self: a, nonce },
    decoder: decodeProbe,
  },
  "probe-request-token": {
    bytes: encodeProbe({ kind: "request", self: a, nonce, token }),
    decoded: { kind: "request", self: a, nonce, token },
    decoder: decodeProbe,
  },
  "probe-reply": {
    bytes: encodeProbe({ kind: "reply", self: b, observed: { ...observed, id: 0 }, nonce }),
    decoded: { kind: "reply", self: b, observed: { ...observed, id: 0 }, nonce },
    decoder: decodeProbe,
  },
  "reserve-request": {
    bytes: encodeRelayReserve({ kind: "request" }),
    decoded: { kind: "request" },
    decoder: decodeRelayReserve,
  },
  "reserve-grant": {
    bytes: encodeRelayReserve({ kind: "grant", lifetimeMs: 120_000, bytes: 1 << 20, rate: 50 }),
    decoded: { kind: "grant", lifetimeMs: 120_000, bytes: 1 << 20, rate: 50 },
    decoder: decodeRelayReserve,
  },
  "reserve-refused": {
    bytes: encodeRelayReserve({ kind: "refused", reason: "disabled" }),
    decoded: { kind: "refused", reason: "disabled" },
    decoder: decodeRelayReserve,
  },
  "relayed": {
    bytes: encodeRelayed({ peer: { ip: b.ip, port: b.port }, data: appR }),
    decoded: { peer: { ip: b.ip, port: b.port }, data: appR },
    decoder: decodeRelayed,
  },
  "natcheck-request": {
    bytes: encodeNatCheck({ kind: "request", nonce }),
    decoded: { kind: "request", nonce },
    decoder: decodeNatCheck,
  },
  "natcheck-reply": {
    bytes: encodeNatCheck({ kind: "reply", nonce, observed, checkPort: 5001 }),
    decoded: { kind: "reply", nonce, observed, checkPort: 5001 },
    decoder: decodeNatCheck,
  },
};

Deno.test("nat codec: the EXTENSIONS.md vectors are what the encoders write and decode back", async () => {
  const doc = await Deno.readTextFile(new URL("./EXTENSIONS.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## NAT traversal"));
  const rows = [...section.matchAll(/^\| ([a-z-]+)[^|]*\| `([0-9a-f]+)` +\|$/gm)];
  assert.deepEqual(rows.map((r) => r[1]).sort(), Object.keys(cases).sort());
  for (const [, name, hex] of rows) {
    const c = cases[name!]!;
    assert.equal(toHex(c.bytes), hex, name);
    const decoded = c.decoder(fromHex(hex!)) as Record<string, unknown>;
    if ("data" in decoded) decoded.data = (decoded.data as Uint8Array).slice();
    assert.deepEqual(decoded, c.decoded, name);
    // A v1 decoder sees an extension it may ignore.
    assert.equal(decode(fromHex(hex!)).type, "EXTENSION");
  }
});

Deno.test("nat codec: no answer is larger than its request", () => {
  assert.equal(cases["probe-request"]!.bytes.length, PROBE_BYTES);
  assert.equal(cases["probe-reply"]!.bytes.length, PROBE_BYTES);
  assert.equal(cases["natcheck-request"]!.bytes.length, NAT_CHECK_BYTES);
  assert.equal(cases["natcheck-reply"]!.bytes.length, NAT_CHECK_BYTES);
  assert.ok(cases["reserve-grant"]!.bytes.length <= cases["reserve-request"]!.bytes.length);
  assert.equal(cases["relayed"]!.bytes.length, appR.length + RELAYED_OVERHEAD_BYTES);
});

Deno.test("nat codec: malformed or foreign datagrams decode as undefined", () => {
  const probe = cases["probe-request"]!.bytes;
  for (
    const bad of [new Uint8Array(), probe.subarray(0, 10), Uint8Array.of(20, 0, 0, 0, 0, 0, 0)]
  ) {
    assert.equal(decodeProbe(bad), undefined);
  }
  const wrongKind = probe.slice();
  wrongKind[17] = 9;
  assert.equal(decodeProbe(wrongKind), undefined);
  assert.equal(decodeRelayReserve(probe), undefined, "another code");
  assert.equal(decodeRelayReserve(fromHex("1d0000000000020309")), undefined, "unknown refusal");
  assert.equal(decodeRelayed(fromHex("1e000000000000")), undefined, "no record");
  assert.equal(decodeNatCheck(cases["natcheck-request"]!.bytes.subarray(0, 27)), undefined);
  assert.throws(
    () => encodeProbe({ kind: "request", self: a, nonce: new Uint8Array(7) }),
    RangeError,
  );
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, ProtocolError } from "@olaf/protocol";
import {
  ackDatagramBytes,
  type AckFrame,
  dataDatagramBytes,
  type DataFrame,
  decodeAck,
  decodeData,
  encodeAck,
  encodeData,
  MAX_ACK_RANGES,
} from "@olaf/protocol/reliable";

interface Vectors {
  data: { name: string; fields: Omit<DataFrame, "data"> & { data: string }; hex: string }[];
  ack: { name: string; fields: AckFrame; hex: string }[];
  invalid: { name: string; decoder: "DATA" | "ACK"; hex: string; reason: string }[];
}

const vectors: Vectors = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/vectors-olaf-ext.json", import.meta.url)),
);
const fromHex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("reliable codec: DATA vectors decode to their fields and re-encode to their bytes", () => {
  assert.ok(vectors.data.length >= 4);
  for (const v of vectors.data) {
    const bytes = fromHex(v.hex);
    const frame = decodeData(bytes);
    assert.deepEqual({ ...frame, data: toHex(frame.data) }, v.fields, v.name);
    assert.equal(toHex(encodeData({ ...v.fields, data: fromHex(v.fields.data) })), v.hex, v.name);
    assert.equal(bytes.length, dataDatagramBytes(frame.data.length, frame.fragmentCount > 1));
    // A v1 decoder sees an extension it may ignore, with an empty peers block.
    const message = decode(bytes);
    assert.ok(message.type === "EXTENSION" && message.code === 16 && message.peers.length === 0);
  }
});

Deno.test("reliable codec: ACK vectors decode to their fields and re-encode to their bytes", () => {
  assert.ok(vectors.ack.length >= 3);
  for (const v of vectors.ack) {
    const bytes = fromHex(v.hex);
    assert.deepEqual(decodeAck(bytes), v.fields, v.name);
    assert.equal(toHex(encodeAck(v.fields)), v.hex, v.name);
    assert.equal(bytes.length, ackDatagramBytes(v.fields.ranges.length));
  }
});

Deno.test("reliable codec: invalid vectors fail with ProtocolError and their reason", () => {
  assert.ok(vectors.invalid.length >= 10);
  for (const v of vectors.invalid) {
    const decoder = v.decoder === "DATA" ? decodeData : decodeAck;
    assert.throws(
      () => decoder(fromHex(v.hex)),
      (e) => e instanceof ProtocolError && e.reason === v.reason,
      v.name,
    );
  }
});

Deno.test("reliable codec: peer records a future sender adds are ignored", () => {
  const plain = fromHex(vectors.data[0]!.hex);
  const withRecord = new Uint8Array(plain.length + 10);
  withRecord.set([16, 0, 1, 10, 0, 0, 1, 0x0f, 0xa0, 0, 0, 0, 1]);
  withRecord.set(plain.subarray(3), 13);
  assert.deepEqual(decodeData(withRecord), decodeData(plain));
});

Deno.test("reliable codec: encoding refuses fields that do not fit", () => {
  const base = vectors.data[0]!.fields;
  const frame = { ...base, data: new Uint8Array() };
  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (e instanceof ProtocolError) return e.reason;
      throw e;
    }
    return "none";
  };
  assert.equal(reason(() => encodeData({ ...frame, seq: 2 ** 32 })), "field-out-of-range");
  assert.equal(reason(() => encodeData({ ...frame, session: -1 })), "field-out-of-range");
  assert.equal(reason(() => encodeData({ ...frame, fragmentIndex: 1 })), "invalid-fragment");
  assert.equal(reason(() => encodeData({ ...frame, fragmentCount: 0x10000 })), "invalid-fragment");
  const ack = vectors.ack[0]!.fields;
  const many = Array.from({ length: MAX_ACK_RANGES + 1 }, (_, i) => ({
    start: ack.cumulative + 2 + 2 * i,
    end: ack.cumulative + 3 + 2 * i,
  }));
  assert.equal(reason(() => encodeAck({ ...ack, ranges: many })), "too-many-ranges");
  assert.equal(
    reason(() =>
      encodeAck({ ...ack, ranges: [{ start: ack.cumulative, end: ack.cumulative + 1 }] })
    ),
    "invalid-ack-ranges",
  );
  // The delay saturates at the u16 maximum instead of wrapping.
  assert.equal(decodeAck(encodeAck({ ...ack, delayMs: 100_000 })).delayMs, 0xffff);
});

Deno.test("reliable codec: random, truncated and corrupted bytes give a frame or a ProtocolError, nothing else", () => {
  const seeds = [...vectors.data, ...vectors.ack].map((v) => fromHex(v.hex));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(255)).map(([b, at, value]) => {
          const copy = b.slice();
          copy[at % copy.length] = value;
          return copy;
        }),
        fc.tuple(fc.constantFrom(...seeds), fc.nat()).map(([b, n]) => b.slice(0, n % b.length)),
      ),
      (bytes) => {
        for (const decoder of [decodeData, decodeAck]) {
          try {
            decoder(bytes);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
          }
        }
      },
    ),
    { numRuns: 3000, seed: 9 },
  );
});

Deno.test("reliable codec: DATA and ACK round-trip (property)", () => {
  const u32 = fc.nat(0xffff_ffff);
  fc.assert(
    fc.property(
      u32,
      u32,
      u32,
      u32,
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 1, max: 0xffff }),
      fc.nat(),
      fc.uint8Array({ maxLength: 64 }),
      (session, seq, timestamp, messageId, reliable, ordered, count, index, data) => {
        const frame: DataFrame = {
          session,
          seq,
          timestamp,
          messageId,
          reliable,
          ordered,
          fragmentCount: count,
          fragmentIndex: index % count,
          data,
        };
        assert.deepEqual(decodeData(encodeData(frame)), frame);
      },
    ),
    { numRuns: 500, seed: 3 },
  );
  fc.assert(
    fc.property(
      u32,
      u32,
      fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })), {
        maxLength: MAX_ACK_RANGES,
      }),
      (session, cumulative, gaps) => {
        let at = cumulative;
        const ranges = gaps.map(([gap, length]) => {
          const start = (at + gap) >>> 0;
          at = (start + length) >>> 0;
          return { start, end: at };
        });
        const ack: AckFrame = {
          session,
          incarnation: seq32(cumulative),
          cumulative,
          echoTimestamp: seq32(session),
          delayMs: 7,
          ranges,
        };
        assert.deepEqual(decodeAck(encodeAck(ack)), ack);
      },
    ),
    { numRuns: 500, seed: 4 },
  );
});

function seq32(n: number): number {
  return (n * 31) >>> 0;
}

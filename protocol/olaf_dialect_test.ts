import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, ProtocolError } from "@olaf/protocol";
import {
  decodeDialect,
  type DialectMember,
  type DialectMessage,
  encodeDialect,
  isDialectDatagram,
  MIN_JOIN_O_BYTES,
  TOKEN_DATAGRAM_BYTES,
  WELCOME_BASE_BYTES,
  welcomeMemberBytes,
} from "@olaf/protocol/dialect";

interface Vectors {
  dialect: {
    valid: { name: string; message: Record<string, unknown>; hex: string }[];
    invalid: { name: string; hex: string; reason: string }[];
  };
}

const vectors: Vectors = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/vectors-olaf-ext.json", import.meta.url)),
);
const fromHex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const BYTE_FIELDS = new Set(["token", "publicKey", "punchToken"]);

// JSON form (bytes as hex) <-> message.
function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        k,
        BYTE_FIELDS.has(k) && typeof x === "string" ? fromHex(x) : revive(x),
      ]),
    );
  }
  return v;
}
function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  }
  return v;
}

Deno.test("dialect: vectors encode to their exact bytes and decode back to their fields", () => {
  const seen = new Set<string>();
  for (const v of vectors.dialect.valid) {
    const message = revive(v.message) as DialectMessage;
    const bytes = encodeDialect(message);
    assert.equal(toHex(bytes), v.hex, v.name);
    assert.deepEqual(toJson(decodeDialect(fromHex(v.hex))), v.message, v.name);
    assert.ok(isDialectDatagram(bytes));
    // What a v1 peer or bootstrap sees: an extension it skips, with readable records.
    const v1 = decode(bytes);
    assert.ok(v1.type === "EXTENSION" && v1.code === bytes[0], v.name);
    seen.add(message.type);
  }
  assert.deepEqual([...seen].sort(), ["INTRODUCE", "JOIN_O", "REPORT_O", "TOKEN", "WELCOME"]);
});

Deno.test("dialect: invalid vectors fail with ProtocolError and their reason", () => {
  assert.ok(vectors.dialect.invalid.length >= 15);
  for (const v of vectors.dialect.invalid) {
    assert.throws(
      () => decodeDialect(fromHex(v.hex)),
      (e) => e instanceof ProtocolError && e.reason === v.reason,
      v.name,
    );
  }
});

Deno.test("dialect: a TOKEN is never more than 3x the smallest JOIN_O", () => {
  const smallest = encodeDialect({
    type: "JOIN_O",
    room: "a",
    secure: false,
    candidates: [],
    introductions: false,
  });
  assert.equal(smallest.length, MIN_JOIN_O_BYTES);
  const token = encodeDialect({
    type: "TOKEN",
    token: new Uint8Array(16),
    observed: { ip: "255.255.255.255", port: 65535 },
    lifetimeSeconds: 65535,
  });
  assert.equal(token.length, TOKEN_DATAGRAM_BYTES);
  assert.ok(token.length <= 3 * MIN_JOIN_O_BYTES, `${token.length} > 3 x ${MIN_JOIN_O_BYTES}`);
});

Deno.test("dialect: welcomeMemberBytes sums to the WELCOME's size", () => {
  const member = (id: number, olaf: boolean, key: boolean, lan: number): DialectMember => ({
    record: { ip: "198.51.100.9", port: 1000 + id, id },
    olaf,
    ...(key ? { publicKey: new Uint8Array(32).fill(id) } : {}),
    candidates: Array.from({ length: lan }, (_, i) => ({ ip: `10.0.0.${i + 1}`, port: 7 })),
    nat: olaf ? "independent" : "unknown",
    introduced: id % 2 === 0,
  });
  const members = [member(1, false, false, 0), member(2, true, true, 4), member(3, true, false, 1)];
  const bytes = encodeDialect({
    type: "WELCOME",
    self: { ip: "203.0.113.1", port: 1, id: 9 },
    token: new Uint8Array(16),
    punchToken: new Uint8Array(8),
    total: 3,
    members,
  });
  const expected = members.reduce((n, m) => n + welcomeMemberBytes(m), WELCOME_BASE_BYTES);
  assert.equal(bytes.length, expected);
  const back = decodeDialect(bytes);
  assert.ok(back.type === "WELCOME");
  if (back.type === "WELCOME") assert.deepEqual(back.members, members);
});

Deno.test("dialect: encoding refuses fields that do not fit", () => {
  const reason = (m: DialectMessage) => {
    try {
      encodeDialect(m);
    } catch (e) {
      if (e instanceof ProtocolError) return e.reason;
      throw e;
    }
    return "encoded";
  };
  const join = { type: "JOIN_O", room: "r", secure: false, candidates: [], introductions: false };
  const lan = { ip: "10.0.0.1", port: 1 };
  assert.equal(
    reason({ ...join, type: "JOIN_O", token: new Uint8Array(15) }),
    "field-out-of-range",
  );
  assert.equal(
    reason({ ...join, type: "JOIN_O", candidates: Array(5).fill(lan) }),
    "too-many-peers",
  );
  assert.equal(reason({ ...join, type: "JOIN_O", room: "x".repeat(256) }), "room-too-long");
  assert.equal(reason({ ...join, type: "JOIN_O", room: "\ud800" }), "room-not-utf8");
  assert.equal(
    reason({ ...join, type: "JOIN_O", secure: true, room: "00".repeat(16) }),
    "invalid-flags",
  );
  assert.equal(
    reason({ ...join, type: "JOIN_O", secure: true, room: "ABC", publicKey: new Uint8Array(32) }),
    "field-out-of-range",
  );
  assert.equal(
    reason({ ...join, type: "JOIN_O", candidates: [{ ip: "x", port: 1 }] }),
    "invalid-ipv4",
  );
  assert.equal(
    reason({ ...join, type: "JOIN_O", candidates: [{ ip: "1.2.3.4", port: 70000 }] }),
    "port-out-of-range",
  );
  assert.equal(
    reason({
      type: "WELCOME",
      self: { ip: "1.2.3.4", port: 1, id: 2 ** 32 },
      token: new Uint8Array(16),
      punchToken: new Uint8Array(8),
      total: 0,
      members: [],
    }),
    "id-out-of-range",
  );
});

const byteArray = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const candidate = fc.record({ ip: ipv4, port: fc.nat(65535) });
const record = fc.record({ ip: ipv4, port: fc.nat(65535), id: fc.nat(0xffff_ffff) });
const nat = fc.constantFrom("unknown", "none", "independent", "dependent" as const);
const member = (introducible: boolean) =>
  fc.oneof(
    fc.record({
      record,
      olaf: fc.constant(false),
      candidates: fc.constant([]),
      nat: fc.constant("unknown" as const),
      introduced: introducible ? fc.boolean() : fc.constant(false),
    }),
    fc.record({
      record,
      olaf: fc.constant(true),
      publicKey: byteArray(32),
      candidates: fc.array(candidate, { maxLength: 4 }),
      nat,
      introduced: introducible ? fc.boolean() : fc.constant(false),
    }, { requiredKeys: ["record", "olaf", "candidates", "nat", "introduced"] }),
  );
const room = fc.oneof(
  fc.record({ secure: fc.constant(false), room: fc.string({ maxLength: 60 }) }),
  fc.record({
    secure: fc.constant(true),
    room: byteArray(16).map(toHex),
  }),
);
const message: fc.Arbitrary<DialectMessage> = fc.oneof(
  fc.tuple(room, fc.option(byteArray(16), { nil: undefined }), byteArray(32), fc.boolean())
    .chain(([r, token, key, intro]) =>
      fc.array(candidate, { maxLength: 4 }).map((candidates): DialectMessage => ({
        type: "JOIN_O",
        ...r,
        ...(token ? { token } : {}),
        ...(r.secure || intro ? { publicKey: key } : {}),
        candidates,
        introductions: intro,
      }))
    ),
  fc.record({
    type: fc.constant("TOKEN" as const),
    token: byteArray(16),
    observed: candidate,
    lifetimeSeconds: fc.nat(65535),
  }),
  fc.tuple(fc.array(member(true), { maxLength: 20 }), fc.nat(100)).chain(([members, extra]) =>
    fc.record({
      type: fc.constant("WELCOME" as const),
      self: record,
      token: byteArray(16),
      punchToken: byteArray(8),
      total: fc.constant(members.length + extra),
      members: fc.constant(members),
    })
  ),
  fc.tuple(room, fc.option(byteArray(16), { nil: undefined }), fc.array(record, { maxLength: 20 }))
    .map(([r, token, members]): DialectMessage => ({
      type: "REPORT_O",
      ...r,
      ...(token ? { token } : {}),
      members,
    })),
  fc.record({
    type: fc.constant("INTRODUCE" as const),
    peer: member(false),
    punchToken: byteArray(8),
  }),
);

Deno.test("dialect: any message round-trips, and any byte string decodes or fails cleanly", () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(toJson(decodeDialect(encodeDialect(m))), toJson(m));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 24, max: 28 }), fc.uint8Array({ maxLength: 120 }), (t, tail) => {
      const bytes = new Uint8Array([t, 0, 0, 0, 0, 0, tail.length, ...tail]);
      try {
        const m = decodeDialect(bytes);
        assert.equal(toHex(encodeDialect(m)), toHex(bytes)); // canonical: one encoding
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

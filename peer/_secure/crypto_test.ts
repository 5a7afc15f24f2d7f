import assert from "node:assert/strict";
import {
  concat,
  hash,
  hash2,
  hkdf,
  hmacKeyed,
  hmacSha256,
  native,
  noble,
  nobleDh,
  nodeDh,
  randomBytes,
  shortHashImplementation,
  toHex,
} from "./crypto.ts";
import { hmacInto, hmacKey, LEAN_MAX_BYTES, sha256Concat } from "./sha256_lean.ts";

Deno.test("native (node:crypto) and pure-JS (noble) primitives agree byte for byte", () => {
  for (const len of [0, 1, 15, 16, 63, 64, 65, 1024, 1500]) {
    const k = randomBytes(32), ad = randomBytes(len % 40), p = randomBytes(len);
    const c = noble.seal(k, BigInt(len), ad, p);
    assert.equal(toHex(native.seal(k, BigInt(len), ad, p)), toHex(c));
    assert.equal(toHex(native.open(k, BigInt(len), ad, c)!), toHex(p));
    assert.equal(toHex(noble.open(k, BigInt(len), ad, c)!), toHex(p));
    const bad = c.slice();
    bad[len % c.length] ^= 4;
    assert.equal(native.open(k, BigInt(len), ad, bad), undefined);
    assert.equal(noble.open(k, BigInt(len), ad, bad), undefined);
    assert.equal(toHex(native.hash(p)), toHex(noble.hash(p)));
    assert.equal(toHex(native.hmac(k, p)), toHex(noble.hmac(k, p)));
  }
  const a = randomBytes(32), b = randomBytes(32);
  assert.equal(
    toHex(nodeDh.dh(a, nobleDh.publicKey(b))),
    toHex(nobleDh.dh(a, nodeDh.publicKey(b))),
  );
});

Deno.test("X25519 refuses a low-order public key (all-zero shared secret) on both paths", () => {
  for (const dh of [nodeDh, nobleDh]) {
    assert.throws(() => dh.dh(randomBytes(32), new Uint8Array(32)));
  }
});

Deno.test("handshake fast paths give the reference answers: HKDF, keyed HMAC, native key pairs", () => {
  // RFC 5869 test case 3 (SHA-256, empty salt and info) pins the reference itself.
  const ikm = new Uint8Array(22).fill(0x0b);
  assert.equal(
    toHex(noble.hkdf(new Uint8Array(0), ikm, 42)),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
  for (const len of [0, 1, 32, 33, 200]) {
    const salt = randomBytes(32), key = randomBytes(32), data = randomBytes(len);
    for (const n of [32, 64, 96]) {
      assert.equal(toHex(native.hkdf(salt, data, n)), toHex(noble.hkdf(salt, data, n)));
      assert.equal(toHex(hkdf(salt, data, n)), toHex(noble.hkdf(salt, data, n)));
    }
    // Twice with the same key: the cached keyed state must not carry the first message over.
    assert.equal(toHex(hmacKeyed(key, data)), toHex(hmacSha256(key, data)));
    assert.equal(toHex(hmacKeyed(key, data)), toHex(hmacSha256(key, data)));
    assert.equal(toHex(hash2(data, salt)), toHex(hash(concat(data, salt))));
  }
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const kp = nodeDh.generateKeyPair!();
    assert.equal(toHex(kp.publicKey), toHex(nobleDh.publicKey(kp.secretKey)));
    const peer = randomBytes(32);
    assert.equal(
      toHex(nodeDh.dh(kp.secretKey, nobleDh.publicKey(peer))),
      toHex(nobleDh.dh(peer, kp.publicKey)),
    );
    seen.add(toHex(kp.secretKey));
  }
  assert.equal(seen.size, 8);
});

Deno.test("lean SHA-256/HMAC (MixHash, HANDSHAKE mac) match FIPS 180-2, RFC 4231 and noble", () => {
  const enc = new TextEncoder();
  // FIPS 180-2 "abc" (split as a || b) and the two-block 448-bit message.
  assert.equal(
    toHex(sha256Concat(enc.encode("a"), enc.encode("bc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    toHex(
      sha256Concat(
        enc.encode("abcdbcdecdefdefgefghfghighijhijk"),
        enc.encode("ijkljklmklmnlmnomnopnopq"),
      ),
    ),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  // RFC 4231 test case 2 (key "Jefe").
  const out = new Uint8Array(32);
  hmacInto(
    hmacKey(enc.encode("Jefe")),
    enc.encode("what do ya want "),
    enc.encode("for nothing?"),
    out,
    0,
  );
  assert.equal(toHex(out), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  for (let n = 0; n <= LEAN_MAX_BYTES - 32; n += 7) {
    const a = randomBytes(32), b = randomBytes(n);
    assert.equal(toHex(sha256Concat(a, b)), toHex(noble.hash(concat(a, b))));
    assert.equal(toHex(hash2(a, b)), toHex(noble.hash(concat(a, b))));
    assert.equal(toHex(hmacKeyed(a, b)), toHex(noble.hmac(a, b)));
  }
  // Longer than the lean layer takes: the same answers through noble.
  const k = randomBytes(32), long = randomBytes(LEAN_MAX_BYTES + 100);
  assert.equal(toHex(hmacKeyed(k, long)), toHex(noble.hmac(k, long)));
  assert.equal(toHex(hash2(k, long)), toHex(noble.hash(concat(k, long))));
  assert.throws(() => sha256Concat(k, long), RangeError);
  assert.equal(shortHashImplementation, "lean");
});

Deno.test("node X25519: cached KeyObjects stay right after the shared DER buffer is rewritten", () => {
  // Key imports reuse one DER buffer; a KeyObject that kept (not copied) it would change here.
  const secrets = [1, 2, 3].map(() => randomBytes(32));
  const publics = [4, 5, 6].map(() => nobleDh.publicKey(randomBytes(32)));
  const expect = (s: Uint8Array, p: Uint8Array) => toHex(nobleDh.dh(s, p));
  for (let round = 0; round < 2; round++) {
    for (const s of secrets) {
      for (const p of publics) assert.equal(toHex(nodeDh.dh(s, p)), expect(s, p));
    }
  }
  // Ephemeral pairs: DH by pair (KeyObject), and the lazily exported secret, agree with noble.
  const pair = nodeDh.generateKeyPair!();
  for (const p of publics) {
    assert.equal(toHex(nodeDh.dhPair!(pair, p)), expect(pair.secretKey, p));
  }
  assert.equal(toHex(nobleDh.publicKey(pair.secretKey)), toHex(pair.publicKey));
});

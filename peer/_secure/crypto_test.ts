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
  toHex,
} from "./crypto.ts";

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

import assert from "node:assert/strict";
import { native, noble, nobleDh, nodeDh, randomBytes, toHex } from "./crypto.ts";

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

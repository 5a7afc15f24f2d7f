/**
 * SHA-256 and HMAC-SHA256 for the short inputs of a handshake (MixHash, the HANDSHAKE mac),
 * without per-call objects. The compression function is noble's (`_SHA256.process`, audited); this module only
 * lays out blocks (padding, HMAC's ipad/opad) and carries the eight state words between calls.
 * For 32..200-byte inputs the set-up of noble's hash objects (or `node:crypto`'s wrappers) costs
 * about as much as the two or three compressions: MixHash measured about 2x faster this way.
 * (Noise's HKDF, 10 to 12 compressions, stays on `hkdfSync`: native measured faster.)
 * `crypto.ts` uses it only after a self-test against noble (`leanAgrees`).
 *
 * @module
 */
import { _SHA256 } from "@noble/hashes/sha2.js";

/** noble's SHA-256 with its compression function and state exposed (no other change). */
class Compressor extends _SHA256 {
  load(s: Int32Array): void {
    this.set(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
  }
  store(s: Int32Array): void {
    s[0] = this.A;
    s[1] = this.B;
    s[2] = this.C;
    s[3] = this.D;
    s[4] = this.E;
    s[5] = this.F;
    s[6] = this.G;
    s[7] = this.H;
  }
  compress(view: DataView, offset: number): void {
    this.process(view, offset);
  }
}

const c = new Compressor();
/** Scratch blocks: inputs up to {@linkcode LEAN_MAX_BYTES} go through here. */
const block = new Uint8Array(64 * 8);
const blockView = new DataView(block.buffer);
const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);
const state = new Int32Array(8);

/** The longest input (after any prefix) these functions take; longer ones throw. */
export const LEAN_MAX_BYTES: number = block.length - 9;

/**
 * The SHA-256 digest of `prefixBytes` already hashed into `init` (a multiple of 64) followed by
 * the `parts`, written to `out` at `at`.
 */
function finish(
  init: Int32Array,
  prefixBytes: number,
  a: Uint8Array,
  b: Uint8Array | undefined,
  out: Uint8Array,
  at: number,
): void {
  const n = a.length + (b === undefined ? 0 : b.length);
  const blocks = (n + 9 + 63) >>> 6;
  if (blocks * 64 > block.length) throw new RangeError("sha256_lean: input too long");
  block.set(a);
  if (b !== undefined) block.set(b, a.length);
  block[n] = 0x80;
  block.fill(0, n + 1, blocks * 64 - 8);
  const bits = (prefixBytes + n) * 8;
  blockView.setUint32(blocks * 64 - 8, Math.floor(bits / 0x1_0000_0000));
  blockView.setUint32(blocks * 64 - 4, bits >>> 0);
  c.load(init);
  for (let i = 0; i < blocks; i++) c.compress(blockView, i * 64);
  c.store(state);
  const v = new DataView(out.buffer, out.byteOffset + at, 32);
  for (let i = 0; i < 8; i++) v.setInt32(4 * i, state[i]);
}

/** SHA-256 of `a || b` (each up to a few blocks). */
export function sha256Concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  finish(IV, 0, a, b, out, 0);
  return out;
}

/** HMAC key states: SHA-256 after the ipad block and after the opad block. */
export interface HmacKey {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

const pad = new Uint8Array(64);
const padView = new DataView(pad.buffer);

/** The HMAC-SHA256 states of a key of at most 64 bytes (Noise's keys are 32). */
export function hmacKey(key: Uint8Array): HmacKey {
  if (key.length > 64) throw new RangeError("sha256_lean: HMAC key longer than a block");
  const inner = new Int32Array(8), outer = new Int32Array(8);
  for (const [s, x] of [[inner, 0x36], [outer, 0x5c]] as const) {
    pad.fill(x);
    for (let i = 0; i < key.length; i++) pad[i] = key[i] ^ x;
    c.load(IV);
    c.compress(padView, 0);
    c.store(s);
  }
  pad.fill(0);
  return { inner, outer };
}

const innerDigest = new Uint8Array(32);

/** HMAC-SHA256 of `a || b` under prepared key states, into `out` at `at`. */
export function hmacInto(
  key: HmacKey,
  a: Uint8Array,
  b: Uint8Array | undefined,
  out: Uint8Array,
  at: number,
): void {
  finish(key.inner, 64, a, b, innerDigest, 0);
  finish(key.outer, 64, innerDigest, undefined, out, at);
}

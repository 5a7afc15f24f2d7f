/**
 * The primitives Olaf's Noise suite uses (`25519_ChaChaPoly_SHA256`). The reference is the
 * audited pure-JS noble libraries; where `node:crypto` (native and synchronous, in Deno, Node and
 * Bun) measures faster in `deno task bench:secure`, it is used instead (X25519 about 7x, key
 * generation about 5x, ChaCha20-Poly1305 of 1 KiB about 2.5x, HKDF about 2x; SHA-256/HMAC of
 * short inputs stay on noble's compression function, without per-call objects: `sha256_lean.ts`), but
 * only after a self-test at load shows it gives noble's answers (otherwise noble alone is used).
 * WebCrypto's X25519 is native too but only asynchronous, which a sans-IO core cannot use on its
 * receive path; even 64 derivations in flight at once measured below `node:crypto`'s sync rate.
 *
 * @module
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { expand, extract } from "@noble/hashes/hkdf.js";
import * as nodeCrypto from "node:crypto";
import { hmacInto, type HmacKey, hmacKey, LEAN_MAX_BYTES, sha256Concat } from "./sha256_lean.ts";
import { Buffer } from "node:buffer";

/** An X25519 key pair (raw 32-byte keys). */
export interface KeyPair {
  /** Public key. */
  readonly publicKey: Uint8Array;
  /** Secret key. */
  readonly secretKey: Uint8Array;
}

/** The X25519 implementation in use. */
export interface Dh {
  /** `"node"` (native, `node:crypto`) or `"noble"` (pure JS). */
  readonly name: "node" | "noble";
  /** X25519(secret, public); throws on a low-order public key (all-zero output). */
  dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** The public key of a secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** A fresh random key pair, where the implementation has a faster way than random + derive. */
  generateKeyPair?(): KeyPair;
  /**
   * X25519 with a whole key pair (same answer as `dh(pair.secretKey, publicKey)`), where the
   * implementation keeps a native key object per pair and so never needs the raw secret.
   */
  dhPair?(pair: KeyPair, publicKey: Uint8Array): Uint8Array;
}

const PKCS8_X25519 = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);
const SPKI_X25519 = Uint8Array.from([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x03,
  0x21,
  0x00,
]);

// One DER buffer per key type, rewritten for each import (node:crypto parses it before
// returning): a Buffer, which node:crypto would otherwise make of a Uint8Array, allocated once
// (Buffer.allocUnsafe per import measured more than the import itself).
const derBuffers = new Map<Uint8Array, Buffer>();

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  let out = derBuffers.get(prefix);
  if (out === undefined) {
    derBuffers.set(prefix, out = Buffer.alloc(prefix.length + 32));
    out.set(prefix);
  }
  out.set(key, prefix.length);
  return out;
}

function assertNonZero(out: Uint8Array): Uint8Array {
  let acc = 0;
  for (const b of out) acc |= b;
  if (acc === 0) throw new Error("x25519: low-order public key");
  return out;
}

/** Pure-JS X25519 (noble). */
export const nobleDh: Dh = {
  name: "noble",
  dh: (secretKey, publicKey) => assertNonZero(x25519.getSharedSecret(secretKey, publicKey)),
  publicKey: (secretKey) => x25519.getPublicKey(secretKey),
};

// KeyObjects per key array: a handshake uses each ephemeral and static key in two or three
// operations, and the static key in every handshake. Weak, so keys are not kept alive.
const privateKeys = new WeakMap<Uint8Array, nodeCrypto.KeyObject>();
const publicKeys = new WeakMap<Uint8Array, nodeCrypto.KeyObject>();

function nodePrivate(secretKey: Uint8Array): nodeCrypto.KeyObject {
  let k = privateKeys.get(secretKey);
  if (k === undefined) {
    k = nodeCrypto.createPrivateKey({
      key: der(PKCS8_X25519, secretKey),
      format: "der",
      type: "pkcs8",
    });
    privateKeys.set(secretKey, k);
  }
  return k;
}

function nodePublic(publicKey: Uint8Array): nodeCrypto.KeyObject {
  let k = publicKeys.get(publicKey);
  if (k === undefined) {
    k = nodeCrypto.createPublicKey({
      key: der(SPKI_X25519, publicKey),
      format: "der",
      type: "spki",
    });
    publicKeys.set(publicKey, k);
  }
  return k;
}

function rawTail(key: nodeCrypto.KeyObject, type: "pkcs8" | "spki"): Uint8Array {
  const d = key.export({ format: "der", type } as never) as unknown as Buffer;
  return new Uint8Array(d.buffer, d.byteOffset + d.byteLength - 32, 32).slice();
}

/**
 * A key pair made by generateKeyPairSync: the raw secret of an ephemeral key is never needed (a
 * DH takes the KeyObject), so it is exported only if someone reads it.
 */
class NativeKeyPair implements KeyPair {
  readonly publicKey: Uint8Array;
  readonly #privateKey: nodeCrypto.KeyObject;
  get keyObject(): nodeCrypto.KeyObject {
    return this.#privateKey;
  }
  #secret: Uint8Array | undefined;
  constructor(publicKey: Uint8Array, privateKey: nodeCrypto.KeyObject) {
    this.publicKey = publicKey;
    this.#privateKey = privateKey;
  }
  get secretKey(): Uint8Array {
    if (this.#secret === undefined) {
      this.#secret = rawTail(this.#privateKey, "pkcs8");
      privateKeys.set(this.#secret, this.#privateKey);
    }
    return this.#secret;
  }
}

function nodeShared(privateKey: nodeCrypto.KeyObject, publicKey: Uint8Array): Uint8Array {
  const out = nodeCrypto.diffieHellman({ privateKey, publicKey: nodePublic(publicKey) });
  // A fresh Buffer of its own: a view, no copy.
  return assertNonZero(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
}

/** Native X25519 through `node:crypto` (sync). Callers must not mutate key arrays they pass. */
export const nodeDh: Dh = {
  name: "node",
  dh: (secretKey, publicKey) => nodeShared(nodePrivate(secretKey), publicKey),
  dhPair: (pair, publicKey) =>
    nodeShared(
      pair instanceof NativeKeyPair ? pair.keyObject : nodePrivate(pair.secretKey),
      publicKey,
    ),
  publicKey(secretKey) {
    return rawTail(nodeCrypto.createPublicKey(nodePrivate(secretKey)), "spki");
  },
  // generateKeyPairSync makes both KeyObjects in one native call (about 30 us against 50 us for
  // importing a random secret and deriving its public key); only the public key is exported.
  generateKeyPair() {
    const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync("x25519");
    const raw = publicKey.export({ format: "der", type: "spki" });
    const kp = new NativeKeyPair(
      new Uint8Array(raw.buffer, raw.byteOffset + raw.byteLength - 32, 32),
      privateKey,
    );
    publicKeys.set(kp.publicKey, publicKey);
    return kp;
  },
};

function nativeAgrees(): boolean {
  try {
    const a = x25519.utils.randomSecretKey();
    const b = x25519.utils.randomSecretKey();
    const bPub = x25519.getPublicKey(b);
    return equalBytes(nodeDh.dh(a, bPub), x25519.getSharedSecret(a, bPub)) &&
      equalBytes(nodeDh.publicKey(a), x25519.getPublicKey(a));
  } catch {
    return false;
  }
}

function nativeKeygenAgrees(): boolean {
  try {
    const g = nodeDh.generateKeyPair!();
    const b = x25519.utils.randomSecretKey();
    return equalBytes(g.publicKey, x25519.getPublicKey(g.secretKey)) &&
      equalBytes(
        nodeDh.dh(g.secretKey, x25519.getPublicKey(b)),
        x25519.getSharedSecret(b, g.publicKey),
      );
  } catch {
    return false;
  }
}

/**
 * The X25519 implementation chosen at load: native when it agrees with noble (and its own key
 * generation only when that agrees too; otherwise random secret + derive).
 */
export const defaultDh: Dh = !nativeAgrees()
  ? nobleDh
  : nativeKeygenAgrees()
  ? nodeDh
  : { name: "node", dh: nodeDh.dh, publicKey: nodeDh.publicKey };

/** `n` cryptographically random bytes. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A fresh X25519 key pair. */
export function generateKeyPair(dh: Dh = defaultDh): KeyPair {
  if (dh.generateKeyPair) return dh.generateKeyPair();
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: dh.publicKey(secretKey) };
}

/** The X25519 key pair of a given secret key. */
export function keyPairFromSecret(secretKey: Uint8Array, dh: Dh = defaultDh): KeyPair {
  return { secretKey, publicKey: dh.publicKey(secretKey) };
}

function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const nobleHash = (data: Uint8Array): Uint8Array => sha256(data);
const nobleHmac = (key: Uint8Array, data: Uint8Array): Uint8Array => hmac(sha256, key, data);
const nodeHash = (data: Uint8Array): Uint8Array =>
  view(nodeCrypto.createHash("sha256").update(data).digest());
const nodeHmac = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  view(nodeCrypto.createHmac("sha256", key).update(data).digest());

// SHA-256 and HMAC stay on noble: per-call object set-up makes node:crypto slower for the short
// inputs Noise hashes (bench:secure prints both).
/** Which implementation SHA-256 and HMAC use: `"node"` (native) or `"noble"`. */
export const hashImplementation: "node" | "noble" = "noble";

/** SHA-256. */
export const hash: (data: Uint8Array) => Uint8Array = nobleHash;

/** HMAC-SHA256. */
export const hmacSha256: (key: Uint8Array, data: Uint8Array) => Uint8Array = nobleHmac;

// HMAC states keyed once per key array (the room's mac key is used on every HANDSHAKE): each use
// starts from the keyed states instead of hashing the padded key twice again.
const keyedHmacs = new WeakMap<Uint8Array, ReturnType<typeof hmac.create>>();
const leanKeys = new WeakMap<Uint8Array, HmacKey>();

/** HMAC-SHA256 under a long-lived key (same answer as {@linkcode hmacSha256}). */
export function hmacKeyed(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (lean && key.length <= 64 && data.length <= LEAN_MAX_BYTES) {
    let k = leanKeys.get(key);
    if (k === undefined) leanKeys.set(key, k = hmacKey(key));
    const out = new Uint8Array(32);
    hmacInto(k, data, undefined, out, 0);
    return out;
  }
  let keyed = keyedHmacs.get(key);
  if (keyed === undefined) {
    keyed = hmac.create(sha256, key);
    keyedHmacs.set(key, keyed);
  }
  return keyed.clone().update(data).digest();
}

/** SHA-256 of `a || b` without building the concatenation (Noise's MixHash). */
export function hash2(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (lean && a.length + b.length <= LEAN_MAX_BYTES) return sha256Concat(a, b);
  return sha256.create().update(a).update(b).digest();
}

const nobleHkdf = (salt: Uint8Array, ikm: Uint8Array, length: number): Uint8Array =>
  expand(sha256, extract(sha256, ikm, salt), undefined, length);
// One native call for extract and expand: a handshake side runs seven Noise HKDFs, each three or
// four HMACs on noble (about 17 us) against about 6 us native.
// Buffer views (no copies): hkdfSync converts other array types first.
const asBuffer = (b: Uint8Array): Buffer =>
  b instanceof Buffer ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const nodeHkdf = (salt: Uint8Array, ikm: Uint8Array, length: number): Uint8Array =>
  new Uint8Array(
    nodeCrypto.hkdfSync("sha256", asBuffer(ikm), asBuffer(salt), EMPTY_INFO, length),
  );
const EMPTY_INFO = Buffer.alloc(0);

function nativeHkdfAgrees(): boolean {
  try {
    const salt = randomBytes(32);
    return [randomBytes(32), new Uint8Array(0)].every((ikm) =>
      [64, 96].every((n) => equalBytes(nodeHkdf(salt, ikm, n), nobleHkdf(salt, ikm, n)))
    );
  } catch {
    return false;
  }
}

/** Which implementation {@linkcode hkdf} uses: `"node"` (native) or `"noble"`. */
export const hkdfImplementation: "node" | "noble" = nativeHkdfAgrees() ? "node" : "noble";

/** RFC 5869 HKDF-SHA256 with empty info: `length` bytes (Noise's HKDF is its first 64 or 96). */
export const hkdf: (salt: Uint8Array, ikm: Uint8Array, length: number) => Uint8Array =
  hkdfImplementation === "node" ? nodeHkdf : nobleHkdf;

// The lean block layer over noble's compression (sha256_lean.ts), checked against noble here.
function leanAgrees(): boolean {
  try {
    const ck = randomBytes(32);
    for (const n of [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 200, LEAN_MAX_BYTES - 32]) {
      const d = randomBytes(n);
      if (!equalBytes(sha256Concat(ck, d), nobleHash(concat(ck, d)))) return false;
      const out = new Uint8Array(32);
      hmacInto(hmacKey(ck), d, undefined, out, 0);
      if (!equalBytes(out, nobleHmac(ck, d))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

const lean = leanAgrees();

/**
 * Which implementation Noise's MixHash and the HANDSHAKE mac use for short inputs:
 * `"lean"` (noble's compression without per-call objects, `sha256_lean.ts`) or the ones above.
 */
export const shortHashImplementation: "lean" | "default" = lean ? "lean" : "default";

/**
 * Noise's HKDF: `outputs` x 32 bytes of HKDF(salt = `ck`, `ikm`). Native when it agrees: its 10
 * to 12 compressions on noble's SHA-256 without per-call objects measured no faster than
 * `hkdfSync` (interleaved runs, 0.97x to 1.01x).
 */
export function noiseHkdf(ck: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array {
  return hkdf(ck, ikm, 32 * outputs);
}

/** RFC 5869 HKDF-SHA256 extract. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return extract(sha256, ikm, salt);
}

/** RFC 5869 HKDF-SHA256 expand. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return expand(sha256, prk, info, length);
}

const nonceBuf = new Uint8Array(12);
const nonceView = new DataView(nonceBuf.buffer);

/** Noise's ChaChaPoly nonce: 32 zero bits then the 64-bit counter, little-endian. */
function nonce(n: bigint): Uint8Array {
  nonceView.setUint32(0, 0);
  nonceView.setBigUint64(4, n, true);
  return nonceBuf.slice();
}

type Seal = (key: Uint8Array, n: bigint, ad: Uint8Array, plaintext: Uint8Array) => Uint8Array;
type Open = (
  key: Uint8Array,
  n: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
) => Uint8Array | undefined;

const nobleSeal: Seal = (key, n, ad, plaintext) =>
  chacha20poly1305(key, nonce(n), ad).encrypt(plaintext);
const nobleOpen: Open = (key, n, ad, ciphertext) => {
  if (ciphertext.length < 16) return undefined;
  try {
    return chacha20poly1305(key, nonce(n), ad).decrypt(ciphertext);
  } catch {
    return undefined;
  }
};

// node:crypto's option and cipher types do not list chacha20-poly1305's AAD/tag members.
interface AeadCipher {
  setAAD(ad: Uint8Array, options: { plaintextLength: number }): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
  getAuthTag(): Buffer;
  setAuthTag(tag: Uint8Array): unknown;
}
const ALG = "chacha20-poly1305";
const TAG = { authTagLength: 16 };

// node:crypto copies the nonce at once: the shared buffer needs no copy of its own.
function nodeNonce(n: bigint): Uint8Array {
  nonceView.setBigUint64(4, n, true);
  return nonceBuf;
}

const nodeSeal: Seal = (key, n, ad, plaintext) => {
  const c = nodeCrypto.createCipheriv(
    ALG,
    key,
    nodeNonce(n),
    TAG as never,
  ) as unknown as AeadCipher;
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(plaintext.length + 16);
  out.set(view(body));
  out.set(view(c.getAuthTag()), plaintext.length);
  return out;
};
const nodeOpen: Open = (key, n, ad, ciphertext) => {
  if (ciphertext.length < 16) return undefined;
  const len = ciphertext.length - 16;
  try {
    const d = nodeCrypto.createDecipheriv(
      ALG,
      key,
      nodeNonce(n),
      TAG as never,
    ) as unknown as AeadCipher;
    d.setAAD(ad, { plaintextLength: len });
    d.setAuthTag(ciphertext.subarray(len));
    const body = d.update(ciphertext.subarray(0, len));
    d.final();
    return view(body);
  } catch {
    return undefined;
  }
};

function nativeAeadAgrees(): boolean {
  try {
    const k = randomBytes(32), ad = randomBytes(19), p = randomBytes(100);
    const c = nobleSeal(k, 7n, ad, p);
    const bad = c.slice();
    bad[0] ^= 1;
    return equalBytes(nodeSeal(k, 7n, ad, p), c) && equalBytes(nodeOpen(k, 7n, ad, c)!, p) &&
      nodeOpen(k, 7n, ad, bad) === undefined && nodeOpen(k, 8n, ad, c) === undefined &&
      equalBytes(nodeSeal(k, 0n, ad, new Uint8Array(0)), nobleSeal(k, 0n, ad, new Uint8Array(0)));
  } catch {
    return false;
  }
}

const nativeAead = nativeAeadAgrees();

/** Which implementation ChaCha20-Poly1305 uses: `"node"` (native) or `"noble"`. */
export const aeadImplementation: "node" | "noble" = nativeAead ? "node" : "noble";

/** ChaCha20-Poly1305 seal (ciphertext || 16-byte tag). */
export const aeadSeal: Seal = nativeAead ? nodeSeal : nobleSeal;

/** ChaCha20-Poly1305 open; `undefined` when the tag does not verify. */
export const aeadOpen: Open = nativeAead ? nodeOpen : nobleOpen;

/** The pure-JS implementations, for benchmarks and cross-checks. */
export const noble = {
  seal: nobleSeal,
  open: nobleOpen,
  hash: nobleHash,
  hmac: nobleHmac,
  hkdf: nobleHkdf,
};

/** The native implementations (may throw where `node:crypto` lacks them). */
export const native = {
  seal: nodeSeal,
  open: nodeOpen,
  hash: nodeHash,
  hmac: nodeHmac,
  hkdf: nodeHkdf,
};

/** Constant-time-ish equality of two byte arrays (length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] ^ b[i];
  return acc === 0;
}

/** Bytewise comparison (for tie-breaks): negative when `a < b`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Concatenation. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Parse lowercase or uppercase hex; throws on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error("invalid hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

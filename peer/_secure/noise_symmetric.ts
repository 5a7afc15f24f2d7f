/**
 * Noise CipherState and SymmetricState (Noise spec revision 34, sections 5.1 and 5.2) for
 * ChaChaPoly and SHA256.
 *
 * @module
 */
import { aeadOpen, aeadSeal, hash, hash2, noiseHkdf as hkdfOutputs } from "./crypto.ts";

const EMPTY = new Uint8Array(0);
const MAX_NONCE = 0xffff_ffff_ffff_ffffn;

/** Thrown when a handshake or transport message does not decrypt. */
export class NoiseError extends Error {
  override name = "NoiseError";
}

/** A key and an implicit nonce counter. */
export class CipherState {
  #k: Uint8Array | undefined;
  #n = 0n;

  constructor(key?: Uint8Array) {
    this.#k = key;
  }

  /** The key (for the session layer, which keeps explicit counters). */
  get key(): Uint8Array | undefined {
    return this.#k;
  }

  /** Whether a key is set. */
  hasKey(): boolean {
    return this.#k !== undefined;
  }

  /** EncryptWithAd: plaintext passes through when no key is set. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return plaintext;
    if (this.#n === MAX_NONCE) throw new NoiseError("nonce exhausted");
    return aeadSeal(this.#k, this.#n++, ad, plaintext);
  }

  /** DecryptWithAd; throws {@linkcode NoiseError} on a bad tag (the nonce is not used up). */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return ciphertext;
    if (this.#n === MAX_NONCE) throw new NoiseError("nonce exhausted");
    const out = aeadOpen(this.#k, this.#n, ad, ciphertext);
    if (out === undefined) throw new NoiseError("decrypt failed");
    this.#n++;
    return out;
  }

  /** Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). */
  rekey(): void {
    if (this.#k === undefined) return;
    this.#k = aeadSeal(this.#k, MAX_NONCE, EMPTY, new Uint8Array(32)).subarray(0, 32);
  }
}

/** Noise's HKDF with SHA256: RFC 5869 with salt = chaining key and empty info. */
function noiseHkdf(ck: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const okm = hkdfOutputs(ck, ikm, outputs);
  const out = [okm.subarray(0, 32), okm.subarray(32, 64)];
  if (outputs === 3) out.push(okm.subarray(64, 96));
  return out;
}

const initialHashes = new Map<string, Uint8Array>();

/** The first `h` (and `ck`) of a protocol name; callers never write into it. */
function initialHash(protocolName: string): Uint8Array {
  let h = initialHashes.get(protocolName);
  if (h === undefined) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= 32) {
      h = new Uint8Array(32);
      h.set(name);
    } else {
      h = hash(name);
    }
    if (initialHashes.size < 64) initialHashes.set(protocolName, h);
  }
  return h;
}

/** Chaining key, handshake hash and the handshake's CipherState. */
export class SymmetricState {
  #ck: Uint8Array;
  #h: Uint8Array;
  #cs = new CipherState();

  /**
   * InitializeSymmetric(protocolName), or, with `h`, the state right after it and some MixHash
   * calls (a handshake's start depends only on its name, prologue and pre-messages: cached).
   */
  constructor(protocolName: string, h?: Uint8Array) {
    if (h !== undefined) {
      this.#h = h;
      this.#ck = initialHash(protocolName);
      return;
    }
    this.#h = initialHash(protocolName);
    this.#ck = this.#h;
  }

  /** The current `h` (read-only view; `mixHash` replaces it, never writes into it). */
  get h(): Uint8Array {
    return this.#h;
  }

  /** The handshake hash `h` (a channel binding once the handshake is done). */
  get handshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /** Whether the handshake cipher has a key. */
  hasKey(): boolean {
    return this.#cs.hasKey();
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = noiseHkdf(this.#ck, ikm, 2);
    this.#ck = ck;
    this.#cs = new CipherState(k);
  }

  mixHash(data: Uint8Array): void {
    this.#h = hash2(this.#h, data);
  }

  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, th, k] = noiseHkdf(this.#ck, ikm, 3);
    this.#ck = ck;
    this.mixHash(th);
    this.#cs = new CipherState(k);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ct = this.#cs.encryptWithAd(this.#h, plaintext);
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const pt = this.#cs.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return pt;
  }

  /** Split(): the two transport CipherStates (initiator to responder first). */
  split(): [CipherState, CipherState] {
    const [k1, k2] = noiseHkdf(this.#ck, EMPTY, 2);
    return [new CipherState(k1), new CipherState(k2)];
  }
}

/**
 * Noise HandshakeState (Noise spec section 5.3) over `25519_ChaChaPoly_SHA256`, generic over the
 * patterns of `noise_patterns.ts`. Synchronous, so a sans-IO core can run it on its receive path.
 *
 * @module
 */
import {
  concat,
  defaultDh,
  type Dh,
  fromHex,
  generateKeyPair,
  type KeyPair,
  toHex,
} from "./crypto.ts";
import { type HandshakePattern, usesPsk } from "./noise_patterns.ts";
import { type CipherState, NoiseError, SymmetricState } from "./noise_symmetric.ts";

const DHLEN = 32;
const NO_PROLOGUE = new Uint8Array(0);
const startHashes = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/** Options of a handshake. */
export interface HandshakeOptions {
  /** The pattern. */
  readonly pattern: HandshakePattern;
  /** Whether this side sends the first message. */
  readonly initiator: boolean;
  /** Prologue both sides must agree on (never mutated later: its start hash is cached). */
  readonly prologue?: Uint8Array;
  /** Our static key pair. */
  readonly s?: KeyPair;
  /** A fixed ephemeral key pair (test vectors only); fresh by default. */
  readonly e?: KeyPair;
  /** The remote static public key when known beforehand (IK initiator). */
  readonly rs?: Uint8Array;
  /** The pre-shared key (32 bytes) for psk patterns. */
  readonly psk?: Uint8Array;
  /** X25519 implementation. */
  readonly dh?: Dh;
}

/** The result of a completed handshake. */
export interface HandshakeResult {
  /** Cipher for messages we send. */
  readonly send: CipherState;
  /** Cipher for messages we receive. */
  readonly receive: CipherState;
  /** The handshake hash (channel binding). */
  readonly handshakeHash: Uint8Array;
  /** The remote static public key. */
  readonly remoteStatic: Uint8Array;
}

/** One side of a Noise handshake. Throws {@linkcode NoiseError} on any bad message. */
export class HandshakeState {
  readonly #pattern: HandshakePattern;
  readonly #initiator: boolean;
  readonly #ss: SymmetricState;
  readonly #dh: Dh;
  readonly #psk: Uint8Array | undefined;
  readonly #hasPsk: boolean;
  readonly #s: KeyPair | undefined;
  #e: KeyPair | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  #index = 0;
  #result: HandshakeResult | undefined;

  constructor(options: HandshakeOptions) {
    const p = options.pattern;
    this.#pattern = p;
    this.#initiator = options.initiator;
    this.#dh = options.dh ?? defaultDh;
    this.#s = options.s;
    this.#e = options.e;
    this.#rs = options.rs;
    this.#psk = options.psk;
    this.#hasPsk = usesPsk(p);
    if (this.#hasPsk && options.psk?.length !== 32) throw new NoiseError("psk must be 32 bytes");
    const name = `Noise_${p.name}_25519_ChaChaPoly_SHA256`;
    const prologue = options.prologue ?? NO_PROLOGUE;
    let pre = "";
    for (const token of p.responderPre) {
      if (token !== "s") throw new NoiseError(`unsupported pre-message token ${token}`);
      const key = this.#initiator ? this.#rs : this.#s?.publicKey;
      if (key === undefined) throw new NoiseError("pre-message static key missing");
      pre += toHex(key);
    }
    // h after the prologue and pre-messages depends on nothing else: computed once per room
    // (prologue array), pattern and pre-message key.
    let byPrologue = startHashes.get(prologue);
    if (byPrologue === undefined) startHashes.set(prologue, byPrologue = new Map());
    const cacheKey = `${name} ${pre}`;
    const h = byPrologue.get(cacheKey);
    if (h !== undefined) this.#ss = new SymmetricState(name, h);
    else {
      this.#ss = new SymmetricState(name);
      this.#ss.mixHash(prologue);
      for (let i = 0; i < pre.length; i += 64) this.#ss.mixHash(fromHex(pre.slice(i, i + 64)));
      if (byPrologue.size >= 1024) byPrologue.clear();
      byPrologue.set(cacheKey, this.#ss.h);
    }
  }

  /** Whether it is our turn to write. */
  isMyTurn(): boolean {
    return this.#result === undefined && (this.#index % 2 === 0) === this.#initiator;
  }

  /** The remote static key once received (or given). */
  get remoteStatic(): Uint8Array | undefined {
    return this.#rs;
  }

  /** The remote ephemeral key once received. */
  get remoteEphemeral(): Uint8Array | undefined {
    return this.#re;
  }

  /** Our ephemeral public key once generated. */
  get localEphemeral(): Uint8Array | undefined {
    return this.#e?.publicKey;
  }

  /** The result, once the last message is written or read. */
  get result(): HandshakeResult | undefined {
    return this.#result;
  }

  /** The current handshake hash. */
  get handshakeHash(): Uint8Array {
    return this.#ss.handshakeHash;
  }

  #mixDh(token: "ee" | "es" | "se" | "ss"): void {
    const i = this.#initiator;
    // es: initiator's e with responder's s; se: initiator's s with responder's e.
    const local = token === "ee"
      ? this.#e
      : token === "ss"
      ? this.#s
      : (token === "es") === i
      ? this.#e
      : this.#s;
    const remote = token === "ee"
      ? this.#re
      : token === "ss"
      ? this.#rs
      : (token === "es") === i
      ? this.#rs
      : this.#re;
    if (local === undefined || remote === undefined) throw new NoiseError(`${token}: key missing`);
    let shared: Uint8Array;
    try {
      shared = this.#dh.dhPair
        ? this.#dh.dhPair(local, remote)
        : this.#dh.dh(local.secretKey, remote);
    } catch {
      throw new NoiseError(`${token}: invalid public key`);
    }
    this.#ss.mixKey(shared);
  }

  #mixPsk(): void {
    if (this.#psk === undefined) throw new NoiseError("psk missing");
    this.#ss.mixKeyAndHash(this.#psk);
  }

  /** Write the next handshake message around `payload`. */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (!this.isMyTurn()) throw new NoiseError("not our turn to write");
    const parts: Uint8Array[] = [];
    for (const token of this.#pattern.messages[this.#index]) {
      switch (token) {
        case "e": {
          this.#e ??= generateKeyPair(this.#dh);
          parts.push(this.#e.publicKey);
          this.#ss.mixHash(this.#e.publicKey);
          if (this.#hasPsk) this.#ss.mixKey(this.#e.publicKey);
          break;
        }
        case "s":
          if (this.#s === undefined) throw new NoiseError("static key missing");
          parts.push(this.#ss.encryptAndHash(this.#s.publicKey));
          break;
        case "psk":
          this.#mixPsk();
          break;
        default:
          this.#mixDh(token);
      }
    }
    parts.push(this.#ss.encryptAndHash(payload));
    this.#advance();
    return concat(...parts);
  }

  /** Read the next handshake message; returns its payload. */
  readMessage(message: Uint8Array): Uint8Array {
    if (this.#result !== undefined || this.isMyTurn()) throw new NoiseError("not our turn to read");
    let at = 0;
    const take = (n: number): Uint8Array => {
      if (message.length - at < n) throw new NoiseError("handshake message too short");
      const out = message.subarray(at, at + n);
      at += n;
      return out;
    };
    for (const token of this.#pattern.messages[this.#index]) {
      switch (token) {
        case "e": {
          this.#re = take(DHLEN).slice();
          this.#ss.mixHash(this.#re);
          if (this.#hasPsk) this.#ss.mixKey(this.#re);
          break;
        }
        case "s": {
          const ct = take(this.#ss.hasKey() ? DHLEN + 16 : DHLEN);
          this.#rs = this.#ss.decryptAndHash(ct).slice();
          break;
        }
        case "psk":
          this.#mixPsk();
          break;
        default:
          this.#mixDh(token);
      }
    }
    const payload = this.#ss.decryptAndHash(message.subarray(at));
    this.#advance();
    return payload;
  }

  #advance(): void {
    this.#index++;
    if (this.#index < this.#pattern.messages.length) return;
    const [c1, c2] = this.#ss.split();
    if (this.#rs === undefined) throw new NoiseError("remote static key never received");
    this.#result = {
      send: this.#initiator ? c1 : c2,
      receive: this.#initiator ? c2 : c1,
      handshakeHash: this.#ss.handshakeHash,
      remoteStatic: this.#rs,
    };
  }
}

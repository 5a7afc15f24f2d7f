/**
 * One transport session: the two keys a handshake split into, explicit counters on the way out,
 * a replay window on the way in. The counter is the ChaChaPoly nonce and travels in the clear
 * in the SEALED header (Noise's implicit nonces assume an ordered, lossless channel; UDP is not).
 *
 * @module
 */
import { aeadOpen, aeadSeal } from "./crypto.ts";
import { ReplayWindow } from "./replay.ts";
import { decodeSealed, SEALED_HEADER_BYTES, sealedBuffer, type SealedFrame } from "./wire.ts";

/** Sending stops (and a new handshake is required) at this counter, far below 2^64. */
export const REJECT_AFTER_MESSAGES = 2 ** 52;

/** A transport session. */
export class Session {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly createdAt: number;
  readonly initiator: boolean;
  /** Whether the remote is known to hold the keys (so we may send on it). */
  confirmed: boolean;
  readonly #sendKey: Uint8Array;
  readonly #receiveKey: Uint8Array;
  #sendCounter = 0;
  readonly #window = new ReplayWindow();

  constructor(init: {
    localIndex: number;
    remoteIndex: number;
    sendKey: Uint8Array;
    receiveKey: Uint8Array;
    createdAt: number;
    initiator: boolean;
    confirmed: boolean;
  }) {
    this.localIndex = init.localIndex;
    this.remoteIndex = init.remoteIndex;
    this.#sendKey = init.sendKey;
    this.#receiveKey = init.receiveKey;
    this.createdAt = init.createdAt;
    this.initiator = init.initiator;
    this.confirmed = init.confirmed;
  }

  /** Messages sealed so far (the next counter). */
  get sent(): number {
    return this.#sendCounter;
  }

  /** Highest counter received and authenticated (-1 before any). */
  get highestReceived(): number {
    return this.#window.highest;
  }

  /** Seal an inner datagram into a SEALED datagram; `undefined` once the counter is exhausted. */
  seal(inner: Uint8Array): Uint8Array | undefined {
    if (this.#sendCounter >= REJECT_AFTER_MESSAGES) return undefined;
    const counter = this.#sendCounter++;
    const out = sealedBuffer(this.remoteIndex, counter, inner.length + 16);
    const ct = aeadSeal(
      this.#sendKey,
      BigInt(counter),
      out.subarray(0, SEALED_HEADER_BYTES),
      inner,
    );
    out.set(ct, SEALED_HEADER_BYTES);
    return out;
  }

  /**
   * Open a SEALED datagram addressed to this session: the inner datagram, or why not.
   * `newest` says whether its counter is the highest seen (only then may the peer's path move).
   */
  open(
    datagram: Uint8Array | SealedFrame,
  ): { ok: true; inner: Uint8Array; newest: boolean } | { ok: false; reason: OpenDropReason } {
    const f = datagram instanceof Uint8Array ? decodeSealed(datagram) : datagram;
    if (f === undefined || f.receiver !== this.localIndex) {
      return { ok: false, reason: "malformed" };
    }
    if (!this.#window.check(f.counter)) return { ok: false, reason: "replay" };
    const inner = aeadOpen(this.#receiveKey, BigInt(f.counter), f.header, f.ciphertext);
    if (inner === undefined) return { ok: false, reason: "bad-tag" };
    const newest = f.counter > this.#window.highest;
    this.#window.accept(f.counter);
    return { ok: true, inner, newest };
  }
}

/** Why a SEALED datagram was dropped. */
export type OpenDropReason = "malformed" | "replay" | "bad-tag";

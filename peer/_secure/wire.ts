/**
 * Wire codec of the two secure extension messages, in v1 framing
 * (`type u8 | peer count u16 = 0 | payload length u32 | payload`, big-endian):
 *
 * ```
 * HANDSHAKE (18): step u8 | sender index u32 | receiver index u32 | noise message | mac[16]
 *   step: 1 = XXpsk3 message 1, 2 = XXpsk3 message 2, 3 = XXpsk3 message 3,
 *         4 = IKpsk2 message 1, 5 = IKpsk2 message 2
 *   receiver index: 0 in a first message
 *   mac: first 16 bytes of HMAC-SHA256(room mac key, every byte before the mac)
 * SEALED (19):    receiver index u32 | counter u64 | ciphertext (inner datagram + 16-byte tag)
 *   ChaCha20-Poly1305 with the session key, nonce = counter, associated data = the 19 bytes
 *   before the ciphertext; the plaintext is a whole inner Olaf datagram (or empty: keepalive)
 * ```
 *
 * @module
 */
import { decode, ProtocolError } from "@olaf/protocol";
import { equalBytes, hmacKeyed } from "./crypto.ts";

/** HANDSHAKE type code (allocated to issue 10). */
export const HANDSHAKE_CODE = 18;
/** SEALED type code (allocated to issue 10). */
export const SEALED_CODE = 19;
/** v1 framing bytes before an extension payload. */
export const FRAME_BYTES = 7;
/** HANDSHAKE bytes around the Noise message: framing, step, two indexes, mac. */
export const HANDSHAKE_OVERHEAD = FRAME_BYTES + 9 + 16;
/** SEALED header bytes (framing, receiver index, counter): the associated data. */
export const SEALED_HEADER_BYTES = FRAME_BYTES + 12;
/** SEALED bytes around the inner datagram (header and tag). */
export const SEALED_OVERHEAD = SEALED_HEADER_BYTES + 16;
const MAC_BYTES = 16;

/** Handshake steps. */
export const Step = { XX1: 1, XX2: 2, XX3: 3, IK1: 4, IK2: 5 } as const;
/** A handshake step code. */
export type StepCode = (typeof Step)[keyof typeof Step];

/** A decoded HANDSHAKE. */
export interface HandshakeFrame {
  readonly step: StepCode;
  readonly sender: number;
  readonly receiver: number;
  /** View of the Noise message. */
  readonly noise: Uint8Array;
}

/** A decoded SEALED header. */
export interface SealedFrame {
  readonly receiver: number;
  readonly counter: number;
  /** View of the associated data (the header). */
  readonly header: Uint8Array;
  /** View of the ciphertext. */
  readonly ciphertext: Uint8Array;
}

function frame(code: number, payloadBytes: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(FRAME_BYTES + payloadBytes);
  const view = new DataView(out.buffer);
  out[0] = code;
  view.setUint16(1, 0);
  view.setUint32(3, payloadBytes);
  return { out, view };
}

/** Encode a HANDSHAKE, mac included. */
export function encodeHandshake(
  macKey: Uint8Array,
  step: StepCode,
  sender: number,
  receiver: number,
  noise: Uint8Array,
): Uint8Array {
  const { out, view } = frame(HANDSHAKE_CODE, 9 + noise.length + MAC_BYTES);
  out[7] = step;
  view.setUint32(8, sender);
  view.setUint32(12, receiver);
  out.set(noise, 16);
  const macAt = out.length - MAC_BYTES;
  out.set(hmacKeyed(macKey, out.subarray(0, macAt)).subarray(0, MAC_BYTES), macAt);
  return out;
}

/** Why a secure datagram was not accepted. */
export type WireDropReason = "malformed" | "bad-step" | "bad-mac";

/** Result of {@linkcode decodeHandshake}. */
export type HandshakeDecode =
  | { readonly ok: true; readonly frame: HandshakeFrame }
  | { readonly ok: false; readonly reason: WireDropReason; readonly step?: number };

function payloadOf(datagram: Uint8Array, code: number): Uint8Array | undefined {
  if (datagram[0] !== code) return undefined;
  try {
    const m = decode(datagram);
    return m.type === "EXTENSION" && m.peers.length === 0 ? m.payload : undefined;
  } catch (error) {
    if (error instanceof ProtocolError) return undefined;
    throw error;
  }
}

/** Decode a HANDSHAKE and check its mac. */
export function decodeHandshake(macKey: Uint8Array, datagram: Uint8Array): HandshakeDecode {
  const p = payloadOf(datagram, HANDSHAKE_CODE);
  if (p === undefined || p.length < 9 + 32 + MAC_BYTES) return { ok: false, reason: "malformed" };
  const step = p[0];
  if (step < 1 || step > 5) return { ok: false, reason: "bad-step" };
  const macAt = datagram.length - MAC_BYTES;
  const mac = hmacKeyed(macKey, datagram.subarray(0, macAt)).subarray(0, MAC_BYTES);
  if (!equalBytes(mac, datagram.subarray(macAt))) return { ok: false, reason: "bad-mac", step };
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {
    ok: true,
    frame: {
      step: step as StepCode,
      sender: view.getUint32(1),
      receiver: view.getUint32(5),
      noise: p.subarray(9, p.length - MAC_BYTES),
    },
  };
}

/** Encode a SEALED datagram's header into a buffer with room for `ciphertextBytes` after it. */
export function sealedBuffer(
  receiver: number,
  counter: number,
  ciphertextBytes: number,
): Uint8Array {
  const { out, view } = frame(SEALED_CODE, 12 + ciphertextBytes);
  view.setUint32(7, receiver);
  view.setBigUint64(11, BigInt(counter));
  return out;
}

/** Decode a SEALED header (no decryption). */
export function decodeSealed(datagram: Uint8Array): SealedFrame | undefined {
  const p = payloadOf(datagram, SEALED_CODE);
  if (p === undefined || p.length < 12 + 16) return undefined;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const counter = view.getBigUint64(4);
  if (counter > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    receiver: view.getUint32(0),
    counter: Number(counter),
    header: datagram.subarray(0, SEALED_HEADER_BYTES),
    ciphertext: p.subarray(12),
  };
}

/**
 * Olaf identities: an Ed25519 key pair, fresh per process or kept in a file.
 *
 * The X25519 static key Noise uses is derived from the Ed25519 key by the standard birational
 * map (RFC 7748 section 4.1, libsodium's `crypto_sign_ed25519_pk_to_curve25519`): the X25519
 * secret is the clamped first half of SHA-512(seed), exactly the scalar Ed25519 signs with, and
 * the X25519 public key is the Montgomery u-coordinate of the Ed25519 point. Anyone holding the
 * Ed25519 public key can compute the peer's Noise static key (so IK needs nothing else), and
 * completing a handshake with it proves possession of the Ed25519 secret scalar. The map from
 * X25519 back to Ed25519 loses the sign bit, so handshakes carry the Ed25519 public key in the
 * encrypted payload and the receiver checks that it maps to the Noise static key it saw. Using
 * one key for signatures and DH is analysed as sound by Thormarker (2021, "On using the same key
 * pair for Ed25519 and an X25519 based KEM"); Olaf signs nothing with it today.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import * as fs from "node:fs";
import {
  defaultDh,
  equalBytes,
  fromHex,
  type KeyPair,
  keyPairFromSecret,
  toHex,
} from "./crypto.ts";

/** A peer's identity: its Ed25519 key pair and the X25519 static derived from it. */
export interface Identity {
  /** Ed25519 public key (32 bytes): what a member is known by. */
  readonly publicKey: Uint8Array;
  /** Ed25519 secret seed (32 bytes). */
  readonly secretKey: Uint8Array;
  /** The X25519 key pair Noise uses, derived from the Ed25519 key. */
  readonly staticKey: KeyPair;
}

/** Thrown for an identity file that cannot be used; `message` says why and names the file. */
export class IdentityFileError extends Error {
  override name = "IdentityFileError";
}

/** The identity of an Ed25519 seed. */
export function identityFromSecret(secretKey: Uint8Array): Identity {
  if (secretKey.length !== 32) throw new Error("an Ed25519 secret key is 32 bytes");
  const xSecret = ed25519.utils.toMontgomerySecret(secretKey);
  return {
    secretKey: secretKey.slice(),
    publicKey: ed25519.getPublicKey(secretKey),
    staticKey: keyPairFromSecret(xSecret, defaultDh),
  };
}

/** A fresh random identity. */
export function generateIdentity(): Identity {
  return identityFromSecret(ed25519.utils.randomSecretKey());
}

// Point decompression costs a field exponentiation; peers meet the same keys again (rekeys,
// reconnections), so conversions are cached (bounded; cleared when full).
const montgomeryCache = new Map<string, Uint8Array>();

/** The Noise static (X25519) public key of an Ed25519 public key; throws on an invalid key. */
export function staticKeyOf(publicKey: Uint8Array): Uint8Array {
  const hex = toHex(publicKey);
  let key = montgomeryCache.get(hex);
  if (key === undefined) {
    key = ed25519.utils.toMontgomery(publicKey);
    if (montgomeryCache.size >= 4096) montgomeryCache.clear();
    montgomeryCache.set(hex, key);
  }
  return key.slice();
}

/** Whether `publicKey` (Ed25519) is the identity behind Noise static key `staticKey`. */
export function bindsTo(publicKey: Uint8Array, staticKey: Uint8Array): boolean {
  try {
    return equalBytes(staticKeyOf(publicKey), staticKey);
  } catch {
    return false;
  }
}

/**
 * The sign-flipped twin of an Ed25519 public key: the same y coordinate with the other sign of
 * x (bit 255 flipped), the point -A. It maps to the same X25519 static key, so a handshake
 * proves either spelling equally; Olaf treats both as one member (see {@linkcode memberKey}).
 */
export function twinOf(publicKey: Uint8Array): Uint8Array {
  const t = publicKey.slice();
  t[31] ^= 0x80;
  return t;
}

/**
 * The key a member is identified by, the same for an Ed25519 key and its twin: the spelling
 * with the sign bit clear, as 64 hex digits. A handshake proves the X25519 static key, which
 * fixes y but not the sign of x, so the two spellings are one member: sessions, allow-lists
 * and member identity compare this (documented in protocol/SECURE.md, "Twin keys").
 */
export function memberKey(publicKey: Uint8Array): string {
  const hex = toHex(publicKey);
  const top = parseInt(hex.slice(62), 16);
  return top < 0x80 ? hex : hex.slice(0, 62) + (top & 0x7f).toString(16).padStart(2, "0");
}

/** Public-key text encoding: 64 lowercase hex digits. */
export function encodePublicKey(publicKey: Uint8Array): string {
  return toHex(publicKey);
}

/** Parse a public key written by {@linkcode encodePublicKey}; throws with a clear message. */
export function parsePublicKey(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    throw new Error(`not an Olaf public key (64 hex digits): ${JSON.stringify(text)}`);
  }
  const key = fromHex(t);
  try {
    ed25519.Point.fromBytes(key);
  } catch {
    throw new Error(`not a valid Ed25519 public key: ${t}`);
  }
  return key;
}

const FILE_TYPE = "olaf-identity-v1";

/** The text of an identity file: JSON with the seed and (for reading by eye) the public key. */
export function formatIdentityFile(identity: Identity): string {
  return JSON.stringify({
    type: FILE_TYPE,
    publicKey: toHex(identity.publicKey),
    secretKey: toHex(identity.secretKey),
  }) + "\n";
}

/** Parse an identity file's text; `path` only names the file in errors. */
export function parseIdentityFile(text: string, path = "identity file"): Identity {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new IdentityFileError(`${path}: not an Olaf identity file (not JSON)`);
  }
  const rec = data as Record<string, unknown> | null;
  if (typeof rec !== "object" || rec === null || rec.type !== FILE_TYPE) {
    throw new IdentityFileError(`${path}: not an Olaf identity file (type is not ${FILE_TYPE})`);
  }
  if (typeof rec.secretKey !== "string" || !/^[0-9a-f]{64}$/.test(rec.secretKey)) {
    throw new IdentityFileError(`${path}: secretKey must be 64 lowercase hex digits`);
  }
  const identity = identityFromSecret(fromHex(rec.secretKey));
  if (rec.publicKey !== undefined && rec.publicKey !== toHex(identity.publicKey)) {
    throw new IdentityFileError(`${path}: publicKey does not match secretKey (edited file?)`);
  }
  return identity;
}

/**
 * Load the identity in `path`, or create the file (mode 0600, never overwriting) with a fresh
 * identity when it does not exist. On POSIX systems a file readable by group or others is
 * refused, as ssh refuses such keys.
 */
export function loadOrCreateIdentity(path: string): Identity {
  let fd: number;
  try {
    fd = fs.openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as { code?: string }).code !== "EEXIST") {
      throw new IdentityFileError(`${path}: cannot create identity file: ${String(error)}`);
    }
    return loadIdentity(path);
  }
  const identity = generateIdentity();
  try {
    fs.writeSync(fd, formatIdentityFile(identity));
  } finally {
    fs.closeSync(fd);
  }
  return identity;
}

/** Load an existing identity file (see {@linkcode loadOrCreateIdentity} for the checks). */
export function loadIdentity(path: string): Identity {
  let text: string;
  let mode: number;
  try {
    mode = fs.statSync(path).mode;
    text = fs.readFileSync(path, "utf8");
  } catch (error) {
    throw new IdentityFileError(`${path}: cannot read identity file: ${String(error)}`);
  }
  if (globalThis.process?.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new IdentityFileError(
      `${path}: identity file is readable by others (mode ${(mode & 0o777).toString(8)}); ` +
        `run chmod 600 ${path}`,
    );
  }
  return parseIdentityFile(text, path);
}

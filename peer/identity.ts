/**
 * Olaf identities (issue 10): an Ed25519 key pair per peer, fresh per process or kept in a file.
 * A secure room's member is its public key; the Noise static key is derived from it.
 *
 * @module
 */
import {
  encodePublicKey as encodeKey,
  generateIdentity as generate,
  IdentityFileError as InternalIdentityFileError,
  loadOrCreateIdentity as loadOrCreate,
  parsePublicKey as parseKey,
} from "./_secure/identity.ts";

/**
 * A peer's identity: its Ed25519 key pair and the X25519 key pair Noise uses, derived from it.
 *
 * @example
 * ```ts
 * import { generateIdentity, type Identity } from "@olaf/peer";
 * const identity: Identity = generateIdentity();
 * console.log(identity.publicKey.length); // 32
 * ```
 */
export interface Identity {
  /** Ed25519 public key (32 bytes): what a member of a secure room is known by. */
  readonly publicKey: Uint8Array;
  /** Ed25519 secret seed (32 bytes). */
  readonly secretKey: Uint8Array;
  /** The X25519 key pair Noise uses (derived from the Ed25519 key). */
  readonly staticKey: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };
}

/**
 * An identity file that cannot be used; `message` says why and names the file.
 *
 * @example
 * ```ts
 * import { IdentityFileError, loadOrCreateIdentity } from "@olaf/peer";
 * import assert from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/id.json`, "not json", { mode: 0o600 });
 * assert.throws(() => loadOrCreateIdentity(`${dir}/id.json`), IdentityFileError);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class IdentityFileError extends Error {
  /** `"IdentityFileError"`. */
  override name = "IdentityFileError";
}

/**
 * A fresh random identity.
 *
 * @returns The identity.
 *
 * @example
 * ```ts
 * import { encodePublicKey, generateIdentity } from "@olaf/peer";
 * console.log(encodePublicKey(generateIdentity().publicKey).length); // 64
 * ```
 */
export function generateIdentity(): Identity {
  return generate();
}

/**
 * Loads the identity in `path`, or creates the file (mode 0600, never overwriting) with a fresh
 * identity when it does not exist. On POSIX systems a file readable by group or others is
 * refused, as ssh refuses such keys.
 *
 * @param path The identity file.
 * @returns The identity.
 * @throws {IdentityFileError} A file that cannot be read, created or parsed, or is readable by others.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity } from "@olaf/peer";
 * import assert from "node:assert/strict";
 *
 * const path = `${Deno.makeTempDirSync()}/olaf-identity.json`;
 * const first = loadOrCreateIdentity(path); // created, mode 0600
 * assert.deepEqual(loadOrCreateIdentity(path).publicKey, first.publicKey); // loaded
 * ```
 */
export function loadOrCreateIdentity(path: string): Identity {
  try {
    return loadOrCreate(path);
  } catch (error) {
    if (error instanceof InternalIdentityFileError) throw new IdentityFileError(error.message);
    throw error;
  }
}

/**
 * A public key as text: 64 lowercase hex digits (what `publicKey` fields and `allow` lists hold).
 *
 * @param publicKey An Ed25519 public key (32 bytes).
 * @returns The text.
 *
 * @example
 * ```ts
 * import { encodePublicKey, generateIdentity } from "@olaf/peer";
 * import assert from "node:assert/strict";
 * assert.match(encodePublicKey(generateIdentity().publicKey), /^[0-9a-f]{64}$/);
 * ```
 */
export function encodePublicKey(publicKey: Uint8Array): string {
  return encodeKey(publicKey);
}

/**
 * Parses a public key written by {@linkcode encodePublicKey} (64 hex digits, either case).
 *
 * @param text The key.
 * @returns The 32 bytes.
 * @throws {Error} Not 64 hex digits, or not a valid Ed25519 point; the message says which.
 *
 * @example
 * ```ts
 * import { encodePublicKey, generateIdentity, parsePublicKey } from "@olaf/peer";
 * import assert from "node:assert/strict";
 * const key = generateIdentity().publicKey;
 * assert.deepEqual(parsePublicKey(encodePublicKey(key)), key);
 * assert.throws(() => parsePublicKey("abc"), /64 hex digits/);
 * ```
 */
export function parsePublicKey(text: string): Uint8Array {
  return parseKey(text);
}

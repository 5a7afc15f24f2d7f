/**
 * Keys derived from a room secret and a room name (HKDF-SHA256, one label per use):
 *
 * ```
 * prk      = HKDF-Extract(salt = "olaf/v1 room", ikm = secret)
 * psk      = HKDF-Expand(prk, "olaf/v1 psk"  || 0x00 || name, 32)   Noise psk
 * macKey   = HKDF-Expand(prk, "olaf/v1 mac"  || 0x00 || name, 32)   HANDSHAKE mac
 * tag      = HKDF-Expand(prk, "olaf/v1 tag"  || 0x00 || name, 16)   what the bootstrap sees
 * prologue = "olaf/v1" || tag                                         Noise prologue
 * ```
 *
 * The bootstrap only ever learns `tag`, which reveals neither the secret nor the name (HKDF is a
 * PRF) but lets anyone holding it test guesses of a weak secret offline: secrets should be
 * random (e.g. 32 random bytes), not passwords. An open room is the same construction with an
 * empty secret: its keys follow from the name alone, so its encryption only keeps out passive
 * observers who do not know the room's name.
 *
 * @module
 */
import { concat, hkdfExpand, hkdfExtract, toHex } from "./crypto.ts";

/** Keys of one room. */
export interface RoomKeys {
  /** The room name as given. */
  readonly name: string;
  /** Whether a secret was given (a secure room) or not (an open room). */
  readonly secure: boolean;
  /** Noise pre-shared key. */
  readonly psk: Uint8Array;
  /** Key of the mac on every HANDSHAKE datagram. */
  readonly macKey: Uint8Array;
  /** The room tag (16 bytes). */
  readonly tag: Uint8Array;
  /** The tag as 32 hex digits: the room name the bootstrap sees for a secure room. */
  readonly tagHex: string;
  /** Noise prologue binding the handshake to this room. */
  readonly prologue: Uint8Array;
}

const enc = new TextEncoder();

function label(what: string, name: string): Uint8Array {
  return concat(enc.encode(`olaf/v1 ${what}`), new Uint8Array([0]), enc.encode(name));
}

/** Derive a room's keys. `secret` empty or absent: an open room. */
export function roomKeys(name: string, secret?: Uint8Array | string): RoomKeys {
  const s = typeof secret === "string" ? enc.encode(secret) : secret ?? new Uint8Array(0);
  const prk = hkdfExtract(enc.encode("olaf/v1 room"), s);
  const tag = hkdfExpand(prk, label("tag", name), 16);
  return {
    name,
    secure: s.length > 0,
    psk: hkdfExpand(prk, label("psk", name), 32),
    macKey: hkdfExpand(prk, label("mac", name), 32),
    tag,
    tagHex: toHex(tag),
    prologue: concat(enc.encode("olaf/v1"), tag),
  };
}

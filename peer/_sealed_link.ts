/**
 * Secure rooms in the peer (issue 10): the `"noise"` link of an Olaf member with a Noise session,
 * and the small helpers the machine uses around its one `SecureEndpoint` (address keys, the
 * handshake budget). The crypto itself lives in `_secure/`; this module only adapts it to links.
 *
 * @module
 */
import { type AddressKey, decode, type Message } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import type { ReliableLink } from "@olaf/protocol/reliable";
import type { Frame, Link } from "./_link.ts";
import type { SecureEndpoint } from "./_secure/endpoint.ts";
import { encodePublicKey } from "./_secure/identity.ts";

/**
 * A member's link over a Noise session: every frame goes out as one SEALED datagram carrying the
 * whole v1 datagram; its path follows the endpoint (an authenticated datagram from a new address
 * moves it: roaming).
 */
export class SealedLink implements Link {
  readonly kind = "noise";
  readonly publicKey: Uint8Array;
  /** The public key as 64 lowercase hex digits. */
  readonly keyHex: string;
  /**
   * The key as member records show it: only when the room secret authenticated it (a secure
   * room); an open room's opportunistic session proves nothing about who is at the other end.
   */
  readonly publicKeyHex: string | undefined;
  reliable: ReliableLink | undefined = undefined;
  #path: NetAddress;
  #pathKey: AddressKey;
  readonly #endpoint: SecureEndpoint;

  constructor(
    endpoint: SecureEndpoint,
    publicKey: Uint8Array,
    pathKey: AddressKey,
    verified: boolean,
  ) {
    this.#endpoint = endpoint;
    this.publicKey = publicKey;
    this.keyHex = encodePublicKey(publicKey);
    this.publicKeyHex = verified ? this.keyHex : undefined;
    this.#pathKey = pathKey;
    this.#path = pathOf(pathKey);
  }

  get path(): NetAddress {
    return this.#path;
  }

  get pathKey(): AddressKey {
    return this.#pathKey;
  }

  /** The member moved (only `Membership.move` calls this: it keeps the path index right). */
  moveTo(pathKey: AddressKey): void {
    this.#pathKey = pathKey;
    this.#path = pathOf(pathKey);
  }

  seal(frame: Frame, now: number): Uint8Array | undefined {
    return this.sealDatagram(frame.plaintext(), now);
  }

  /** SEALED bytes for a whole inner datagram; `undefined`: queued in the endpoint (no session). */
  sealDatagram(datagram: Uint8Array, now: number): Uint8Array | undefined {
    const t = this.#endpoint.seal(now, this.publicKey, datagram);
    if (t !== undefined) return t.data;
    this.#endpoint.send(now, this.publicKey, datagram); // goes out once a session is up
    return undefined;
  }

  /** Inner datagrams were opened by the endpoint already; this decodes one. */
  open(data: Uint8Array, _now: number): Message {
    return decode(data);
  }
}

/** The `NetAddress` of an IPv4 `"ip:port"` key. */
export function pathOf(key: string): NetAddress {
  const colon = key.lastIndexOf(":");
  return { hostname: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
}

/**
 * Handshakes we start towards addresses learned from gossip or the bootstrap, as a token bucket:
 * a forged list must not make us send handshakes at will (issue 10: "at a bounded rate").
 */
export class HandshakeBudget {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /**
   * @param perSecond Sustained handshakes per second.
   * @param burst Most at once.
   * @param now Current time in ms.
   */
  constructor(perSecond: number, burst: number, now: number) {
    this.#rate = perSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/** At most one report per key per interval (refused keys, wrong secrets). */
export class ReportLimiter {
  readonly #intervalMs: number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Whether `key` may be reported at `now` (and records it). */
  allow(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (this.#last.size >= 1024) this.#last.clear();
    this.#last.set(key, now);
    return true;
  }
}

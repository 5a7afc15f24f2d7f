/**
 * Links: what the peer machine keeps per member, and the one place where a
 * message becomes bytes for a destination (and bytes from a member become
 * a message). Every link is a plaintext v1 link; an Olaf member's link also
 * holds a `ReliableLink` (sequence numbers, ACKs, retransmit timers) once
 * reliable traffic starts. An Olaf member with a Noise session has a
 * `SealedLink` (`_sealed_link.ts`, kind `"noise"`) instead.
 */
import { type AddressKey, decode, encode, type Message, type MessageInit } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import type { ReliableLink } from "@olaf/protocol/reliable";

/**
 * A message the machine wants sent: described once (a snapshot taken when
 * it was queued) and shared by every destination it goes to. Its plaintext
 * v1 encoding is built at most once, on first use, at poll time.
 */
export class Frame {
  /** The message, as the codec takes it. */
  readonly message: MessageInit;
  #plaintext: Uint8Array | undefined;

  constructor(message: MessageInit) {
    this.message = message;
  }

  /** The v1 wire bytes (encoded once, then shared by every plaintext destination). */
  plaintext(): Uint8Array {
    return this.#plaintext ??= encode(this.message);
  }
}

/** Which protocol a link speaks. */
export type LinkKind = "v1-plaintext" | "noise";

/**
 * The per-member link. It owns the member's current path; `seal` turns an
 * outgoing frame into the bytes for that path at `pollTransmit(now)` time,
 * `open` turns a datagram that arrived on the path into a message.
 */
export interface Link {
  /** The protocol the link speaks. */
  readonly kind: LinkKind;
  /** Where the member is reached now (NAT traversal will move it). */
  readonly path: NetAddress;
  /** `"ip:port"` of {@linkcode Link.path}: the key of the machine's path index. */
  readonly pathKey: AddressKey;
  /**
   * Reliable delivery state (an Olaf member's sequence numbers, ACKs, timers):
   * made on the first reliable send to it or the first `DATA`/`ACK` from it.
   */
  reliable: ReliableLink | undefined;
  /**
   * Bytes to send for `frame` on this link (sealing and ACKs go here); `undefined` when the
   * link queued it itself (a sealed link whose session is not up yet).
   */
  seal(frame: Frame, now: number): Uint8Array | undefined;
  /** The same for a whole datagram already encoded (reliable `DATA`/`ACK`). */
  sealDatagram(datagram: Uint8Array, now: number): Uint8Array | undefined;
  /** The message in a datagram from this link's path; throws `ProtocolError` for bad input. */
  open(data: Uint8Array, now: number): Message;
}

/**
 * A deployed v1 peer's link (and, for now, every Olaf peer's): plaintext v1
 * datagrams, no per-link state beyond the path.
 */
export class PlaintextV1Link implements Link {
  readonly kind = "v1-plaintext";
  readonly path: NetAddress;
  readonly pathKey: AddressKey;
  reliable: ReliableLink | undefined = undefined;

  constructor(path: NetAddress, pathKey: AddressKey) {
    this.path = path;
    this.pathKey = pathKey;
  }

  seal(frame: Frame, _now: number): Uint8Array {
    return frame.plaintext();
  }

  sealDatagram(datagram: Uint8Array, _now: number): Uint8Array {
    return datagram;
  }

  open(data: Uint8Array, _now: number): Message {
    return decode(data);
  }
}

/** How datagrams are read from paths without a link: bootstraps, candidates, strangers. */
export function openUnlinked(data: Uint8Array): Message {
  return decode(data);
}

/** Where modules queue what they want sent: the machine's intent queue. */
export interface Outbox {
  /** Queues `frame` to a member, on its link. */
  toLink(link: Link, frame: Frame): void;
  /** Queues `frame` to an address with no link (bootstrap, candidate, stranger). */
  toPath(to: NetAddress, frame: Frame): void;
}

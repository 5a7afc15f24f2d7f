/**
 * The secure session layer of one room, sans-IO: handshakes (XXpsk3 on first contact, IKpsk2
 * when the peer's public key is known), sessions indexed by receiver index (so a peer keeps its
 * session when its address changes), rekeying, simultaneous-open tie-break, the anti-amplification
 * budget, and events. Datagrams go in through {@linkcode SecureEndpoint.handleDatagram}, come out
 * through {@linkcode SecureEndpoint.pollTransmit}; nothing here does I/O or reads a clock.
 *
 * @module
 */
import {
  compareBytes,
  defaultDh,
  type Dh,
  generateKeyPair,
  type KeyPair,
  keyPairFromSecret,
  toHex,
} from "./crypto.ts";
import { bindsTo, type Identity, memberKey, staticKeyOf, twinOf } from "./identity.ts";
import { HandshakeState } from "./noise_handshake.ts";
import { type HandshakePattern, pattern } from "./noise_patterns.ts";
import { NoiseError } from "./noise_symmetric.ts";
import type { RoomKeys } from "./room_keys.ts";
import { type OpenDropReason, Session } from "./session.ts";
import {
  decodeHandshake,
  decodeSealed,
  encodeHandshake,
  HANDSHAKE_CODE,
  SEALED_CODE,
  Step,
  type StepCode,
  type WireDropReason,
} from "./wire.ts";

const XX: HandshakePattern = pattern("XXpsk3");
const IK: HandshakePattern = pattern("IKpsk2");

/** Options of a {@linkcode SecureEndpoint}. */
export interface SecureEndpointOptions {
  /** Our identity. */
  readonly identity: Identity;
  /** The room's keys (`roomKeys(name, secret)`). */
  readonly room: RoomKeys;
  /** Which remote public keys may have a session; all when absent. */
  readonly allow?: (publicKey: Uint8Array) => boolean;
  /** Start a new handshake after this many messages sent on a session (default 2^20). */
  readonly rekeyAfterMessages?: number;
  /** Start a new handshake when a session we initiated is this old (ms, default 120,000). */
  readonly rekeyAfterMs?: number;
  /** Handshake retransmit interval (ms, default 1,000). */
  readonly retryMs?: number;
  /** Retransmissions before a handshake is given up (default 4). */
  readonly maxRetries?: number;
  /** A first handshake message is padded to at least this many bytes (default 128). */
  readonly minInitiationBytes?: number;
  /** Most handshakes in progress at once (default 1,024; the oldest is dropped). */
  readonly maxHandshakes?: number;
  /** Messages queued per peer while its session is being set up (default 64). */
  readonly maxQueued?: number;
  /** Random source (ephemeral keys, indexes); `crypto.getRandomValues` by default. */
  readonly random?: (n: number) => Uint8Array;
  /** X25519 implementation. */
  readonly dh?: Dh;
}

/** A name of a Noise pattern Olaf runs. */
export type PatternName = "XXpsk3" | "IKpsk2";

/** Events of the secure layer. Public keys are Ed25519 keys, 32 bytes. */
export type SecureEvent =
  | {
    readonly type: "session";
    readonly publicKey: Uint8Array;
    readonly address: string;
    readonly initiator: boolean;
    readonly pattern: PatternName;
    /** Whether it replaces an earlier session with the same peer. */
    readonly rekey: boolean;
  }
  | {
    readonly type: "message";
    readonly publicKey: Uint8Array;
    readonly address: string;
    /** The inner Olaf datagram. */
    readonly datagram: Uint8Array;
  }
  /** A well-formed first handshake message whose mac is not this room's: wrong secret. */
  | { readonly type: "wrong-secret"; readonly address: string }
  /** A peer proved this key but the allow-list refuses it. */
  | { readonly type: "refused-key"; readonly address: string; readonly publicKey: Uint8Array }
  | { readonly type: "handshake-failed"; readonly address: string; readonly reason: string }
  /** No answer to our handshake: the peer is offline, or its secret differs. */
  | {
    readonly type: "handshake-timeout";
    readonly address: string;
    readonly publicKey?: Uint8Array;
  };

/** Why a datagram produced nothing (counted in {@linkcode SecureEndpoint.drops}). */
export type SecureDropReason =
  | WireDropReason
  | OpenDropReason
  | "unknown-session"
  | "unexpected-handshake"
  | "handshake-failed"
  | "simultaneous-open"
  | "amplification-limit";

/** A datagram to send. */
export interface SecureTransmit {
  readonly to: string;
  readonly data: Uint8Array;
}

interface Pending {
  readonly localIndex: number;
  readonly initiator: boolean;
  readonly pattern: PatternName;
  readonly hs: HandshakeState;
  address: string;
  remoteIndex: number;
  /** The last handshake message we sent (retransmitted on timeout or on a duplicate). */
  lastSent: Uint8Array;
  retries: number;
  nextRetryAt: number;
  bytesIn: number;
  bytesOut: number;
  /** Hex of the remote ephemeral key of a first message we answered (duplicate detection). */
  remoteE?: string;
  done: boolean;
  expectedKey?: Uint8Array;
}

interface Peer {
  /** The spelling it presented first. */
  readonly publicKey: Uint8Array;
  readonly hex: string;
  /** `memberKey` of it: what `#peers` is keyed by. */
  readonly id: string;
  address: string;
  current?: Session;
  previous?: Session;
  /** A responder-side session not yet confirmed by the initiator. */
  next?: Session;
  queue: Uint8Array[];
}

const EMPTY = new Uint8Array(0);

/** The secure layer of one room. */
export class SecureEndpoint {
  readonly identity: Identity;
  readonly room: RoomKeys;
  readonly #allow: (publicKey: Uint8Array) => boolean;
  readonly #rekeyAfterMessages: number;
  readonly #rekeyAfterMs: number;
  readonly #retryMs: number;
  readonly #maxRetries: number;
  readonly #minInitiationBytes: number;
  readonly #maxHandshakes: number;
  readonly #maxQueued: number;
  readonly #random: (n: number) => Uint8Array;
  readonly #scriptedRandom: boolean;
  readonly #dh: Dh;

  readonly #handshakes = new Map<number, Pending>();
  readonly #outgoing = new Map<string, Pending>();
  readonly #answered = new Map<string, Pending>();
  readonly #sessions = new Map<number, { session: Session; peer: Peer }>();
  readonly #peers = new Map<string, Peer>();
  readonly #transmits: SecureTransmit[] = [];
  readonly #events: SecureEvent[] = [];
  readonly #wrongSecretAt = new Map<string, number>();
  /** Drop counters by reason. */
  readonly drops: Record<SecureDropReason, number> = {
    "malformed": 0,
    "bad-step": 0,
    "bad-mac": 0,
    "replay": 0,
    "bad-tag": 0,
    "unknown-session": 0,
    "unexpected-handshake": 0,
    "handshake-failed": 0,
    "simultaneous-open": 0,
    "amplification-limit": 0,
  };

  constructor(options: SecureEndpointOptions) {
    this.identity = options.identity;
    this.room = options.room;
    this.#allow = options.allow ?? (() => true);
    this.#rekeyAfterMessages = options.rekeyAfterMessages ?? 2 ** 20;
    this.#rekeyAfterMs = options.rekeyAfterMs ?? 120_000;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#maxRetries = options.maxRetries ?? 4;
    this.#minInitiationBytes = options.minInitiationBytes ?? 128;
    this.#maxHandshakes = options.maxHandshakes ?? 1_024;
    this.#maxQueued = options.maxQueued ?? 64;
    this.#random = options.random ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
    this.#scriptedRandom = options.random !== undefined;
    this.#dh = options.dh ?? defaultDh;
  }

  /** Whether a datagram is one of ours (HANDSHAKE or SEALED) by its first byte. */
  static isSecure(datagram: Uint8Array): boolean {
    return datagram[0] === HANDSHAKE_CODE || datagram[0] === SEALED_CODE;
  }

  /** Public keys (hex) of peers with a session we can send on. */
  get peers(): string[] {
    return [...this.#peers.values()].filter((p) => p.current).map((p) => p.hex);
  }

  /** The current session with a peer (for tests and stats). */
  session(publicKey: Uint8Array): Session | undefined {
    return this.#peers.get(memberKey(publicKey))?.current;
  }

  /** The address we currently send to for a peer. */
  addressOf(publicKey: Uint8Array): string | undefined {
    return this.#peers.get(memberKey(publicKey))?.address;
  }

  /**
   * Forget a peer (it left, or was removed from the allow-list): its sessions stop decrypting at
   * once and its queued messages are dropped. Returns whether it was known.
   */
  remove(publicKey: Uint8Array): boolean {
    const hex = memberKey(publicKey);
    const peer = this.#peers.get(hex);
    if (peer === undefined) return false;
    for (const s of [peer.current, peer.previous, peer.next]) {
      if (s) this.#sessions.delete(s.localIndex);
    }
    const pending = this.#outgoing.get(peer.address);
    if (pending) this.#forget(pending);
    this.#peers.delete(hex);
    return true;
  }

  /** Next queued datagram to send. */
  pollTransmit(): SecureTransmit | undefined {
    return this.#transmits.shift();
  }

  /** Next event. */
  pollEvent(): SecureEvent | undefined {
    return this.#events.shift();
  }

  /** When {@linkcode handleTimeout} next has work (handshake retransmits), or undefined. */
  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const p of this.#handshakes.values()) {
      if (!p.done && (next === undefined || p.nextRetryAt < next)) next = p.nextRetryAt;
    }
    return next;
  }

  /** Retransmit or give up handshakes whose time has come. */
  handleTimeout(now: number): void {
    for (const p of [...this.#handshakes.values()]) {
      if (p.nextRetryAt > now) continue;
      if (p.done || p.retries >= this.#maxRetries) {
        this.#forget(p);
        if (!p.done && p.initiator) {
          this.#events.push({
            type: "handshake-timeout",
            address: p.address,
            ...(p.expectedKey ? { publicKey: p.expectedKey } : {}),
          });
        }
        continue;
      }
      p.retries++;
      p.nextRetryAt = now + this.#retryMs;
      this.#send(p, p.lastSent);
    }
  }

  /**
   * Start a handshake with `address`: IKpsk2 when the peer's public key is given, else XXpsk3.
   * Does nothing while one to that address is already under way.
   */
  connect(now: number, address: string, publicKey?: Uint8Array): void {
    if (this.#outgoing.has(address)) return;
    if (publicKey !== undefined && !this.#allows(publicKey)) {
      this.#events.push({ type: "refused-key", address, publicKey });
      return;
    }
    const localIndex = this.#newIndex();
    const e = this.#ephemeral();
    let noise: Uint8Array;
    let step: StepCode;
    let hs: HandshakeState;
    if (publicKey !== undefined) {
      hs = this.#handshake(IK, true, staticKeyOf(publicKey), e);
      noise = hs.writeMessage(this.identity.publicKey);
      step = Step.IK1;
    } else {
      hs = this.#handshake(XX, true, undefined, e);
      // Pad message 1 so that the answer can stay within 3x of it (QUIC's rule). Unpadded it is
      // framing 7 + header 9 + e 32 + payload tag 16 (psk makes e a key) + mac 16 bytes.
      const bare = 7 + 9 + 32 + 16 + 16;
      noise = hs.writeMessage(new Uint8Array(Math.max(0, this.#minInitiationBytes - bare)));
      step = Step.XX1;
    }
    const data = encodeHandshake(this.room.macKey, step, localIndex, 0, noise);
    const p: Pending = {
      localIndex,
      initiator: true,
      pattern: publicKey ? "IKpsk2" : "XXpsk3",
      hs,
      address,
      remoteIndex: 0,
      lastSent: data,
      retries: 0,
      nextRetryAt: now + this.#retryMs,
      bytesIn: Infinity, // we chose to contact this address: no amplification budget applies
      bytesOut: 0,
      done: false,
      ...(publicKey ? { expectedKey: publicKey } : {}),
    };
    this.#track(p);
    this.#outgoing.set(address, p);
    this.#send(p, data);
  }

  /**
   * Seal `inner` (a whole Olaf datagram) for a peer and return the datagram and its address,
   * for a link that builds bytes at poll time; `undefined` when no session can carry it now
   * (then {@linkcode send} queues it). May start a rekey handshake (see {@linkcode pollTransmit}).
   */
  seal(now: number, publicKey: Uint8Array, inner: Uint8Array): SecureTransmit | undefined {
    const peer = this.#peers.get(memberKey(publicKey));
    if (peer === undefined) return undefined;
    const t = this.#seal(now, peer, inner);
    if (t.rekey) this.#rekey(now, peer);
    return t.transmit;
  }

  /**
   * Seal `inner` for a peer and queue it for {@linkcode pollTransmit}. Returns `"sent"`,
   * `"queued"` (no usable session yet: it goes out once the handshake completes) or `"unknown"`
   * (no such peer; call {@linkcode connect} first).
   */
  send(now: number, publicKey: Uint8Array, inner: Uint8Array): "sent" | "queued" | "unknown" {
    const peer = this.#peers.get(memberKey(publicKey));
    if (peer === undefined) return "unknown";
    const t = this.#seal(now, peer, inner);
    if (t.transmit === undefined) {
      if (peer.queue.length < this.#maxQueued) peer.queue.push(inner);
    } else this.#transmits.push(t.transmit);
    if (t.rekey) this.#rekey(now, peer);
    return t.transmit === undefined ? "queued" : "sent";
  }

  #seal(
    now: number,
    peer: Peer,
    inner: Uint8Array,
  ): { transmit: SecureTransmit | undefined; rekey: boolean } {
    const s = peer.current;
    if (s === undefined) return { transmit: undefined, rekey: false };
    const data = s.seal(inner);
    const rekey = data === undefined || s.sent >= this.#rekeyAfterMessages ||
      (s.initiator && now - s.createdAt >= this.#rekeyAfterMs);
    return { transmit: data && { to: peer.address, data }, rekey };
  }

  /**
   * Take a datagram from `from`. Returns false when it is not a secure datagram (not ours to
   * handle); true otherwise, whatever became of it (see {@linkcode pollEvent} and `drops`).
   */
  handleDatagram(now: number, datagram: Uint8Array, from: string): boolean {
    if (datagram[0] === SEALED_CODE) {
      this.#onSealed(now, datagram, from);
      return true;
    }
    if (datagram[0] !== HANDSHAKE_CODE) return false;
    const d = decodeHandshake(this.room.macKey, datagram);
    if (!d.ok) {
      this.drops[d.reason]++;
      if (d.reason === "bad-mac" && (d.step === Step.XX1 || d.step === Step.IK1)) {
        this.#wrongSecret(now, from);
      }
      return true;
    }
    const f = d.frame;
    try {
      if (f.step === Step.XX1 || f.step === Step.IK1) this.#onFirst(now, f.step, f, datagram, from);
      else this.#onReply(now, f.step, f, datagram, from);
    } catch (error) {
      if (!(error instanceof NoiseError)) throw error;
      this.drops["handshake-failed"]++;
      this.#events.push({ type: "handshake-failed", address: from, reason: error.message });
    }
    return true;
  }

  #handshake(
    p: HandshakePattern,
    initiator: boolean,
    rs: Uint8Array | undefined,
    e: { publicKey: Uint8Array; secretKey: Uint8Array },
  ): HandshakeState {
    return new HandshakeState({
      pattern: p,
      initiator,
      prologue: this.room.prologue,
      s: this.identity.staticKey,
      e,
      rs,
      psk: this.room.psk,
      dh: this.#dh,
    });
  }

  #onFirst(
    now: number,
    step: StepCode,
    f: { sender: number; noise: Uint8Array },
    datagram: Uint8Array,
    from: string,
  ): void {
    const eHex = toHex(f.noise.subarray(0, 32));
    const seen = this.#answered.get(eHex);
    if (seen !== undefined && seen.done && seen.pattern === "XXpsk3") {
      this.drops.replay++; // a replay of a completed handshake's first message
      return;
    }
    if (seen !== undefined) {
      // A retransmitted first message: answer again from the same state, within budget.
      seen.bytesIn += datagram.length;
      if (seen.address === from) this.#send(seen, seen.lastSent);
      return;
    }
    const mine = this.#outgoing.get(from);
    if (mine !== undefined && !mine.done && mine.remoteIndex === 0) {
      // Simultaneous open: the handshake whose initiator ephemeral key is lower wins. Both sides
      // see both ephemeral keys in the clear, so they agree without a round trip.
      if (compareBytes(mine.hs.localEphemeral!, f.noise.subarray(0, 32)) < 0) {
        this.drops["simultaneous-open"]++;
        return;
      }
      this.#forget(mine);
    }
    const localIndex = this.#newIndex();
    const e = this.#ephemeral();
    const isIk = step === Step.IK1;
    const hs = this.#handshake(isIk ? IK : XX, false, undefined, e);
    const payload = hs.readMessage(f.noise);
    const p: Pending = {
      localIndex,
      initiator: false,
      pattern: isIk ? "IKpsk2" : "XXpsk3",
      hs,
      address: from,
      remoteIndex: f.sender,
      lastSent: EMPTY,
      retries: 0,
      nextRetryAt: now + this.#retryMs,
      bytesIn: datagram.length,
      bytesOut: 0,
      remoteE: eHex,
      done: false,
    };
    let remoteKey: Uint8Array | undefined;
    if (isIk) {
      remoteKey = this.#checkIdentity(payload, hs.remoteStatic!, from);
      if (remoteKey === undefined) return;
    }
    const reply = hs.writeMessage(isIk ? EMPTY : this.identity.publicKey);
    p.lastSent = encodeHandshake(
      this.room.macKey,
      isIk ? Step.IK2 : Step.XX2,
      localIndex,
      f.sender,
      reply,
    );
    this.#track(p);
    this.#answered.set(eHex, p);
    if (isIk) {
      // IK is complete for us; we may send on it only once the initiator used it.
      p.done = true;
      p.nextRetryAt = now + this.#retryMs * (this.#maxRetries + 1);
      this.#install(now, p, remoteKey!, false);
    }
    this.#send(p, p.lastSent);
  }

  #onReply(
    now: number,
    step: StepCode,
    f: { sender: number; receiver: number; noise: Uint8Array },
    datagram: Uint8Array,
    from: string,
  ): void {
    const p = this.#handshakes.get(f.receiver);
    const expected = p === undefined
      ? undefined
      : p.initiator
      ? (p.pattern === "XXpsk3" ? Step.XX2 : Step.IK2)
      : Step.XX3;
    if (p === undefined || step !== expected) {
      this.drops["unexpected-handshake"]++;
      return;
    }
    p.bytesIn += datagram.length;
    if (p.done) {
      // Our last message was lost: the peer repeats its own. Repeat ours (XX message 3).
      if (p.initiator && p.remoteIndex === f.sender) this.#send(p, p.lastSent);
      return;
    }
    const payload = p.hs.readMessage(f.noise);
    p.remoteIndex = f.sender;
    if (step === Step.IK2) {
      p.done = true;
      this.#install(now, p, p.expectedKey!, true);
      this.#forget(p);
      return;
    }
    const remoteKey = this.#checkIdentity(payload, p.hs.remoteStatic!, from);
    if (remoteKey === undefined) {
      this.#forget(p);
      return;
    }
    if (step === Step.XX2) {
      const m3 = p.hs.writeMessage(this.identity.publicKey);
      p.lastSent = encodeHandshake(this.room.macKey, Step.XX3, p.localIndex, f.sender, m3);
      p.done = true;
      p.nextRetryAt = now + this.#retryMs * (this.#maxRetries + 1);
      this.#outgoing.delete(p.address);
      this.#send(p, p.lastSent);
      this.#install(now, p, remoteKey, true);
    } else {
      // Kept until it expires so that a replayed message 1 is recognised and ignored.
      p.done = true;
      p.nextRetryAt = now + this.#retryMs * (this.#maxRetries + 1);
      this.#install(now, p, remoteKey, true);
    }
  }

  /** The Ed25519 key in a handshake payload, if it binds to the Noise static and is allowed. */
  #checkIdentity(payload: Uint8Array, rs: Uint8Array, from: string): Uint8Array | undefined {
    const key = payload.subarray(0, 32).slice();
    if (payload.length < 32 || !bindsTo(key, rs)) {
      throw new NoiseError("identity key does not match the Noise static key");
    }
    if (!this.#allows(key)) {
      this.#events.push({ type: "refused-key", address: from, publicKey: key });
      return undefined;
    }
    return key;
  }

  /** The allow-list admits a key or its twin (one member: see `memberKey`). */
  #allows(key: Uint8Array): boolean {
    return this.#allow(key) || this.#allow(twinOf(key));
  }

  #install(now: number, p: Pending, presented: Uint8Array, confirmed: boolean): void {
    const r = p.hs.result!;
    const session = new Session({
      localIndex: p.localIndex,
      remoteIndex: p.remoteIndex,
      sendKey: r.send.key!,
      receiveKey: r.receive.key!,
      createdAt: now,
      initiator: p.initiator,
      confirmed,
    });
    // A member keeps the spelling it presented first (its twin is the same member).
    const id = memberKey(presented);
    let peer = this.#peers.get(id);
    const rekey = peer !== undefined && (peer.current !== undefined || peer.next !== undefined);
    if (peer === undefined) {
      peer = { publicKey: presented, hex: toHex(presented), id, address: p.address, queue: [] };
      this.#peers.set(id, peer);
    }
    const publicKey = peer.publicKey;
    peer.address = p.address;
    this.#sessions.set(session.localIndex, { session, peer });
    if (confirmed) this.#promote(peer, session);
    else {
      if (peer.next) this.#sessions.delete(peer.next.localIndex);
      peer.next = session;
    }
    this.#events.push({
      type: "session",
      publicKey,
      address: p.address,
      initiator: p.initiator,
      pattern: p.pattern,
      rekey,
    });
    if (confirmed && p.pattern === "IKpsk2" && peer.queue.length === 0) {
      // Confirm the session to the responder right away (WireGuard's keepalive).
      const data = session.seal(EMPTY);
      if (data) this.#transmits.push({ to: peer.address, data });
    }
    this.#flush(now, peer);
  }

  #promote(peer: Peer, session: Session): void {
    if (peer.previous) this.#sessions.delete(peer.previous.localIndex);
    peer.previous = peer.current;
    peer.current = session;
    if (peer.next === session) peer.next = undefined;
    session.confirmed = true;
  }

  #flush(now: number, peer: Peer): void {
    if (!peer.current) return;
    const queued = peer.queue;
    peer.queue = [];
    for (const inner of queued) this.send(now, peer.publicKey, inner);
  }

  #onSealed(now: number, datagram: Uint8Array, from: string): void {
    const f = decodeSealed(datagram);
    if (f === undefined) {
      this.drops.malformed++;
      return;
    }
    const entry = this.#sessions.get(f.receiver);
    if (entry === undefined) {
      this.drops["unknown-session"]++;
      return;
    }
    const r = entry.session.open(f);
    if (!r.ok) {
      this.drops[r.reason]++;
      return;
    }
    const { peer, session } = entry;
    if (peer.next === session) {
      this.#promote(peer, session);
      this.#flush(now, peer);
    }
    // Roaming: an authenticated datagram with the newest counter moves the peer's path.
    if (r.newest && session === peer.current && peer.address !== from) peer.address = from;
    if (r.inner.length === 0) return; // keepalive
    this.#events.push({
      type: "message",
      publicKey: peer.publicKey,
      address: from,
      datagram: r.inner,
    });
  }

  #rekey(now: number, peer: Peer): void {
    this.connect(now, peer.address, peer.publicKey);
  }

  #send(p: Pending, data: Uint8Array): void {
    // Anti-amplification: until the peer proves its address, at most 3x what it sent us.
    if (p.bytesOut + data.length > 3 * p.bytesIn) {
      this.drops["amplification-limit"]++;
      return;
    }
    p.bytesOut += data.length;
    this.#transmits.push({ to: p.address, data });
  }

  #wrongSecret(now: number, from: string): void {
    const last = this.#wrongSecretAt.get(from);
    if (last !== undefined && now - last < 10_000) return;
    if (this.#wrongSecretAt.size >= 1024) this.#wrongSecretAt.clear();
    this.#wrongSecretAt.set(from, now);
    this.#events.push({ type: "wrong-secret", address: from });
  }

  /** A fresh ephemeral key pair: from `random` when one was given (vectors), else native. */
  #ephemeral(): KeyPair {
    return this.#scriptedRandom
      ? keyPairFromSecret(this.#random(32), this.#dh)
      : generateKeyPair(this.#dh);
  }

  #newIndex(): number {
    for (;;) {
      const b = this.#random(4);
      const i = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      if (i !== 0 && !this.#handshakes.has(i) && !this.#sessions.has(i)) return i;
    }
  }

  #track(p: Pending): void {
    if (this.#handshakes.size >= this.#maxHandshakes) {
      const oldest = this.#handshakes.values().next().value;
      if (oldest) this.#forget(oldest);
    }
    this.#handshakes.set(p.localIndex, p);
  }

  #forget(p: Pending): void {
    this.#handshakes.delete(p.localIndex);
    if (this.#outgoing.get(p.address) === p) this.#outgoing.delete(p.address);
    if (p.remoteE !== undefined && this.#answered.get(p.remoteE) === p) {
      this.#answered.delete(p.remoteE);
    }
  }
}

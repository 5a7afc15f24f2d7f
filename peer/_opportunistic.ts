/**
 * Opportunistic encryption in open rooms (issue 10): which Olaf members' links get a Noise
 * session, when, and what waits for one.
 *
 * - **Lazy.** A handshake starts only when we have application data (`APP_R`, reliable
 *   `DATA`/`ACK`) for an Olaf member whose link is still plaintext: a room that only keeps its
 *   membership never handshakes, and membership (v1 `PING`, SWIM) stays plaintext v1 whatever
 *   happens to a handshake.
 * - **Held, then plaintext.** On the first try the member's `APP_R`s wait (at most
 *   {@linkcode HOLD_MS}, at most {@linkcode MAX_HELD}) for the session and then leave sealed;
 *   if it is not up by then they leave in plaintext, as v1 would send them. Reliable datagrams
 *   are never held (their engine would count the wait as loss and give up): until the session
 *   is up they go in plaintext. Small rooms seal links in the background (below), so data
 *   rarely finds a link unsealed. Later tries (after a
 *   failure) hold nothing: the data goes on in plaintext while the handshake runs.
 * - **Paced.** Every start takes a token of the machine's handshake budget (none left: plaintext
 *   now, the next datagram tries again); a failed or lost handshake backs off exponentially per
 *   member ({@linkcode BACKOFF_MS} doubling to {@linkcode MAX_BACKOFF_MS}). Answers to members'
 *   handshakes take a token of a second budget; strangers' handshakes get none.
 *
 * @module
 */
import type { AddressKey } from "@olaf/protocol";
import { ACK_TYPE } from "@olaf/protocol/reliable";
import type { Frame } from "./_link.ts";
import { HandshakeBudget, SealedLink } from "./_sealed_link.ts";

/** How long a member's application datagrams wait for its first handshake (ms). */
export const HOLD_MS = 1_500;
/** Most `APP_R`s held per member. */
export const MAX_HELD = 64;
/** A handshake not done by then counts as failed (the endpoint gives up after ~5 s). */
export const PENDING_MS = 8_000;
/** Wait after the first failure (ms); doubles with each further one. */
export const BACKOFF_MS = 30_000;
/** Longest wait between tries (ms). */
export const MAX_BACKOFF_MS = 600_000;
/**
 * Small rooms upgrade in the background too, before any data (so that the first line does not
 * wait a round trip): rooms of at most this many members, the lower address of a pair starting.
 */
export const EAGER_MAX_MEMBERS = 16;
/** Background upgrades: per second, and at once (per machine). */
const EAGER_PER_SECOND = 2;
const EAGER_BURST = 8;
/** At most one session check per member this often (ms). */
export const CHECK_MS = 10_000;
/** Answers to members' first handshake messages: per second, and at once. */
const ANSWERS_PER_SECOND = 50;
const ANSWER_BURST = 100;

/**
 * An open room's sealed link: application data (`APP_R`; reliable datagrams go through
 * `sealDatagram`) is sealed, membership frames (`PING`, SWIM) stay plaintext v1, so that a
 * session lost on either side never costs a member.
 */
export class OpportunisticLink extends SealedLink {
  /** When application data last came from the member: sealed, and in plaintext (-1: never). */
  sealedInAt = -1;
  plainInAt = -1;

  override seal(frame: Frame, now: number): Uint8Array | undefined {
    return frame.message.type === "APP_R" ? super.seal(frame, now) : frame.plaintext();
  }
}

interface Upgrade {
  /** Handshakes started towards it. */
  tries: number;
  /** A handshake is under way (ours, or one we answered) since then; -1: none. */
  since: number;
  /** No new try before this time. */
  nextAt: number;
  /** No session check (see {@linkcode Upgrades.check}) before this time. */
  checkAt: number;
  /** Held application datagrams leave in plaintext at this time. */
  holdUntil: number;
  held: Uint8Array[];
}

/** A datagram to send in plaintext to a member's path. */
export interface Released {
  readonly key: AddressKey;
  readonly data: Uint8Array;
}

/** Counters (in the machine's stats). */
export interface UpgradeStats {
  /** Handshakes we started. */
  started: number;
  /** Members' first handshake messages we answered. */
  answered: number;
  /** Handshake messages dropped: from a stranger, or over the answer budget. */
  refused: number;
  /** Links that became encrypted. */
  sealed: number;
  /** Application datagrams sent in plaintext to an Olaf member (no session, hold over). */
  plaintext: number;
}

/** Per-member upgrade state of one machine. */
export class Upgrades {
  readonly #budget: HandshakeBudget;
  readonly #answers: HandshakeBudget;
  readonly #eager: HandshakeBudget;
  readonly #connect: (key: AddressKey, now: number) => void;
  readonly #max: number;
  readonly #states = new Map<AddressKey, Upgrade>();
  readonly #released: Released[] = [];
  readonly stats: UpgradeStats = { started: 0, answered: 0, refused: 0, sealed: 0, plaintext: 0 };

  /**
   * @param budget Tokens for handshakes we start (shared with the machine's other handshakes).
   * @param connect Starts a handshake to a member's address.
   * @param maxMembers Most members tracked (the room's peer limit).
   * @param now Current time in ms.
   */
  constructor(
    budget: HandshakeBudget,
    connect: (key: AddressKey, now: number) => void,
    maxMembers: number,
    now: number,
  ) {
    this.#budget = budget;
    this.#answers = new HandshakeBudget(ANSWERS_PER_SECOND, ANSWER_BURST, now);
    this.#eager = new HandshakeBudget(EAGER_PER_SECOND, EAGER_BURST, now);
    this.#connect = connect;
    this.#max = maxMembers;
  }

  #state(key: AddressKey): Upgrade {
    let s = this.#states.get(key);
    if (s === undefined) {
      if (this.#states.size >= this.#max) this.#states.clear(); // bounded; forgets only pacing
      this.#states.set(
        key,
        s = {
          tries: 0,
          since: -1,
          nextAt: 0,
          checkAt: 0,
          holdUntil: 0,
          held: [],
        },
      );
    }
    return s;
  }

  /**
   * An application datagram (plaintext v1 or reliable) for an Olaf member on a plaintext link:
   * the bytes to send now in plaintext, or `undefined` when it is held for the session.
   */
  out(
    key: AddressKey,
    datagram: Uint8Array,
    now: number,
    reliable: boolean,
  ): Uint8Array | undefined {
    const s = this.#state(key);
    // An ACK starts nothing: the DATA it answers started (or will start) a handshake there.
    if (s.since < 0 && now >= s.nextAt && datagram[0] !== ACK_TYPE) {
      if (!this.#budget.take(now)) return this.#plain(datagram);
      this.#start(key, s, now);
    }
    // Reliable datagrams are never held: their engine gives up on a member silent for about ten
    // retransmission timeouts, which can be shorter than a handshake under loss.
    if (!reliable && s.since >= 0 && now < s.holdUntil && s.held.length < MAX_HELD) {
      s.held.push(datagram);
      return undefined;
    }
    return this.#plain(datagram);
  }

  #start(key: AddressKey, s: Upgrade, now: number): void {
    s.tries++;
    s.since = now;
    if (s.tries === 1) s.holdUntil = now + HOLD_MS; // only the first try holds data
    this.stats.started++;
    this.#connect(key, now);
  }

  /**
   * A background upgrade (small rooms, before any data): started when none is under way or
   * backing off and the background budget has a token; otherwise tried again later.
   */
  eager(key: AddressKey, now: number): void {
    const s = this.#states.get(key);
    if (s !== undefined && (s.since >= 0 || now < s.nextAt)) return;
    if (!this.#eager.take(now) || !this.#budget.take(now)) return;
    this.#start(key, s ?? this.#state(key), now);
  }

  #plain(datagram: Uint8Array): Uint8Array {
    this.stats.plaintext++;
    return datagram;
  }

  /**
   * A first handshake message from `key`: whether to answer it. Only Olaf members get answers,
   * within the answer budget; while it runs our own application data waits for it too.
   */
  answer(key: AddressKey, member: boolean, now: number): boolean {
    if (!member || !this.#answers.take(now)) {
      this.stats.refused++;
      return false;
    }
    this.stats.answered++;
    const s = this.#state(key);
    if (s.since < 0) {
      s.since = now;
      if (s.tries === 0 && s.holdUntil === 0) s.holdUntil = now + HOLD_MS;
    }
    return true;
  }

  /** The member's link is sealed: its held datagrams, to seal and send. */
  sealed(key: AddressKey): Uint8Array[] {
    const s = this.#states.get(key);
    this.#states.delete(key);
    this.stats.sealed++;
    return s?.held ?? [];
  }

  /** Our handshake to `key` failed or timed out: held data goes in plaintext; back off. */
  failed(key: AddressKey, now: number): void {
    const s = this.#states.get(key);
    if (s === undefined || s.since < 0) return;
    s.since = -1;
    const failures = Math.max(1, s.tries);
    s.nextAt = now + Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (failures - 1));
    this.#release(key, s);
  }

  #release(key: AddressKey, s: Upgrade): void {
    for (const data of s.held) {
      this.stats.plaintext++;
      this.#released.push({ key, data });
    }
    s.held = [];
    s.holdUntil = 0;
  }

  /**
   * Plaintext application data came from a member whose link is sealed: whether to check its
   * session with a handshake now (once per {@linkcode CHECK_MS} per member, within budget).
   */
  check(key: AddressKey, now: number): boolean {
    const s = this.#state(key);
    if (now < s.checkAt || !this.#budget.take(now)) return false;
    s.checkAt = now + CHECK_MS;
    this.stats.started++;
    return true;
  }

  /** The member left (or lost its session): start afresh next time. */
  forget(key: AddressKey): void {
    this.#states.delete(key);
  }

  /** Next plaintext datagram released from a hold. */
  pollReleased(): Released | undefined {
    return this.#released.shift();
  }

  /** Releases holds that are over and gives up handshakes that never finished. */
  handleTimeout(now: number): void {
    for (const [key, s] of this.#states) {
      if (s.since >= 0 && now - s.since >= PENDING_MS) this.failed(key, now);
      else if (s.held.length > 0 && now >= s.holdUntil) {
        this.#release(key, s);
      }
    }
  }

  /** When {@linkcode handleTimeout} has work next, or `undefined`. */
  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const s of this.#states.values()) {
      let at: number | undefined;
      if (s.held.length > 0) at = s.holdUntil;
      if (s.since >= 0) at = Math.min(at ?? Infinity, s.since + PENDING_MS);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }
}

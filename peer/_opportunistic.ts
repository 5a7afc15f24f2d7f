/**
 * Opportunistic encryption in open rooms (issue 10): which Olaf members' links get a Noise
 * session, and when. Nothing waits for one: data goes as v1 would send it until the link is
 * sealed, and membership (v1 `PING`, SWIM) stays plaintext v1 whatever happens to a handshake.
 *
 * - **Background, small rooms.** In a room of at most {@linkcode EAGER_MAX_MEMBERS} members
 *   (never in SWIM's large rooms), at a heartbeat, the lower address of a pair starts a handshake
 *   with an Olaf member heard from for {@linkcode EAGER_AFTER_MS} (and across a heartbeat), paced
 *   by a small budget: links are sealed some 5-8 s after meeting, before most data.
 * - **Lazy, any room.** The first application datagram (`APP_R`, reliable `DATA`) to an Olaf
 *   member whose link is still plaintext starts a handshake; the datagram itself (and what
 *   follows until the session is up) leaves in plaintext, so no message waits a round trip.
 * - **Paced.** Every start takes a token of the machine's handshake budget (none left: the next
 *   datagram tries again); a failed or lost handshake backs off exponentially per member
 *   ({@linkcode BACKOFF_MS} doubling to {@linkcode MAX_BACKOFF_MS}). Answers to members'
 *   handshakes take a token of a second budget; strangers' handshakes get none.
 *
 * @module
 */
import type { AddressKey } from "@olaf/protocol";
import { ACK_TYPE } from "@olaf/protocol/reliable";
import type { Frame } from "./_link.ts";
import { HandshakeBudget, SealedLink } from "./_sealed_link.ts";

/** A handshake not done by then counts as failed (the endpoint gives up after ~5 s). */
export const PENDING_MS = 8_000;
/** Wait after the first failure (ms); doubles with each further one. */
export const BACKOFF_MS = 30_000;
/** Longest wait between tries (ms). */
export const MAX_BACKOFF_MS = 600_000;
/** Small rooms upgrade in the background too: rooms of at most this many members. */
export const EAGER_MAX_MEMBERS = 16;
/**
 * ... members heard from for at least this long (ms, and across a heartbeat): a newcomer's first
 * seconds are for membership, and a one-shot sender is never worth a handshake.
 */
export const EAGER_AFTER_MS = 5_000;
/** Background upgrades: per second, and at once (per machine). */
const EAGER_PER_SECOND = 2;
const EAGER_BURST = 8;
/** Plaintext application data from a sealed member for this long (ms) before a session check. */
export const CHECK_AFTER_MS = 3_000;
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
  /** Since when application data has come in plaintext only (-1: the latest was sealed). */
  plainSince = -1;

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
}

/** Counters (in the machine's stats). */
export interface UpgradeStats {
  /** Handshakes we started (background, lazy and session checks). */
  started: number;
  /** Members' first handshake messages we answered. */
  answered: number;
  /** First handshake messages dropped: from a non-member, or over the answer budget. */
  refused: number;
  /** Links that became encrypted. */
  sealed: number;
  /** Application datagrams sent in plaintext to an Olaf member (its link not sealed yet). */
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
      s = { tries: 0, since: -1, nextAt: 0, checkAt: 0 };
      this.#states.set(key, s);
    }
    return s;
  }

  /** Whether a new try may start now (none under way, not backing off); expires stale tries. */
  #idle(s: Upgrade, now: number): boolean {
    if (s.since >= 0 && now - s.since >= PENDING_MS) this.#backOff(s, now);
    return s.since < 0 && now >= s.nextAt;
  }

  #start(key: AddressKey, s: Upgrade, now: number): void {
    s.tries++;
    s.since = now;
    this.stats.started++;
    this.#connect(key, now);
  }

  #backOff(s: Upgrade, now: number): void {
    s.since = -1;
    s.nextAt = now + Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (Math.max(1, s.tries) - 1));
  }

  /**
   * An application datagram goes in plaintext to an Olaf member whose link is not sealed: start
   * its upgrade if none is under way (an `ACK` starts nothing: the `DATA` it answers does that
   * on the other side).
   */
  out(key: AddressKey, datagram: Uint8Array, now: number): void {
    this.stats.plaintext++;
    if (datagram[0] === ACK_TYPE) return;
    const s = this.#state(key);
    if (this.#idle(s, now) && this.#budget.take(now)) this.#start(key, s, now);
  }

  /** A background upgrade (small rooms, at a heartbeat), within the background budget. */
  eager(key: AddressKey, now: number): void {
    const s = this.#state(key);
    if (!this.#idle(s, now) || !this.#eager.take(now) || !this.#budget.take(now)) return;
    this.#start(key, s, now);
  }

  /**
   * A first handshake message from `key`: whether to answer it. Only Olaf members get answers,
   * within the answer budget.
   */
  answer(key: AddressKey, member: boolean, now: number): boolean {
    if (!member || !this.#answers.take(now)) {
      this.stats.refused++;
      return false;
    }
    this.stats.answered++;
    const s = this.#state(key);
    if (s.since < 0) s.since = now; // ours would only collide with it
    return true;
  }

  /** The member's link is sealed. */
  sealed(key: AddressKey): void {
    this.#states.delete(key);
    this.stats.sealed++;
  }

  /** Our handshake to `key` failed or timed out: back off. */
  failed(key: AddressKey, now: number): void {
    const s = this.#states.get(key);
    if (s !== undefined && s.since >= 0) this.#backOff(s, now);
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
}

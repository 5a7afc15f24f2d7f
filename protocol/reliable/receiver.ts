/**
 * The receiving half of a reliable link: a dedup window over sequence
 * numbers, in-order delivery of ordered messages, immediate delivery of
 * unordered ones (each exactly once), fragment reassembly under a memory
 * bound and a timeout, and ACK generation (immediate on a gap or a
 * duplicate, delayed otherwise).
 *
 * @module
 */
import {
  ACK_HEADER_BYTES,
  ACK_RANGE_BYTES,
  type AckFrame,
  type AckRange,
  type DataFrame,
  encodeAck,
  FRAMING_BYTES,
  MAX_ACK_RANGES,
} from "./codec.ts";
import { serialAdd, serialDiff } from "./serial.ts";

/** Options of {@linkcode ReliableReceiver}; every field has a default. */
export interface ReceiverOptions {
  /** This link's incarnation, written in every `ACK` (default 0; `ReliableLink` picks a random one). */
  incarnation?: number;
  /** Sequence numbers accepted above the cumulative point, default 256 (the sender's window must not be larger). */
  windowPackets?: number;
  /** Largest message reassembled, default 1 MiB; larger ones are dropped. */
  maxMessageBytes?: number;
  /**
   * Bytes held for reassembly and for ordered messages waiting for an
   * earlier one, fragment overhead included; default 2 x `maxMessageBytes`.
   * A `DATA` that would go over is dropped unacknowledged (the sender retries).
   */
  maxBufferedBytes?: number;
  /** Messages being reassembled at once, default 128. */
  maxPartialMessages?: number;
  /** A partial message with no new fragment for this long is dropped, default 60 000 ms. */
  reassemblyTimeoutMs?: number;
  /** Longest an `ACK` waits for a second packet, default 25 ms. */
  ackDelayMs?: number;
  /** In-order packets acknowledged together, default 2. */
  ackEvery?: number;
  /** Most selective ranges per `ACK`, default 8 (at most 16). */
  maxAckRanges?: number;
}

/** What the receiver reports. */
export type ReceiverEvent =
  | { readonly type: "message"; readonly data: Uint8Array; readonly ordered: boolean }
  | {
    readonly type: "dropped";
    /** `reassembly-timeout`: fragments stopped coming; `too-large`: over `maxMessageBytes`. */
    readonly reason: "reassembly-timeout" | "too-large";
    readonly ordered: boolean;
    readonly messageId: number;
  }
  | { readonly type: "reset"; readonly session: number };

/** Counters of a {@linkcode ReliableReceiver}. */
export interface ReceiverStats {
  /** `DATA` taken (new sequence numbers). */
  dataReceived: number;
  /** `DATA` already received (dropped, acknowledged again). */
  duplicates: number;
  /** `DATA` beyond the window, of an old session, or unreliable (dropped unacknowledged). */
  refused: number;
  /** `DATA` dropped unacknowledged because the memory bound or the partial-message limit was reached. */
  memoryDrops: number;
  /** `DATA` inconsistent with earlier fragments of its message (acknowledged, ignored). */
  inconsistent: number;
  /** Messages delivered. */
  messages: number;
  /** Messages dropped (timeout, too large). */
  messagesDropped: number;
  /** `ACK`s built. */
  acksSent: number;
  /** Bytes of those `ACK`s. */
  ackBytesSent: number;
}

interface Partial {
  readonly ordered: boolean;
  readonly messageId: number;
  readonly count: number;
  readonly fragments: Map<number, Uint8Array>;
  bytes: number;
  lastProgress: number;
}

/** Bookkeeping bytes charged per stored fragment, so tiny fragments cannot hide their cost. */
const FRAGMENT_OVERHEAD_BYTES = 64;
const RETIRED_SESSIONS = 4;

/**
 * The receiving half of one reliable link. Sans-IO: `onData(frame, size,
 * now)` takes a decoded `DATA`, `pollAck(now)` builds the `ACK` when one is
 * due, `handleTimeout(now)` runs the ACK and reassembly timers, and events
 * (messages) come out through the `emit` callback.
 *
 * @example An out-of-order packet is acknowledged at once, with a range
 * ```ts
 * import { decodeAck, ReliableReceiver, type ReceiverEvent } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const events: ReceiverEvent[] = [];
 * const receiver = new ReliableReceiver({}, (e) => events.push(e));
 * const frame = (seq: number) => ({
 *   session: 10, seq, timestamp: 0, messageId: seq - 10, reliable: true, ordered: true,
 *   fragmentIndex: 0, fragmentCount: 1, data: new Uint8Array([seq]),
 * });
 * receiver.onData(frame(11), 30, 5); // 10 is missing
 * assert.equal(events.length, 0); // ordered: waits for 10
 * const ack = decodeAck(receiver.pollAck(5)!);
 * assert.deepEqual([ack.cumulative, ack.ranges], [10, [{ start: 11, end: 12 }]]);
 * receiver.onData(frame(10), 30, 6);
 * assert.deepEqual(events.map((e) => e.type === "message" && e.data[0]), [10, 11]);
 * ```
 */
export class ReliableReceiver {
  readonly #window: number;
  readonly #maxMessage: number;
  readonly #maxBuffered: number;
  readonly #maxPartials: number;
  readonly #reassemblyTimeout: number;
  readonly #ackDelay: number;
  readonly #ackEvery: number;
  readonly #maxRanges: number;
  readonly #emit: (event: ReceiverEvent) => void;
  readonly #incarnation: number;

  #session: number | undefined;
  #retired: number[] = [];
  #cumulative = 0;
  /** Sequence numbers received above the cumulative point. */
  #above = new Set<number>();
  #nextOrdered = 0;
  /** Ordered messages complete but waiting for an earlier one; `null`: dropped, skip it. */
  #held = new Map<number, Uint8Array | null>();
  #partials = new Map<number, Partial>();
  #buffered = 0;
  // ACK state
  #unacked = 0;
  #ackNow = false;
  #ackDeadline: number | undefined;
  #echo = 0;
  #echoAt = 0;
  #latestSeq = 0;
  #smallestTrigger = Infinity;

  /** Counters since creation. */
  readonly stats: ReceiverStats = {
    dataReceived: 0,
    duplicates: 0,
    refused: 0,
    memoryDrops: 0,
    inconsistent: 0,
    messages: 0,
    messagesDropped: 0,
    acksSent: 0,
    ackBytesSent: 0,
  };

  /**
   * Creates a receiver; the peer's session is learnt from its first `DATA`.
   *
   * @param options Limits and ACK timing.
   * @param emit Called for every event.
   */
  constructor(options: ReceiverOptions, emit: (event: ReceiverEvent) => void) {
    this.#window = options.windowPackets ?? 256;
    this.#maxMessage = options.maxMessageBytes ?? 1024 * 1024;
    this.#maxBuffered = options.maxBufferedBytes ?? 2 * this.#maxMessage;
    this.#maxPartials = options.maxPartialMessages ?? 128;
    this.#reassemblyTimeout = options.reassemblyTimeoutMs ?? 60_000;
    this.#ackDelay = options.ackDelayMs ?? 25;
    this.#ackEvery = options.ackEvery ?? 2;
    this.#maxRanges = Math.min(options.maxAckRanges ?? 8, MAX_ACK_RANGES);
    this.#emit = emit;
    this.#incarnation = (options.incarnation ?? 0) >>> 0;
  }

  /** Bytes held now for reassembly and ordered delivery (overhead included). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Messages being reassembled now. */
  get partialMessages(): number {
    return this.#partials.size;
  }

  /** The peer's session, once a `DATA` arrived. */
  get session(): number | undefined {
    return this.#session;
  }

  #reset(session: number): void {
    if (this.#session !== undefined) {
      this.#retired.push(this.#session);
      if (this.#retired.length > RETIRED_SESSIONS) this.#retired.shift();
      this.#emit({ type: "reset", session });
    }
    this.#session = session;
    this.#cumulative = session;
    this.#above.clear();
    this.#nextOrdered = 0;
    this.#held.clear();
    this.#partials.clear();
    this.#buffered = 0;
    this.#unacked = 0;
    this.#ackNow = false;
    this.#ackDeadline = undefined;
    this.#smallestTrigger = Infinity;
  }

  /**
   * Takes one decoded `DATA`.
   *
   * @param frame The frame (its `data` is copied if kept).
   * @param size Size of the datagram it came in (bounds the `ACK` it draws: at most 3x).
   * @param now Current time in ms.
   */
  onData(frame: DataFrame, size: number, now: number): void {
    if (!frame.reliable || this.#retired.includes(frame.session)) {
      this.stats.refused++;
      return;
    }
    if (frame.session !== this.#session) this.#reset(frame.session);
    const offset = serialDiff(frame.seq, this.#cumulative);
    if (offset >= this.#window) {
      this.stats.refused++;
      return;
    }
    if (offset < 0 || this.#above.has(frame.seq)) {
      this.stats.duplicates++;
      this.#trigger(frame, size, now, true); // our ACK was lost: repeat it now
      return;
    }
    if (!this.#store(frame, now)) {
      this.stats.memoryDrops++;
      return;
    }
    this.stats.dataReceived++;
    const hadGap = this.#above.size > 0;
    if (offset === 0) {
      this.#cumulative = serialAdd(this.#cumulative, 1);
      while (this.#above.delete(this.#cumulative)) {
        this.#cumulative = serialAdd(this.#cumulative, 1);
      }
    } else {
      this.#above.add(frame.seq);
    }
    this.#trigger(frame, size, now, hadGap || offset > 0);
  }

  #trigger(frame: DataFrame, size: number, now: number, immediate: boolean): void {
    this.#echo = frame.timestamp;
    this.#echoAt = now;
    this.#latestSeq = frame.seq;
    if (size < this.#smallestTrigger) this.#smallestTrigger = size;
    this.#unacked++;
    if (immediate || this.#unacked >= this.#ackEvery) this.#ackNow = true;
    else this.#ackDeadline ??= now + this.#ackDelay;
  }

  /** Stores the frame's message data; false when memory bounds refuse it (no ACK then). */
  #store(frame: DataFrame, now: number): boolean {
    const { ordered, messageId } = frame;
    if (ordered) {
      const ahead = serialDiff(messageId, this.#nextOrdered);
      if (ahead < 0 || ahead >= this.#window || this.#held.has(messageId)) {
        this.stats.inconsistent++; // already delivered or impossible: acknowledge, ignore
        return true;
      }
    }
    if (frame.fragmentCount === 1) {
      if (frame.data.length > this.#maxMessage) {
        this.#dropped("too-large", ordered, messageId);
        return true;
      }
      if (ordered && messageId !== this.#nextOrdered) {
        if (this.#buffered + frame.data.length + FRAGMENT_OVERHEAD_BYTES > this.#maxBuffered) {
          return false;
        }
      }
      this.#complete(ordered, messageId, frame.data.slice());
      return true;
    }
    const key = ordered ? messageId + 0x1_0000_0000 : messageId;
    let partial = this.#partials.get(key);
    if (partial === undefined) {
      if (this.#partials.size >= this.#maxPartials) return false;
      partial = {
        ordered,
        messageId,
        count: frame.fragmentCount,
        fragments: new Map(),
        bytes: 0,
        lastProgress: now,
      };
      this.#partials.set(key, partial);
    }
    if (partial.count !== frame.fragmentCount || partial.fragments.has(frame.fragmentIndex)) {
      this.stats.inconsistent++;
      return true;
    }
    if (partial.bytes + frame.data.length > this.#maxMessage) {
      this.#forget(key, partial);
      this.#dropped("too-large", ordered, messageId);
      return true;
    }
    const cost = frame.data.length + FRAGMENT_OVERHEAD_BYTES;
    if (this.#buffered + cost > this.#maxBuffered) {
      if (partial.fragments.size === 0) this.#partials.delete(key);
      return false;
    }
    partial.fragments.set(frame.fragmentIndex, frame.data.slice());
    partial.bytes += frame.data.length;
    partial.lastProgress = now;
    this.#buffered += cost;
    if (partial.fragments.size === partial.count) {
      this.#forget(key, partial);
      const whole = new Uint8Array(partial.bytes);
      let at = 0;
      for (let i = 0; i < partial.count; i++) {
        const piece = partial.fragments.get(i)!;
        whole.set(piece, at);
        at += piece.length;
      }
      this.#complete(ordered, messageId, whole);
    }
    return true;
  }

  #forget(key: number, partial: Partial): void {
    this.#partials.delete(key);
    this.#buffered -= partial.bytes + partial.fragments.size * FRAGMENT_OVERHEAD_BYTES;
  }

  #dropped(reason: "reassembly-timeout" | "too-large", ordered: boolean, messageId: number): void {
    this.stats.messagesDropped++;
    this.#emit({ type: "dropped", reason, ordered, messageId });
    if (ordered) this.#complete(true, messageId, null); // later ordered messages must not wait for it
  }

  #complete(ordered: boolean, messageId: number, data: Uint8Array | null): void {
    if (!ordered) {
      if (data) this.#deliver(data, false);
      return;
    }
    if (messageId !== this.#nextOrdered) {
      this.#held.set(messageId, data);
      if (data) this.#buffered += data.length + FRAGMENT_OVERHEAD_BYTES;
      return;
    }
    if (data) this.#deliver(data, true);
    this.#nextOrdered = serialAdd(this.#nextOrdered, 1);
    for (;;) {
      const next = this.#held.get(this.#nextOrdered);
      if (next === undefined) break;
      this.#held.delete(this.#nextOrdered);
      if (next) {
        this.#buffered -= next.length + FRAGMENT_OVERHEAD_BYTES;
        this.#deliver(next, true);
      }
      this.#nextOrdered = serialAdd(this.#nextOrdered, 1);
    }
  }

  #deliver(data: Uint8Array, ordered: boolean): void {
    this.stats.messages++;
    this.#emit({ type: "message", data, ordered });
  }

  /** The ranges above the cumulative point, at most `limit`: the newest packet's run first, then the lowest. */
  #ranges(limit: number): AckRange[] {
    if (this.#above.size === 0 || limit <= 0) return [];
    const offsets = [...this.#above].map((seq) => serialDiff(seq, this.#cumulative));
    offsets.sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const o of offsets) {
      const last = runs[runs.length - 1];
      if (last && last[1] === o) last[1] = o + 1;
      else runs.push([o, o + 1]);
    }
    let chosen = runs;
    if (runs.length > limit) {
      const latest = serialDiff(this.#latestSeq, this.#cumulative);
      const newest = runs.find(([s, e]) => latest >= s && latest < e);
      chosen = runs.filter((r) => r !== newest).slice(0, newest ? limit - 1 : limit);
      if (newest) chosen.push(newest);
      chosen.sort((a, b) => a[0] - b[0]);
    }
    const base = this.#cumulative;
    return chosen.map(([s, e]) => ({ start: serialAdd(base, s), end: serialAdd(base, e) }));
  }

  /**
   * The `ACK` to send now, if one is due.
   *
   * @param now Current time in ms.
   * @returns The datagram, or `undefined`.
   */
  pollAck(now: number): Uint8Array | undefined {
    if (this.#session === undefined || this.#unacked === 0) return undefined;
    if (!this.#ackNow && (this.#ackDeadline === undefined || now < this.#ackDeadline)) {
      return undefined;
    }
    // Never more than 3x the smallest datagram that asked for it.
    const budget = Math.floor(
      (3 * this.#smallestTrigger - FRAMING_BYTES - ACK_HEADER_BYTES) / ACK_RANGE_BYTES,
    );
    const ack: AckFrame = {
      session: this.#session,
      incarnation: this.#incarnation,
      cumulative: this.#cumulative,
      echoTimestamp: this.#echo,
      delayMs: Math.max(0, Math.round(now - this.#echoAt)),
      ranges: this.#ranges(Math.min(this.#maxRanges, budget)),
    };
    this.#unacked = 0;
    this.#ackNow = false;
    this.#ackDeadline = undefined;
    this.#smallestTrigger = Infinity;
    const bytes = encodeAck(ack);
    this.stats.acksSent++;
    this.stats.ackBytesSent += bytes.length;
    return bytes;
  }

  /**
   * When {@linkcode ReliableReceiver.handleTimeout} (or `pollAck`) is next due.
   *
   * @returns A time in ms, or `undefined`.
   */
  pollTimeout(): number | undefined {
    // An immediate ACK needs no timer: the driver drains `pollAck` after every input.
    let next = this.#unacked > 0 && !this.#ackNow ? this.#ackDeadline : undefined;
    for (const partial of this.#partials.values()) {
      const at = partial.lastProgress + this.#reassemblyTimeout;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /**
   * Drops partial messages that timed out (the ACK timer is read by `pollAck`).
   *
   * @param now Current time in ms.
   */
  handleTimeout(now: number): void {
    for (const [key, partial] of this.#partials) {
      if (partial.lastProgress + this.#reassemblyTimeout <= now) {
        this.#forget(key, partial);
        this.#dropped("reassembly-timeout", partial.ordered, partial.messageId);
      }
    }
  }
}

/**
 * The sending half of a reliable link: fragmentation, a bounded in-flight
 * window (backpressure), retransmission on RTO (RFC 6298) and fast
 * retransmission on selective-ACK gaps with a RACK-like reordering window
 * (RFC 8985) plus its tail loss probe, Karn's rule for RTT samples, and a
 * give-up.
 *
 * @module
 */
import {
  type AckFrame,
  DATA_HEADER_BYTES,
  encodeData,
  FRAGMENT_FIELDS_BYTES,
  FRAMING_BYTES,
  MAX_FRAGMENTS,
} from "./codec.ts";
import { DeliveryError } from "./errors.ts";
import { RttEstimator, type RttOptions } from "./rtt.ts";
import { serialAdd, serialDiff } from "./serial.ts";

/** Options of {@linkcode ReliableSender}. */
export interface SenderOptions {
  /** This link's session (its first sequence number). */
  session: number;
  /** Largest `DATA` datagram, default 1200 (safe on the internet). */
  maxDatagramBytes?: number;
  /** Most packets in flight (sequence numbers sent and not yet acknowledged), default 256. */
  windowPackets?: number;
  /** Largest message, default 1 MiB. */
  maxMessageBytes?: number;
  /** Transmissions of one fragment before giving up, default 10. */
  maxTransmissions?: number;
  /** Ms a message may stay unacknowledged after its first transmission, default 30 000. */
  giveUpMs?: number;
  /** RTO bounds. */
  rtt?: RttOptions;
  /**
   * The peer's incarnation, when known (from an earlier sender on the same
   * link); else the first `ACK` tells it. An `ACK` with another one means
   * the peer restarted: everything unacknowledged fails with `peer-restarted`.
   */
  peerIncarnation?: number;
  /** Longest the peer delays an `ACK` (its `ackDelayMs`), default 25; the tail loss probe waits for it. */
  peerAckDelayMs?: number;
}

/** What {@linkcode ReliableSender.send} answers. */
export type SendResult =
  | { readonly ok: true; readonly handle: number }
  | {
    readonly ok: false;
    /** `blocked`: the window is full, wait for a `writable` event; `too-large`; `failed`: the link gave up. */
    readonly reason: "blocked" | "too-large" | "failed";
  };

/** What the sender reports. */
export type SenderEvent =
  | { readonly type: "delivered"; readonly handle: number; readonly latencyMs: number }
  | { readonly type: "failed"; readonly handle: number; readonly error: DeliveryError }
  | { readonly type: "writable" };

/** Counters of a {@linkcode ReliableSender}. */
export interface SenderStats {
  /** `DATA` datagrams sent (retransmissions included). */
  dataSent: number;
  /** Bytes of those datagrams. */
  dataBytesSent: number;
  /** Retransmissions after the RTO fired. */
  rtoRetransmits: number;
  /** Retransmissions after a selective ACK showed a gap (past the reordering window). */
  fastRetransmits: number;
  /** Tail loss probes: the newest packet sent again when ACKs stopped for 2 SRTT. */
  probes: number;
  /** Retransmissions later found needless (the first copy was acknowledged). */
  spuriousRetransmits: number;
  /** `ACK`s taken. */
  acksReceived: number;
  /** `ACK`s ignored: another session, or acknowledging what was never sent. */
  acksIgnored: number;
  /** Messages acknowledged in full. */
  delivered: number;
  /** Messages failed. */
  failed: number;
}

interface OutMessage {
  readonly handle: number;
  readonly ordered: boolean;
  readonly messageId: number;
  readonly data: Uint8Array;
  readonly fragmentCount: number;
  readonly fragmentBytes: number;
  remaining: number;
  firstSentAt: number | undefined;
}

interface Packet {
  readonly seq: number;
  readonly message: OutMessage;
  readonly index: number;
  firstTs: number;
  lastTs: number;
  lastSentAt: number;
  transmissions: number;
  sendOrder: number;
  acked: boolean;
  queued: boolean;
}

/**
 * The sending half of one reliable link. Sans-IO: `send` queues a message,
 * `pollTransmit(now)` builds the next `DATA` datagram, `onAck(ack, now)`
 * takes acknowledgements, `handleTimeout(now)` runs the timers and events
 * come out through the `emit` callback.
 *
 * @example Send one message and acknowledge it by hand
 * ```ts
 * import { decodeData, ReliableSender, type SenderEvent } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const events: SenderEvent[] = [];
 * const sender = new ReliableSender({ session: 100 }, (e) => events.push(e));
 * const sent = sender.send(new TextEncoder().encode("hi"), false, 0);
 * assert.ok(sent.ok);
 * const data = decodeData(sender.pollTransmit(0)!);
 * assert.equal(data.seq, 100);
 * const ack = { session: 100, incarnation: 1, cumulative: 101, delayMs: 0, ranges: [] };
 * sender.onAck({ ...ack, echoTimestamp: data.timestamp }, 40);
 * assert.deepEqual(events, [{ type: "delivered", handle: 0, latencyMs: 40 }]);
 * assert.equal(sender.srtt, 40);
 * ```
 */
export class ReliableSender {
  readonly #session: number;
  readonly #maxDatagram: number;
  readonly #window: number;
  readonly #maxMessage: number;
  readonly #maxTransmissions: number;
  readonly #giveUpMs: number;
  readonly #emit: (event: SenderEvent) => void;
  readonly #rtt: RttEstimator;

  #nextSeq: number;
  #nextOrdered = 0;
  #nextUnordered = 0;
  #handles = 0;
  #sendOrder = 0;
  /** Sent, not yet acknowledged, in sequence order. */
  readonly #outstanding = new Map<number, Packet>();
  /** Outstanding and not declared lost, in order of their last transmission (RACK's list). */
  readonly #byLastSent = new Map<number, Packet>();
  /** Declared lost, waiting to be sent again. */
  #retransmit: Packet[] = [];
  /** Fragments not sent yet: `[message, index]`, oldest first. */
  #pending: [OutMessage, number][] = [];
  #pendingHead = 0;
  #blocked = false;
  #failure: DeliveryError | undefined;
  // RACK state: the most recently sent packet that was acknowledged.
  #rackOrder = -1;
  #rackRtt = 0;
  #reorderDeadline: number | undefined;
  #reorderSteps = 1;
  // Tail loss probes since the last ACK of new data (each doubles the probe timeout).
  readonly #peerAckDelay: number;
  #peerIncarnation: number | undefined;
  #probes = 0;
  #lastActivity = 0;
  #newest: Packet | undefined;

  /** Counters since creation. */
  readonly stats: SenderStats = {
    dataSent: 0,
    dataBytesSent: 0,
    rtoRetransmits: 0,
    fastRetransmits: 0,
    probes: 0,
    spuriousRetransmits: 0,
    acksReceived: 0,
    acksIgnored: 0,
    delivered: 0,
    failed: 0,
  };

  /**
   * Creates a sender with nothing in flight.
   *
   * @param options Session and limits.
   * @param emit Called for every event.
   */
  constructor(options: SenderOptions, emit: (event: SenderEvent) => void) {
    this.#session = options.session >>> 0;
    this.#nextSeq = this.#session;
    this.#maxDatagram = options.maxDatagramBytes ?? 1200;
    this.#window = options.windowPackets ?? 256;
    this.#maxMessage = options.maxMessageBytes ?? 1024 * 1024;
    this.#maxTransmissions = options.maxTransmissions ?? 10;
    this.#giveUpMs = options.giveUpMs ?? 30_000;
    this.#rtt = new RttEstimator(options.rtt);
    this.#peerAckDelay = options.peerAckDelayMs ?? 25;
    this.#peerIncarnation = options.peerIncarnation;
    this.#emit = emit;
    const perFragment = this.#maxDatagram - FRAMING_BYTES - DATA_HEADER_BYTES -
      FRAGMENT_FIELDS_BYTES;
    if (!(perFragment >= 1)) {
      throw new RangeError(`maxDatagramBytes ${this.#maxDatagram} is too small`);
    }
    if (Math.ceil(this.#maxMessage / perFragment) > MAX_FRAGMENTS) {
      throw new RangeError(
        `maxMessageBytes ${this.#maxMessage} needs more than ${MAX_FRAGMENTS} fragments`,
      );
    }
    if (!(this.#window >= 1 && this.#window <= 0x4000_0000)) {
      throw new RangeError(`windowPackets must be 1..2^30, got ${this.#window}`);
    }
  }

  /** The peer's incarnation, once an `ACK` told it. */
  get peerIncarnation(): number | undefined {
    return this.#peerIncarnation;
  }

  /** The session (first sequence number) of this sender. */
  get session(): number {
    return this.#session;
  }

  /** Smoothed RTT in ms, `undefined` before the first sample. */
  get srtt(): number | undefined {
    return this.#rtt.srtt;
  }

  /** The current retransmission timeout in ms. */
  get rto(): number {
    return this.#rtt.rto;
  }

  /** The RTT estimator (read it; the sender feeds it). */
  get rttEstimator(): RttEstimator {
    return this.#rtt;
  }

  /** Why the link failed, once it has. */
  get failure(): DeliveryError | undefined {
    return this.#failure;
  }

  /** Packets in flight (sent, not acknowledged). */
  get inFlight(): number {
    return this.#outstanding.size;
  }

  /**
   * Whether `send` would accept a message now: fragments in flight plus
   * fragments queued are fewer than the window (so at most one window and
   * one message are buffered).
   */
  get writable(): boolean {
    return this.#failure === undefined &&
      serialDiff(this.#nextSeq, this.#lowest()) + this.#pending.length - this.#pendingHead <
        this.#window;
  }

  #lowest(): number {
    for (const seq of this.#outstanding.keys()) return seq;
    return this.#nextSeq;
  }

  #windowOpen(): boolean {
    return serialDiff(this.#nextSeq, this.#lowest()) < this.#window;
  }

  /**
   * Queues a message. It is fragmented when it does not fit one datagram.
   * The data is copied.
   *
   * @param data The message.
   * @param ordered Deliver in order among this link's ordered messages.
   * @param _now Current time in ms (the message's clock starts at its first transmission).
   * @returns A handle for the `delivered`/`failed` event, or why not: `blocked`
   *   (fragments in flight and queued fill the window: wait for `writable`),
   *   `too-large`, `failed`.
   */
  send(data: Uint8Array, ordered: boolean, _now: number): SendResult {
    if (this.#failure) return { ok: false, reason: "failed" };
    if (data.length > this.#maxMessage) return { ok: false, reason: "too-large" };
    if (!this.writable) {
      this.#blocked = true;
      return { ok: false, reason: "blocked" };
    }
    const single = this.#maxDatagram - FRAMING_BYTES - DATA_HEADER_BYTES;
    const perFragment = single - FRAGMENT_FIELDS_BYTES;
    const fragmentCount = data.length <= single ? 1 : Math.ceil(data.length / perFragment);
    const messageId = ordered ? this.#nextOrdered : this.#nextUnordered;
    if (ordered) this.#nextOrdered = serialAdd(messageId, 1);
    else this.#nextUnordered = serialAdd(messageId, 1);
    const message: OutMessage = {
      handle: this.#handles++,
      ordered,
      messageId,
      data: data.slice(),
      fragmentCount,
      fragmentBytes: fragmentCount === 1 ? single : perFragment,
      remaining: fragmentCount,
      firstSentAt: undefined,
    };
    for (let i = 0; i < fragmentCount; i++) this.#pending.push([message, i]);
    return { ok: true, handle: message.handle };
  }

  #encode(packet: Packet, now: number): Uint8Array {
    const m = packet.message;
    const start = packet.index * m.fragmentBytes;
    const ts = Math.floor(now) >>> 0;
    packet.lastTs = ts;
    packet.lastSentAt = now;
    packet.transmissions++;
    packet.sendOrder = this.#sendOrder++;
    this.#byLastSent.delete(packet.seq);
    this.#byLastSent.set(packet.seq, packet);
    this.#newest = packet;
    this.#lastActivity = now;
    const bytes = encodeData({
      session: this.#session,
      seq: packet.seq,
      timestamp: ts,
      messageId: m.messageId,
      reliable: true,
      ordered: m.ordered,
      fragmentIndex: packet.index,
      fragmentCount: m.fragmentCount,
      data: m.data.subarray(start, start + m.fragmentBytes),
    });
    this.stats.dataSent++;
    this.stats.dataBytesSent += bytes.length;
    return bytes;
  }

  /**
   * The next `DATA` datagram: a retransmission first, else a new fragment
   * if the window has room.
   *
   * @param now Current time in ms.
   * @returns The datagram, or `undefined`.
   */
  pollTransmit(now: number): Uint8Array | undefined {
    if (this.#failure) return undefined;
    while (this.#retransmit.length > 0) {
      const packet = this.#retransmit.shift()!;
      packet.queued = false;
      if (!packet.acked) return this.#encode(packet, now);
    }
    if (this.#pendingHead < this.#pending.length && this.#windowOpen()) {
      const [message, index] = this.#pending[this.#pendingHead++]!;
      message.firstSentAt ??= now;
      const packet: Packet = {
        seq: this.#nextSeq,
        message,
        index,
        firstTs: Math.floor(now) >>> 0,
        lastTs: 0,
        lastSentAt: now,
        transmissions: 0,
        sendOrder: 0,
        acked: false,
        queued: false,
      };
      this.#nextSeq = serialAdd(this.#nextSeq, 1);
      this.#outstanding.set(packet.seq, packet);
      const bytes = this.#encode(packet, now);
      if (this.#pendingHead === this.#pending.length) {
        this.#pending = [];
        this.#pendingHead = 0;
      } else if (this.#pendingHead >= 1024 && this.#pendingHead * 2 >= this.#pending.length) {
        this.#pending = this.#pending.slice(this.#pendingHead); // keep the queue compact
        this.#pendingHead = 0;
      }
      this.#maybeWritable();
      return bytes;
    }
    return undefined;
  }

  #maybeWritable(): void {
    if (this.#blocked && this.writable) {
      this.#blocked = false;
      this.#emit({ type: "writable" });
    }
  }

  #ackPacket(packet: Packet, now: number): void {
    packet.acked = true;
    this.#outstanding.delete(packet.seq);
    this.#byLastSent.delete(packet.seq);
    const m = packet.message;
    if (--m.remaining === 0) {
      this.stats.delivered++;
      this.#emit({ type: "delivered", handle: m.handle, latencyMs: now - (m.firstSentAt ?? now) });
    }
  }

  /**
   * Takes an `ACK`.
   *
   * @param ack The decoded frame.
   * @param now Current time in ms.
   */
  onAck(ack: AckFrame, now: number): void {
    if (this.#failure) return;
    const lowest = this.#lowest();
    if (ack.session !== this.#session || serialDiff(ack.cumulative, this.#nextSeq) > 0) {
      this.stats.acksIgnored++;
      return;
    }
    if (this.#peerIncarnation === undefined) this.#peerIncarnation = ack.incarnation;
    else if (ack.incarnation !== this.#peerIncarnation) {
      // The peer restarted: what it acknowledges now was received by a receiver that knows
      // nothing of our session's start. Trust none of it.
      this.#peerIncarnation = ack.incarnation;
      this.abort(now);
      return;
    }
    this.stats.acksReceived++;
    const newly: Packet[] = [];
    for (const packet of this.#outstanding.values()) {
      if (serialDiff(packet.seq, ack.cumulative) >= 0) break;
      newly.push(packet);
    }
    for (const range of ack.ranges) {
      // Only sequence numbers in flight matter: clamp to [lowest, nextSeq).
      const from = serialDiff(range.start, lowest) < 0 ? lowest : range.start;
      const to = serialDiff(range.end, this.#nextSeq) > 0 ? this.#nextSeq : range.end;
      for (let seq = from; serialDiff(seq, to) < 0; seq = serialAdd(seq, 1)) {
        const packet = this.#outstanding.get(seq);
        if (packet) newly.push(packet);
      }
    }
    if (newly.length === 0) return;
    this.#probes = 0;
    this.#lastActivity = now;
    let sampled = false;
    for (const packet of newly) {
      if (packet.acked) continue;
      if (packet.transmissions === 1) {
        // Karn's rule: only a packet sent once gives an unambiguous sample.
        if (!sampled && packet.lastTs === ack.echoTimestamp) {
          const latest = now - packet.lastSentAt;
          const minRtt = this.#rtt.minRtt ?? latest;
          this.#rtt.sample(latest - ack.delayMs >= minRtt ? latest - ack.delayMs : latest);
          sampled = true;
        }
      } else if (
        (packet.firstTs === ack.echoTimestamp && packet.firstTs !== packet.lastTs) ||
        now - packet.lastSentAt < (this.#rtt.minRtt ?? 0)
      ) {
        // An earlier copy arrived after all (the ACK echoes it, or came back faster than any
        // round trip): we retransmitted too early, so widen the reordering window.
        this.stats.spuriousRetransmits++;
        this.#reorderSteps = Math.min(this.#reorderSteps + 1, 16);
      }
      const rtt = now - packet.lastSentAt;
      const ambiguous = packet.transmissions > 1 && rtt < (this.#rtt.minRtt ?? 0);
      if (!ambiguous && packet.sendOrder > this.#rackOrder) {
        this.#rackOrder = packet.sendOrder;
        this.#rackRtt = rtt;
      }
      this.#ackPacket(packet, now);
    }
    this.#detectLosses(now);
    this.#maybeWritable();
  }

  #reorderWindow(): number {
    const minRtt = this.#rtt.minRtt ?? 0;
    return Math.min(this.#reorderSteps * minRtt / 4, this.#rtt.srtt ?? Infinity);
  }

  /** RACK: a packet sent before one that was acknowledged is lost once the reordering window passed. */
  #detectLosses(now: number): void {
    this.#reorderDeadline = undefined;
    const window = this.#reorderWindow();
    for (const packet of this.#byLastSent.values()) {
      if (packet.sendOrder >= this.#rackOrder) break;
      const deadline = packet.lastSentAt + this.#rackRtt + window;
      if (now < deadline) {
        this.#reorderDeadline = deadline;
        break;
      }
      this.stats.fastRetransmits++;
      if (!this.#markLost(packet, now)) return;
    }
  }

  /** Queues `packet` for retransmission, or fails the link; false when the link failed. */
  #markLost(packet: Packet, now: number): boolean {
    this.#byLastSent.delete(packet.seq);
    const elapsed = now - (packet.message.firstSentAt ?? now);
    if (packet.transmissions >= this.#maxTransmissions || elapsed >= this.#giveUpMs) {
      this.#fail(packet.transmissions, elapsed);
      return false;
    }
    if (!packet.queued) {
      packet.queued = true;
      this.#retransmit.push(packet);
    }
    return true;
  }

  /**
   * Fails every message not yet acknowledged with `peer-restarted` and stops:
   * what a link does when the peer comes back with a new session.
   *
   * @param now Current time in ms.
   */
  abort(now: number): void {
    if (this.#failure) return;
    const packet = this.#outstanding.values().next().value;
    this.#fail(
      packet?.transmissions ?? 0,
      now - (packet?.message.firstSentAt ?? now),
      "peer-restarted",
    );
  }

  #fail(transmissions: number, elapsedMs: number, reason?: "peer-restarted"): void {
    const first = this.#outstanding.values().next().value?.message;
    const failed = new Set<OutMessage>();
    for (const packet of this.#outstanding.values()) failed.add(packet.message);
    for (let i = this.#pendingHead; i < this.#pending.length; i++) failed.add(this.#pending[i]![0]);
    this.#failure = new DeliveryError(reason ?? "gave-up", transmissions, elapsedMs);
    const linkFailed = reason
      ? this.#failure
      : new DeliveryError("link-failed", transmissions, elapsedMs);
    this.#outstanding.clear();
    this.#byLastSent.clear();
    this.#retransmit = [];
    this.#pending = [];
    this.#pendingHead = 0;
    this.#reorderDeadline = undefined;
    this.#newest = undefined;
    for (const message of failed) {
      this.stats.failed++;
      const error = message === first ? this.#failure : linkFailed;
      this.#emit({ type: "failed", handle: message.handle, error });
    }
  }

  #rtoDeadline(): number | undefined {
    for (const packet of this.#byLastSent.values()) return packet.lastSentAt + this.#rtt.rto;
    return undefined;
  }

  /**
   * RFC 8985 7.2: PTO = 2 SRTT (+ the peer's ACK delay with one packet in
   * flight), doubled for each probe without an answer (as QUIC's PTO backs
   * off). The RTO keeps running beside it, with its own backoff.
   */
  #probeDeadline(): number | undefined {
    const srtt = this.#rtt.srtt;
    if (srtt === undefined || this.#byLastSent.size === 0) return undefined;
    let pto = 2 * srtt;
    if (this.#outstanding.size === 1) pto += this.#peerAckDelay;
    return this.#lastActivity + Math.max(pto, 1) * 2 ** this.#probes;
  }

  #giveUpDeadline(): number | undefined {
    for (const packet of this.#outstanding.values()) {
      return (packet.message.firstSentAt ?? packet.lastSentAt) + this.#giveUpMs;
    }
    return undefined;
  }

  /**
   * When {@linkcode ReliableSender.handleTimeout} is next due.
   *
   * @returns A time in ms, or `undefined`.
   */
  pollTimeout(): number | undefined {
    if (this.#failure) return undefined;
    let next = this.#rtoDeadline();
    const reorder = this.#reorderDeadline;
    if (reorder !== undefined && (next === undefined || reorder < next)) next = reorder;
    const giveUp = this.#giveUpDeadline();
    if (giveUp !== undefined && (next === undefined || giveUp < next)) next = giveUp;
    const probe = this.#probeDeadline();
    if (probe !== undefined && (next === undefined || probe < next)) next = probe;
    return next;
  }

  /**
   * Runs what is due: give-up, reordering timer, retransmission timer.
   *
   * @param now Current time in ms.
   */
  handleTimeout(now: number): void {
    if (this.#failure) return;
    const giveUp = this.#giveUpDeadline();
    if (giveUp !== undefined && now >= giveUp) {
      const packet = this.#outstanding.values().next().value!;
      this.#fail(packet.transmissions, now - (packet.message.firstSentAt ?? now));
      return;
    }
    if (this.#reorderDeadline !== undefined && now >= this.#reorderDeadline) {
      this.#detectLosses(now);
      if (this.#failure) return;
    }
    const probe = this.#probeDeadline();
    if (probe !== undefined && now >= probe) {
      // ACKs stopped: send the newest packet again so its ACK (with ranges) shows what is missing.
      this.#probes++;
      let packet = this.#newest;
      if (packet === undefined || packet.acked || packet.queued) {
        packet = undefined;
        for (const p of this.#byLastSent.values()) packet = p;
      }
      if (packet !== undefined) {
        this.stats.probes++;
        if (!this.#markLost(packet, now)) return;
      }
    }
    const rto = this.#rtt.rto;
    let fired = false;
    for (const packet of this.#byLastSent.values()) {
      if (packet.lastSentAt + rto > now) break;
      fired = true;
      this.stats.rtoRetransmits++;
      if (!this.#markLost(packet, now)) return;
    }
    if (fired) this.#rtt.backoff();
  }
}

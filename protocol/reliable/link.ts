/**
 * {@linkcode ReliableLink}: both halves of reliable delivery for one peer,
 * behind the sans-IO calls a peer link makes (`handleDatagram`,
 * `pollTransmit`, `pollEvent`, `pollTimeout`, `handleTimeout`).
 *
 * @module
 */
import { Fifo } from "../net/fifo.ts";
import { ProtocolError, type ProtocolErrorReason } from "../errors.ts";
import { ACK_TYPE, DATA_TYPE, decodeAck, decodeData } from "./codec.ts";
import { serialAdd } from "./serial.ts";
import type { DeliveryError } from "./errors.ts";
import {
  type ReceiverEvent,
  type ReceiverOptions,
  type ReceiverStats,
  ReliableReceiver,
} from "./receiver.ts";
import {
  ReliableSender,
  type SenderEvent,
  type SenderOptions,
  type SenderStats,
  type SendResult,
} from "./sender.ts";

/** Options of {@linkcode ReliableLink}: the sender's and the receiver's, one window for both. */
export interface ReliableLinkOptions
  extends
    Omit<SenderOptions, "session" | "peerIncarnation">,
    Omit<ReceiverOptions, "windowPackets" | "incarnation"> {
  /** This side's first session (random by default); it is also the first sequence number. */
  session?: number;
  /** This link's incarnation, fixed for its lifetime (random by default). */
  incarnation?: number;
}

/** Everything a {@linkcode ReliableLink} reports. */
export type ReliableEvent = SenderEvent | ReceiverEvent;

/** Counters of a {@linkcode ReliableLink}. */
export interface ReliableLinkStats extends SenderStats, ReceiverStats {
  /** Datagrams given to `handleDatagram` that were not valid `DATA`/`ACK`, by reason. */
  invalid: Partial<Record<ProtocolErrorReason, number>>;
  /** Packets in flight now. */
  inFlight: number;
  /** Bytes held by the receiver now. */
  bufferedBytes: number;
  /** Messages the receiver is reassembling now. */
  partialMessages: number;
}

function randomU32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * Reliable, optionally ordered, fragmenting delivery over one path, as a
 * sans-IO machine: no sockets, no clock. Feed it the peer's `DATA`/`ACK`
 * datagrams and the time; send what `pollTransmit(now)` returns to the
 * peer; arm a timer for `pollTimeout()`.
 *
 * @example Two links wired back to back
 * ```ts
 * import { ReliableLink } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const a = new ReliableLink({ session: 1 });
 * const b = new ReliableLink({ session: 2 });
 * const big = new Uint8Array(5000).fill(7); // 5 fragments of 1200-byte datagrams
 * const sent = a.send(big, { ordered: true }, 0);
 * assert.ok(sent.ok);
 * for (let now = 0, i = 0; i < 10; i++, now += 10) {
 *   for (let d; (d = a.pollTransmit(now));) b.handleDatagram(d, now + 5);
 *   for (let d; (d = b.pollTransmit(now + 5));) a.handleDatagram(d, now + 10);
 * }
 * const got = b.pollEvent();
 * assert.ok(got?.type === "message" && got.data.length === 5000);
 * assert.deepEqual(a.pollEvent(), { type: "delivered", handle: 0, latencyMs: 10 });
 * ```
 */
export class ReliableLink {
  readonly #events = new Fifo<ReliableEvent>();
  #sender: ReliableSender;
  readonly #receiver: ReliableReceiver;
  readonly #options: ReliableLinkOptions;
  readonly #incarnation: number;
  readonly #invalid: Partial<Record<ProtocolErrorReason, number>> = {};

  /**
   * Creates a link with no traffic yet.
   *
   * @param options Limits and timers; every field has a default.
   */
  constructor(options: ReliableLinkOptions = {}) {
    this.#options = options;
    this.#incarnation = options.incarnation ?? randomU32();
    this.#sender = this.#newSender(options.session ?? randomU32(), undefined);
    this.#receiver = new ReliableReceiver(
      { ...options, incarnation: this.#incarnation },
      (event) => this.#events.push(event),
    );
  }

  #newSender(session: number, peerIncarnation: number | undefined): ReliableSender {
    return new ReliableSender(
      { ...this.#options, session, peerIncarnation },
      (event) => this.#events.push(event),
    );
  }

  /**
   * After an `ACK`: if it showed that the peer restarted (a new incarnation),
   * the sender failed what was unacknowledged (`peer-restarted`); go on with
   * a new session, which the peer's new receiver starts from.
   */
  #afterAck(): void {
    const old = this.#sender;
    if (old.failure?.reason !== "peer-restarted") return;
    this.#sender = this.#newSender(serialAdd(old.session, 0x9e37_79b9), old.peerIncarnation);
  }

  /** This side's session. */
  get session(): number {
    return this.#sender.session;
  }

  /** Smoothed RTT to the peer in ms, `undefined` before the first sample. */
  get srtt(): number | undefined {
    return this.#sender.srtt;
  }

  /** The current retransmission timeout in ms. */
  get rto(): number {
    return this.#sender.rto;
  }

  /** Whether `send` accepts a message now (else wait for a `writable` event). */
  get writable(): boolean {
    return this.#sender.writable;
  }

  /** Why the sending side failed, once it has (make a new link then). */
  get failure(): DeliveryError | undefined {
    return this.#sender.failure;
  }

  /**
   * Queues a reliable message.
   *
   * @param data The message (copied).
   * @param options `ordered`: deliver in order among this link's ordered messages.
   * @param now Current time in ms.
   * @returns A handle for the `delivered`/`failed` event, or `blocked`/`too-large`/`failed`.
   */
  send(data: Uint8Array, options: { ordered?: boolean }, now: number): SendResult {
    return this.#sender.send(data, options.ordered ?? false, now);
  }

  /**
   * Takes a datagram from the peer. Only `DATA` and `ACK` are for the link;
   * anything else, or anything malformed, is counted and dropped.
   *
   * @param datagram The bytes.
   * @param now Current time in ms.
   * @returns `undefined` when taken, else why not (a {@linkcode ProtocolErrorReason}).
   */
  handleDatagram(datagram: Uint8Array, now: number): ProtocolErrorReason | undefined {
    try {
      if (datagram[0] === DATA_TYPE) {
        this.#receiver.onData(decodeData(datagram), datagram.length, now);
      } else if (datagram[0] === ACK_TYPE) {
        this.#sender.onAck(decodeAck(datagram), now);
        this.#afterAck();
      } else {
        throw new ProtocolError("unexpected-type", `type ${datagram[0]} is not DATA or ACK`);
      }
      return undefined;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#invalid[error.reason] = (this.#invalid[error.reason] ?? 0) + 1;
      return error.reason;
    }
  }

  /**
   * The next datagram for the peer: a due `ACK` first, then `DATA`.
   *
   * @param now Current time in ms.
   * @returns The bytes, or `undefined` when nothing is to be sent.
   */
  pollTransmit(now: number): Uint8Array | undefined {
    return this.#receiver.pollAck(now) ?? this.#sender.pollTransmit(now);
  }

  /** The next event, or `undefined`. */
  pollEvent(): ReliableEvent | undefined {
    return this.#events.shift();
  }

  /** When `handleTimeout` is next due (ms), or `undefined`. */
  pollTimeout(): number | undefined {
    const a = this.#sender.pollTimeout();
    const b = this.#receiver.pollTimeout();
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  /**
   * Runs the timers due at `now` (early calls are harmless).
   *
   * @param now Current time in ms.
   */
  handleTimeout(now: number): void {
    this.#sender.handleTimeout(now);
    this.#receiver.handleTimeout(now);
  }

  /** A snapshot of the counters. */
  stats(): ReliableLinkStats {
    return {
      ...this.#sender.stats,
      ...this.#receiver.stats,
      invalid: { ...this.#invalid },
      inFlight: this.#sender.inFlight,
      bufferedBytes: this.#receiver.bufferedBytes,
      partialMessages: this.#receiver.partialMessages,
    };
  }
}

/**
 * The transport contracts shared by every Olaf driver: a datagram socket and a
 * clock. Real UDP (Deno or Node) and the in-memory network implement the same
 * interfaces, so the bootstrap and peer drivers run unchanged on both.
 *
 * @module
 */

/** A UDP endpoint: an IP address in text form (IPv4 or IPv6) and a port. */
export interface NetAddress {
  /** IP address in text form, e.g. `"127.0.0.1"` or `"::1"`. */
  readonly hostname: string;
  /** UDP port, 0 to 65535. */
  readonly port: number;
}

/**
 * A datagram a sans-IO state machine wants sent: what the bootstrap's and the
 * peer's `pollTransmit()` return, and what their drivers hand to
 * {@linkcode DatagramSocket.send}.
 */
export interface Transmit {
  /** The datagram's bytes. Treat them as read-only: a machine may share them between transmits. */
  readonly data: Uint8Array;
  /** Where to send it. */
  readonly to: NetAddress;
}

/** Called for every datagram a socket receives. `data` is owned by the callee. */
export type DatagramHandler = (data: Uint8Array, from: NetAddress) => void;

/** One received datagram, as yielded by a socket's async iterator. */
export interface Datagram {
  /** The datagram's bytes. */
  readonly data: Uint8Array;
  /** Where it came from. */
  readonly from: NetAddress;
}

/**
 * A bound datagram socket.
 *
 * Receiving works in one of two ways, chosen at bind time: pass
 * `onDatagram` to {@linkcode BindOptions} for a callback per datagram (what the
 * drivers use: no promise per datagram), or leave it out and iterate the socket
 * with `for await`. An iterated socket buffers at most
 * {@linkcode BindOptions.queueLimit} datagrams and drops the oldest past that,
 * as a kernel buffer would.
 */
export interface DatagramSocket extends AsyncIterable<Datagram>, AsyncDisposable {
  /** The address the socket is bound to (the real port when bound to port 0). */
  readonly localAddress: NetAddress;
  /** Which implementation backs this socket (`"deno"`, `"node"` or `"memory"`). */
  readonly implementation: DatagramImplementation;
  /**
   * Sends one datagram. Never throws for network errors (they go to
   * `onError`); throws a `TypeError` if the socket is closed. The socket takes
   * ownership of `data`: do not modify it afterwards.
   */
  send(data: Uint8Array, to: NetAddress): void;
  /** Closes the socket; pending iterators end. Idempotent. */
  close(): Promise<void>;
}

/** Names of the datagram socket implementations. */
export type DatagramImplementation = "deno" | "node" | "memory";

/** Options for binding a datagram socket. */
export interface BindOptions {
  /** Address to bind, default `"0.0.0.0"`. Use `"::"` or `"::1"` for IPv6. */
  hostname?: string;
  /** Port to bind, default 0 (any free port). */
  port?: number;
  /** Callback for each received datagram; when set, the socket is not iterable. */
  onDatagram?: DatagramHandler;
  /** Called for send and receive errors that are not fatal to the socket. */
  onError?: (error: Error) => void;
  /** Most datagrams buffered for the async iterator, default 4096. */
  queueLimit?: number;
}

/**
 * A source of time and timers. Drivers take one so that tests can run them on
 * a virtual clock (the in-memory network provides one) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since some fixed origin (wall clock for the real clock). */
  now(): number;
  /** Runs `callback` after `delayMs`; returns a handle for {@linkcode Clock.clearTimer}. */
  setTimer(callback: () => void, delayMs: number): number;
  /** Cancels a timer set with {@linkcode Clock.setTimer}. Unknown handles are ignored. */
  clearTimer(handle: number): void;
}

/**
 * The real clock: `Date.now()` and `setTimeout`.
 *
 * @example Read the time
 * ```ts
 * import { systemClock } from "@olaf/protocol/net";
 * const t = systemClock.now();
 * console.log(t > 0);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback: () => void, delayMs: number): number {
    // Deno returns a number; Node's typings (pulled in by npm packages) say Timeout.
    return setTimeout(callback, Math.max(0, delayMs)) as unknown as number;
  },
  clearTimer(handle: number): void {
    clearTimeout(handle);
  },
};

/**
 * Binds a datagram socket. Drivers take one of these so that the same code
 * runs on real UDP (`bindDatagram` from `@olaf/protocol/net`) and on the
 * in-memory network (`network.bind`).
 */
export type DatagramBinder = (options: BindOptions) => Promise<DatagramSocket>;

/**
 * Pieces shared by every {@linkcode DatagramSocket} implementation: option
 * checks, address helpers, error normalisation and the bounded receive queue
 * behind the async iterator.
 */
import type { BindOptions, Datagram, DatagramHandler, NetAddress, Transmit } from "./types.ts";
import { Fifo } from "./fifo.ts";

/** Most datagrams waiting behind the one in flight, per socket. */
export const SEND_QUEUE_LIMIT = 8192;

/** A send in flight this long (ms) no longer holds back the next one (see `OrderedSender`). */
export const SEND_STALL_MS = 500;

/** Default for {@linkcode BindOptions.queueLimit}. */
export const DEFAULT_QUEUE_LIMIT = 4096;

/** Bind options with defaults applied and values checked. */
export interface ResolvedBindOptions {
  hostname: string;
  port: number;
  onDatagram: DatagramHandler | undefined;
  onError: ((error: Error) => void) | undefined;
  queueLimit: number;
}

/** Applies defaults and checks ranges; throws `RangeError` on bad values. */
export function resolveBindOptions(options: BindOptions): ResolvedBindOptions {
  const port = options.port ?? 0;
  checkPort(port);
  const queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
  if (!Number.isInteger(queueLimit) || queueLimit < 1) {
    throw new RangeError(`queueLimit must be a positive integer, got ${queueLimit}`);
  }
  return {
    hostname: options.hostname ?? "0.0.0.0",
    port,
    onDatagram: options.onDatagram,
    onError: options.onError,
    queueLimit,
  };
}

/** Throws `RangeError` unless `port` is an integer in 0..65535. */
export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
}

/** True for IPv6 text addresses (the only ones containing a colon). */
export function isIPv6Hostname(hostname: string): boolean {
  return hostname.includes(":");
}

/** `"1.2.3.4:5"` or `"[::1]:5"`. */
export function formatAddress(address: NetAddress): string {
  return isIPv6Hostname(address.hostname)
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/** The error `send` throws on a closed socket. */
export function closedError(): TypeError {
  return new TypeError("Cannot send on a closed datagram socket");
}

/** Coerces anything thrown into an `Error`. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

interface DenoErrors {
  AddrInUse?: new (message: string, options?: ErrorOptions) => Error;
}

/**
 * The error every implementation throws when the address is taken:
 * `Deno.errors.AddrInUse` on Deno, else an `Error` with `code: "EADDRINUSE"`.
 */
export function addrInUseError(address: NetAddress, cause?: unknown): Error {
  const message = `Cannot bind UDP ${formatAddress(address)}: address already in use`;
  const errors = (globalThis as { Deno?: { errors?: DenoErrors } }).Deno?.errors;
  if (errors?.AddrInUse) return new errors.AddrInUse(message, { cause });
  return Object.assign(new Error(message, { cause }), { code: "EADDRINUSE" });
}

/**
 * Routes an error to `onError`; without one, rethrows it on a fresh
 * microtask so it surfaces as an uncaught error instead of vanishing.
 */
export function reportError(onError: ((error: Error) => void) | undefined, error: unknown): void {
  const err = toError(error);
  if (onError) {
    onError(err);
  } else {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/**
 * Keeps one send in flight per socket and issues the next when it completes.
 * Deno (both `Deno.listenDatagram` and its `node:dgram`) starts every send
 * issued in one event-loop turn together and they reach the wire in reverse
 * order; sending one at a time keeps call order, which peers reasonably
 * expect on a loopback or LAN path.
 */
export class OrderedSender {
  #issue: (data: Uint8Array, to: NetAddress, done: () => void) => void;
  readonly #now: () => number;
  // Bounded, so a socket that receives faster than it can send (a flooded
  // server) drops its oldest unsent datagrams instead of growing without end.
  #queue = new Fifo<Transmit>(SEND_QUEUE_LIMIT);
  /** Sends issued and not completed (1, except past a stalled one). */
  #inFlight = 0;
  /** Which issue the queue waits for; an older one completing late changes nothing. */
  #turn = 0;
  #issuedAt = 0;
  #stalls = 0;
  #stopped = false;
  #idle: (() => void) | undefined;

  /**
   * @param issue Starts one send and calls `done` exactly once when it has
   * completed or failed; must not throw.
   * @param now Clock for the stall rule (ms), default `performance.now`.
   */
  constructor(
    issue: (data: Uint8Array, to: NetAddress, done: () => void) => void,
    now: () => number = () => performance.now(),
  ) {
    this.#issue = issue;
    this.#now = now;
  }

  /** Datagrams dropped because too many were waiting to be sent. */
  get dropped(): number {
    return this.#queue.dropped;
  }

  /** Sends that had not completed after {@linkcode SEND_STALL_MS}, so the next went anyway. */
  get stalls(): number {
    return this.#stalls;
  }

  /** Queues one datagram; it goes out after every datagram queued before it. */
  send(data: Uint8Array, to: NetAddress): void {
    if (this.#stopped) return;
    if (this.#inFlight === 0) return this.#start(data, to);
    this.#queue.push({ data, to });
    // Deno's UDP send op on a fresh socket can wait for a writable event that only comes
    // when the socket receives something (measured: joins stuck 40 s, tools/udp_room.ts):
    // behind one such send the socket would never send again, so past the stall rule the
    // next send goes without waiting for it.
    if (this.#now() - this.#issuedAt >= SEND_STALL_MS) {
      this.#stalls++;
      this.#next();
    }
  }

  #start(data: Uint8Array, to: NetAddress): void {
    const turn = ++this.#turn;
    this.#inFlight++;
    this.#issuedAt = this.#now();
    this.#issue(data, to, () => this.#done(turn));
  }

  #done(turn: number): void {
    this.#inFlight--;
    if (turn === this.#turn) this.#next(); // after stop() too: close() lets queued ones out
    else if (this.#inFlight === 0 && this.#queue.size === 0) this.#idle?.();
  }

  #next(): void {
    const next = this.#queue.shift();
    if (next !== undefined) return this.#start(next.data, next.to);
    if (this.#inFlight === 0) {
      this.#queue.clear();
      this.#idle?.();
    }
  }

  /** Takes no more datagrams; resolves once every queued one has been sent (or failed). */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }
}

/**
 * The receive side of a socket: either calls the `onDatagram` callback or
 * buffers for `for await`, at most `queueLimit` datagrams, dropping the oldest
 * past that (as a full kernel buffer would drop).
 */
export class Receiver implements AsyncIterable<Datagram> {
  /** Datagrams dropped because the iterator queue was full. */
  get dropped(): number {
    return this.#queue.dropped;
  }
  #handler: DatagramHandler | undefined;
  #onError: ((error: Error) => void) | undefined;
  #queue: Fifo<Datagram>;
  #waiters: ((result: IteratorResult<Datagram>) => void)[] = [];
  #closed = false;
  #unhandled: (error: Error) => void;

  /**
   * @param unhandled What to do with an error thrown by `onDatagram` when
   * there is no `onError`; by default it is rethrown on a fresh microtask.
   */
  constructor(options: ResolvedBindOptions, unhandled?: (error: Error) => void) {
    this.#handler = options.onDatagram;
    this.#onError = options.onError;
    this.#queue = new Fifo(options.queueLimit);
    this.#unhandled = unhandled ?? ((error) => reportError(undefined, error));
  }

  /** Hands over one datagram; returns false if the queue was full and the oldest dropped. */
  deliver(data: Uint8Array, from: NetAddress): boolean {
    if (this.#closed) return true;
    const handler = this.#handler;
    if (handler) {
      try {
        handler(data, from);
      } catch (error) {
        if (this.#onError) this.#onError(toError(error));
        else this.#unhandled(toError(error));
      }
      return true;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: { data, from }, done: false });
      return true;
    }
    return this.#queue.push({ data, from });
  }

  /** Ends every iterator; buffered datagrams are discarded. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    if (this.#handler) {
      throw new TypeError("This socket delivers to its onDatagram callback and is not iterable");
    }
    return {
      next: (): Promise<IteratorResult<Datagram>> => {
        const value = this.#queue.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<Datagram>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
  }
}

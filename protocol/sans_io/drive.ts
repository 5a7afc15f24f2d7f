/**
 * {@linkcode drive}: the one loop that runs a {@linkcode SansIoMachine} on
 * a socket and a clock (used by `Room`, the bootstrap server and the
 * simulation tests).
 *
 * @module
 */
import type { Clock, NetAddress } from "../net/types.ts";
import type { SansIoMachine } from "./machine.ts";

/**
 * Longest delay a timer takes (32-bit): longer ones would fire at once, over
 * and over. The driver caps its delays here; firing early is harmless.
 *
 * @example
 * ```ts
 * import { MAX_TIMER_MS } from "@olaf/protocol/sans-io";
 * const delay = Math.min(MAX_TIMER_MS, 30 * 24 * 3600 * 1000); // a month: capped to ~24.8 days
 * console.log(delay === MAX_TIMER_MS);
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Options of {@linkcode drive}.
 *
 * @example Log events, count errors
 * ```ts
 * import { type DriveOptions, systemClock } from "@olaf/protocol/sans-io";
 *
 * let errors = 0;
 * const options: DriveOptions<string> = {
 *   clock: systemClock,
 *   onEvent: (event) => console.log(event),
 *   onError: () => errors++,
 * };
 * console.log(typeof options.onEvent);
 * ```
 */
export interface DriveOptions<E> {
  /** Where time comes from and timers are set (the system clock, or a MemoryNetwork's). */
  clock: Clock;
  /** Called with every event the machine emits, in order. */
  onEvent?: (event: E) => void;
  /**
   * Called when `onEvent` or `socket.send` throws; the driver keeps going.
   * Default: rethrown from a microtask, like an uncaught error.
   */
  onError?: (error: unknown) => void;
}

/**
 * What the driver sends on: any datagram socket (a `DatagramSocket` from
 * `@olaf/protocol/net`, a `MemoryNetwork` socket, or a recorder in tests).
 *
 * @example A socket that records what it is given
 * ```ts
 * import type { DriverSocket, NetAddress } from "@olaf/protocol/sans-io";
 *
 * const sent: { data: Uint8Array; to: NetAddress }[] = [];
 * const socket: DriverSocket = { send: (data, to) => void sent.push({ data, to }) };
 * socket.send(new Uint8Array([1]), { hostname: "10.0.0.1", port: 4000 });
 * console.log(sent.length);
 * ```
 */
export interface DriverSocket {
  /** Sends one datagram (the socket takes ownership of `data`). */
  send(data: Uint8Array, to: NetAddress): void;
}

/**
 * A running machine (see {@linkcode drive}). Feed it datagrams with
 * {@linkcode Driver.receive}; after calling a method of the machine yourself
 * (e.g. `send`), call {@linkcode Driver.pump}.
 *
 * @example Drive a machine by hand with a recording socket
 * ```ts
 * import { Driver, type NetAddress, type SansIoMachine, type Transmit } from "@olaf/protocol/sans-io";
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 *
 * // Answers every datagram with its length, and says "tick" once, at t=100.
 * class Counter implements SansIoMachine<string> {
 *   out: Transmit[] = [];
 *   events: string[] = [];
 *   ticked = false;
 *   handleDatagram(data: Uint8Array, from: NetAddress): void {
 *     this.out.push({ data: new Uint8Array([data.length]), to: from });
 *   }
 *   handleTimeout(now: number): void {
 *     if (now < 100 || this.ticked) return;
 *     this.ticked = true;
 *     this.events.push("tick");
 *   }
 *   pollTransmit(): Transmit | undefined { return this.out.shift(); }
 *   pollEvent(): string | undefined { return this.events.shift(); }
 *   pollTimeout(): number | undefined { return this.ticked ? undefined : 100; }
 * }
 *
 * const net = new MemoryNetwork();
 * const sent: number[] = [];
 * const events: string[] = [];
 * const driver = new Driver(new Counter(), { clock: net.clock, onEvent: (e) => events.push(e) });
 * driver.attach({ send: (data) => sent.push(data[0]!) });
 * driver.receive(new Uint8Array(3), { hostname: "10.0.0.1", port: 1 });
 * assert.deepEqual(sent, [3]);
 * await net.advance(100);
 * assert.deepEqual(events, ["tick"]);
 * driver.stop();
 * ```
 */
export class Driver<E> {
  readonly #machine: SansIoMachine<E>;
  readonly #clock: Clock;
  readonly #onEvent: ((event: E) => void) | undefined;
  readonly #onError: (error: unknown) => void;
  #socket: DriverSocket | undefined;
  #timer = 0;
  /** The deadline the armed timer stands for, or `undefined` when none is armed. */
  #armedFor: number | undefined;
  #stopped = false;

  /**
   * Creates a driver; prefer {@linkcode drive}. Nothing is sent until
   * {@linkcode Driver.attach}: transmits stay queued in the machine.
   *
   * @param machine The machine.
   * @param options Clock and event callback.
   */
  constructor(machine: SansIoMachine<E>, options: DriveOptions<E>) {
    this.#machine = machine;
    this.#clock = options.clock;
    this.#onEvent = options.onEvent;
    this.#onError = options.onError ?? ((error) =>
      queueMicrotask(() => {
        throw error;
      }));
  }

  /** Whether {@linkcode Driver.stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Sets the socket transmits go to, and sends what is queued.
   *
   * @param socket The socket (anything with `send(data, to)`).
   */
  attach(socket: DriverSocket): void {
    this.#socket = socket;
    this.pump();
  }

  /**
   * Feeds a received datagram to the machine (at the clock's now), then pumps.
   * Ignored after {@linkcode Driver.stop}.
   *
   * @param data The datagram.
   * @param from Its source.
   */
  receive(data: Uint8Array, from: NetAddress): void {
    if (this.#stopped) return;
    this.#machine.handleDatagram(data, from, this.#clock.now());
    this.pump();
  }

  /**
   * Sends every transmit (once attached), delivers every event, and re-arms
   * the one timer for the machine's `pollTimeout()` (delays capped at
   * {@linkcode MAX_TIMER_MS}: firing early is harmless). Stops early if
   * `onEvent` stops the driver.
   */
  pump(): void {
    if (this.#stopped) return;
    const machine = this.#machine;
    const socket = this.#socket;
    if (socket !== undefined) {
      const now = this.#clock.now();
      for (let t = machine.pollTransmit(now); t !== undefined; t = machine.pollTransmit(now)) {
        try {
          socket.send(t.data, t.to);
        } catch (error) {
          this.#onError(error);
        }
        if (this.#stopped) return;
      }
    }
    const onEvent = this.#onEvent;
    for (let e = machine.pollEvent(); e !== undefined; e = machine.pollEvent()) {
      if (onEvent !== undefined) {
        try {
          onEvent(e);
        } catch (error) {
          this.#onError(error);
        }
      }
      if (this.#stopped) return;
    }
    this.#arm(machine.pollTimeout());
  }

  /** Clears the timer; later calls of every method do nothing. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#armedFor !== undefined) this.#clock.clearTimer(this.#timer);
    this.#armedFor = undefined;
  }

  #arm(due: number | undefined): void {
    // An armed timer that fires no later than the new deadline stays: firing early is
    // harmless (the machine does nothing and the next pump re-arms), and re-arming on every
    // datagram whose deadline moved later cost a clearTimer + setTimer per reply (3 us of a
    // bootstrap's 17 us per reply under load, bench:udp).
    if (due === this.#armedFor) return;
    if (this.#armedFor !== undefined && (due === undefined || this.#armedFor <= due)) return;
    const clock = this.#clock;
    if (this.#armedFor !== undefined) clock.clearTimer(this.#timer);
    this.#armedFor = due;
    if (due === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - clock.now()));
    this.#timer = clock.setTimer(this.#fire, delay);
  }

  #fire = (): void => {
    this.#armedFor = undefined;
    if (this.#stopped) return;
    this.#machine.handleTimeout(this.#clock.now());
    this.pump();
  };
}

/**
 * Runs `machine` on `options.clock`: returns a {@linkcode Driver} to
 * {@linkcode Driver.attach} a socket to and feed with
 * {@linkcode Driver.receive}.
 *
 * @param machine The machine.
 * @param options Clock and event callback.
 * @returns The driver.
 *
 * @example An echo machine on the in-memory network
 * ```ts
 * import { drive, Fifo, type NetAddress, type Transmit } from "@olaf/protocol/sans-io";
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 *
 * const out = new Fifo<Transmit>();
 * const echo = {
 *   handleDatagram: (data: Uint8Array, to: NetAddress) => void out.push({ data, to }),
 *   handleTimeout: () => {},
 *   pollTransmit: () => out.shift(),
 *   pollEvent: () => undefined,
 *   pollTimeout: () => undefined,
 * };
 *
 * const net = new MemoryNetwork();
 * const driver = drive(echo, { clock: net.clock });
 * const server = await net.bind({ port: 7, onDatagram: (d, from) => driver.receive(d, from) });
 * driver.attach(server);
 * let answer = "";
 * const client = await net.bind({ onDatagram: (d) => answer = new TextDecoder().decode(d) });
 * client.send(new TextEncoder().encode("hi"), server.localAddress);
 * await net.advance(10);
 * assert.equal(answer, "hi");
 * driver.stop();
 * await server.close();
 * await client.close();
 * ```
 */
export function drive<E>(machine: SansIoMachine<E>, options: DriveOptions<E>): Driver<E> {
  return new Driver(machine, options);
}

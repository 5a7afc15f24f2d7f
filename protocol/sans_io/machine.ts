/**
 * The contract every Olaf sans-IO state machine offers (the bootstrap core,
 * the peer machine, the test models), and that {@linkcode drive} runs.
 *
 * @module
 */
import type { NetAddress, Transmit } from "../net/types.ts";

/**
 * A sans-IO state machine: datagrams and time go in, datagrams, events and
 * the next deadline come out. It never reads a clock and never touches a
 * socket, so tests drive it by hand or on a virtual clock, and one driver
 * ({@linkcode drive}) runs every machine on a real socket.
 *
 * Contract: after any input (`handleDatagram`, `handleTimeout`, or a method
 * of the concrete machine such as `send`), the driver drains
 * `pollTransmit(now)` and `pollEvent()` until they return `undefined`, then
 * arms one timer for `pollTimeout()`. Calling `handleTimeout` early must be
 * harmless (it does whatever is due and nothing else).
 *
 * @typeParam E The machine's event type.
 *
 * @example A machine that echoes every datagram, once a second at most
 * ```ts
 * import { Fifo, type NetAddress, type SansIoMachine, type Transmit } from "@olaf/protocol/sans-io";
 * import assert from "node:assert/strict";
 *
 * class Echo implements SansIoMachine<string> {
 *   #out = new Fifo<Transmit>();
 *   #events = new Fifo<string>();
 *   #quietUntil = 0;
 *   handleDatagram(data: Uint8Array, from: NetAddress, now: number): void {
 *     if (now < this.#quietUntil) {
 *       this.#events.push("dropped");
 *       return;
 *     }
 *     this.#quietUntil = now + 1000;
 *     this.#out.push({ data, to: from });
 *   }
 *   handleTimeout(_now: number): void {}
 *   pollTransmit(_now?: number): Transmit | undefined { return this.#out.shift(); }
 *   pollEvent(): string | undefined { return this.#events.shift(); }
 *   pollTimeout(): number | undefined { return undefined; }
 * }
 *
 * const echo = new Echo();
 * const from = { hostname: "10.0.0.1", port: 4000 };
 * echo.handleDatagram(new Uint8Array([1]), from, 0);
 * echo.handleDatagram(new Uint8Array([2]), from, 10);
 * assert.deepEqual(echo.pollTransmit(10)?.data, new Uint8Array([1]));
 * assert.equal(echo.pollTransmit(10), undefined);
 * assert.equal(echo.pollEvent(), "dropped");
 * ```
 */
export interface SansIoMachine<E> {
  /**
   * Feeds one received datagram. Must not throw on bad input (count and drop it).
   *
   * @param data The datagram's bytes (owned by the machine from now on).
   * @param from Its source address.
   * @param now Current time in ms.
   */
  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void;
  /**
   * Runs whatever is due at `now`; early calls do nothing.
   *
   * @param now Current time in ms.
   */
  handleTimeout(now: number): void;
  /**
   * The next datagram to send, or `undefined` when there is none. Bytes for a
   * destination are built here, so per-destination state (keys, ACKs) has
   * one place.
   *
   * @param now Current time in ms.
   */
  pollTransmit(now: number): Transmit | undefined;
  /** The next event for the application, or `undefined` when there is none. */
  pollEvent(): E | undefined;
  /** When `handleTimeout` is next due (ms, same clock as `now`), or `undefined` for never. */
  pollTimeout(): number | undefined;
}

/**
 * The I/O-free layer of Olaf: what a sans-IO state machine is made of and
 * the one driver that runs it. Loads no socket module (no `node:dgram`), so
 * machines built on it run anywhere, including the browser.
 *
 * - {@linkcode SansIoMachine}: the machine contract (`handleDatagram`,
 *   `handleTimeout`, `pollTransmit(now)`, `pollEvent`, `pollTimeout`).
 * - {@linkcode Timers}: named deadlines with one earliest deadline.
 * - {@linkcode drive} / {@linkcode Driver}: the loop that runs a machine on
 *   a socket and a {@linkcode Clock}.
 * - {@linkcode Fifo}, {@linkcode Transmit}, {@linkcode NetAddress},
 *   {@linkcode Clock}, {@linkcode systemClock}: the shared building blocks.
 *
 * @example A machine's timers and queues
 * ```ts
 * import { Fifo, Timers, type Transmit } from "@olaf/protocol/sans-io";
 * import assert from "node:assert/strict";
 *
 * const timers = new Timers<"heartbeat">();
 * const transmits = new Fifo<Transmit>();
 * timers.set("heartbeat", 0);
 * for (const name of timers.due(0)) {
 *   if (name === "heartbeat") {
 *     transmits.push({ data: new Uint8Array([1]), to: { hostname: "10.0.0.1", port: 4000 } });
 *     timers.set("heartbeat", 3000);
 *   }
 * }
 * assert.equal(transmits.size, 1);
 * assert.equal(timers.next(), 3000);
 * ```
 *
 * @module
 */
export { Fifo } from "../net/fifo.ts";
export { type Clock, type NetAddress, systemClock, type Transmit } from "../net/types.ts";
export type { SansIoMachine } from "./machine.ts";
export { Timers } from "./timers.ts";
export { drive, type DriveOptions, Driver, type DriverSocket, MAX_TIMER_MS } from "./drive.ts";

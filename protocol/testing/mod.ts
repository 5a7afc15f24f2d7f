/**
 * Test support shared by every Olaf package's tests and examples: drain
 * helpers for sans-IO machines, one bounded-polling `eventually`, and a fake
 * bootstrap for examples. Loads no socket module (the fake bootstrap takes
 * a binder).
 *
 * @example Drain what a machine queued
 * ```ts
 * import { drainEvents, drainTransmits } from "@olaf/protocol/testing";
 * import { encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const transmits = [{ data: encode({ type: "PING", peers: [], payload: new Uint8Array() }), to: { hostname: "10.0.0.1", port: 1 } }];
 * const events = ["joined"];
 * const machine = { pollTransmit: () => transmits.shift(), pollEvent: () => events.shift() };
 * assert.deepEqual(drainTransmits(machine).map((t) => t.message.type), ["PING"]);
 * assert.deepEqual(drainEvents(machine), ["joined"]);
 * ```
 *
 * @module
 */
export { type DecodedTransmit, drainEvents, drainTransmits } from "./drain.ts";
export { eventually, type EventuallyOptions } from "./eventually.ts";
export {
  type FakeBootstrap,
  type FakeBootstrapOptions,
  startFakeBootstrap,
} from "./fake_bootstrap.ts";

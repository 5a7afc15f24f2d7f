/**
 * Drain helpers for tests of sans-IO machines: everything a machine queued,
 * as arrays to assert on.
 *
 * @module
 */
import { decode } from "../codec.ts";
import type { Message } from "../message.ts";
import type { NetAddress, Transmit } from "../net/types.ts";

/**
 * A transmit with its datagram decoded (what {@linkcode drainTransmits} returns).
 *
 * @example
 * ```ts
 * import { decode, encode } from "@olaf/protocol";
 * import type { DecodedTransmit } from "@olaf/protocol/testing";
 *
 * const data = encode({ type: "PING", peers: [], payload: new Uint8Array() });
 * const t: DecodedTransmit = { data, to: { hostname: "10.0.0.1", port: 1 }, message: decode(data) };
 * console.log(t.message.type); // "PING"
 * ```
 */
export interface DecodedTransmit {
  /** The datagram's bytes. */
  readonly data: Uint8Array;
  /** Where it goes. */
  readonly to: NetAddress;
  /** The datagram, decoded (it must decode: a machine sends only well-formed datagrams). */
  readonly message: Message;
}

/**
 * Polls every queued transmit and decodes it.
 *
 * @param machine Anything with `pollTransmit(now?)`.
 * @param now Passed to `pollTransmit`, when given.
 * @returns The transmits in order, decoded.
 * @throws {ProtocolError} When a queued datagram does not decode.
 *
 * @example
 * ```ts
 * import { encode } from "@olaf/protocol";
 * import { drainTransmits } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const queue = [{ data: encode({ type: "ROOM_FULL", peers: [], payload: new Uint8Array() }), to: { hostname: "10.0.0.1", port: 1 } }];
 * const [out] = drainTransmits({ pollTransmit: () => queue.shift() });
 * assert.equal(out!.message.type, "ROOM_FULL");
 * ```
 */
export function drainTransmits(
  machine: { pollTransmit(now?: number): Transmit | undefined },
  now?: number,
): DecodedTransmit[] {
  const out: DecodedTransmit[] = [];
  for (let t = machine.pollTransmit(now); t !== undefined; t = machine.pollTransmit(now)) {
    out.push({ data: t.data, to: t.to, message: decode(t.data) });
  }
  return out;
}

/**
 * Polls every queued event.
 *
 * @param machine Anything with `pollEvent()`.
 * @returns The events in order.
 *
 * @example
 * ```ts
 * import { drainEvents } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const queue = ["a", "b"];
 * assert.deepEqual(drainEvents({ pollEvent: () => queue.shift() }), ["a", "b"]);
 * ```
 */
export function drainEvents<E>(machine: { pollEvent(): E | undefined }): E[] {
  const out: E[] = [];
  for (let e = machine.pollEvent(); e !== undefined; e = machine.pollEvent()) out.push(e);
  return out;
}

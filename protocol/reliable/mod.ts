/**
 * Reliable, ordered and large messages between Olaf peers, without I/O:
 * the `DATA` (16) and `ACK` (17) extension codec, an RFC 6298 RTT
 * estimator, and the per-link sender and receiver, combined in
 * {@linkcode ReliableLink}. A peer's link owns one `ReliableLink`, feeds it
 * the peer's `DATA`/`ACK` datagrams and sends what it polls. Wire layouts
 * and test vectors: `protocol/EXTENSIONS.md`.
 *
 * How a peer uses it: one `ReliableLink` per Olaf member (made on the first
 * reliable send or the first `DATA`/`ACK` from that member; deployed v1
 * peers never get one, as they cannot acknowledge). Datagrams from the
 * member's path for which {@linkcode isReliableDatagram} holds go to
 * `handleDatagram(bytes, now)`; the machine's `pollTransmit(now)` drains
 * `link.pollTransmit(now)` to the member's path; its timer table holds the
 * earliest `link.pollTimeout()`; `message` events become the room's message
 * events and `delivered`/`failed` settle the promise of the send with that
 * handle; `blocked` sends wait for `writable`.
 *
 * @example One reliable message, acknowledged
 * ```ts
 * import { ReliableLink } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const alice = new ReliableLink({ session: 1000 });
 * const bob = new ReliableLink({ session: 2000 });
 * alice.send(new TextEncoder().encode("hello"), { ordered: true }, 0);
 * bob.handleDatagram(alice.pollTransmit(0)!, 20);
 * const message = bob.pollEvent();
 * assert.ok(message?.type === "message");
 * assert.equal(new TextDecoder().decode(message.data), "hello");
 * // The ACK is delayed (25 ms) in case a second packet comes.
 * assert.equal(bob.pollTransmit(20), undefined);
 * assert.equal(bob.pollTimeout(), 45);
 * alice.handleDatagram(bob.pollTransmit(45)!, 65);
 * assert.deepEqual(alice.pollEvent(), { type: "delivered", handle: 0, latencyMs: 65 });
 * ```
 *
 * @module
 */
export {
  ACK_HEADER_BYTES,
  ACK_RANGE_BYTES,
  ACK_TYPE,
  ackDatagramBytes,
  type AckFrame,
  type AckRange,
  DATA_HEADER_BYTES,
  DATA_TYPE,
  dataDatagramBytes,
  type DataFrame,
  decodeAck,
  decodeData,
  encodeAck,
  encodeData,
  FLAG_FRAGMENT,
  FLAG_ORDERED,
  FLAG_RELIABLE,
  FRAGMENT_FIELDS_BYTES,
  FRAMING_BYTES,
  isReliableDatagram,
  MAX_ACK_RANGES,
  MAX_FRAGMENTS,
  parseAck,
  parseData,
} from "./codec.ts";
export { serialAdd, serialDiff, serialLess } from "./serial.ts";
export { RttEstimator, type RttOptions } from "./rtt.ts";
export { DeliveryError, type DeliveryErrorReason } from "./errors.ts";
export {
  ReliableSender,
  type SenderEvent,
  type SenderOptions,
  type SenderStats,
  type SendResult,
} from "./sender.ts";
export {
  type ReceiverEvent,
  type ReceiverOptions,
  type ReceiverStats,
  ReliableReceiver,
} from "./receiver.ts";
export {
  type ReliableEvent,
  ReliableLink,
  type ReliableLinkOptions,
  type ReliableLinkStats,
} from "./link.ts";

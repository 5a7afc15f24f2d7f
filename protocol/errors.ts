/**
 * Why a datagram could not be decoded, or a message could not be encoded.
 *
 * - `truncated-header`: shorter than the 3-byte `type | count` header.
 * - `peer-block-overflow`: the peer count promises more records than the datagram holds.
 * - `truncated-payload`: no room for the payload's length field (or, for
 *   `BOOTSTRAP_R`, for the recipient's own record).
 * - `payload-length-overflow`: the payload length runs past the end of the datagram.
 * - `trailing-bytes`: bytes left over after the payload.
 * - `invalid-ipv4`: an address is not dotted-quad IPv4 text (encoding only).
 * - `port-out-of-range`, `id-out-of-range`: not an integer in 0..65535 / 0..2^32-1.
 * - `room-not-utf8`: a room name is not well-formed UTF-8 (or, when encoding,
 *   a string with lone surrogates).
 * - `datagram-too-large`, `too-many-peers`, `room-too-long`, `payload-too-large`:
 *   over a configured limit.
 * - `invalid-type`: an extension type code outside 6..255 (encoding only).
 * - Reliable-delivery extension (`DATA` 16, `ACK` 17, `@olaf/protocol/reliable`):
 *   `unexpected-type` (not the message type asked for), `invalid-flags` (unknown
 *   flag bits set), `invalid-fragment` (fragment index/count impossible),
 *   `invalid-ack-ranges` (selective ranges empty, unsorted, overlapping or not
 *   above the cumulative point), `too-many-ranges` (over the range limit),
 *   `field-out-of-range` (a number that does not fit its field, encoding only).
 */
export type ProtocolErrorReason =
  | "truncated-header"
  | "peer-block-overflow"
  | "truncated-payload"
  | "payload-length-overflow"
  | "trailing-bytes"
  | "invalid-ipv4"
  | "port-out-of-range"
  | "id-out-of-range"
  | "room-not-utf8"
  | "datagram-too-large"
  | "too-many-peers"
  | "room-too-long"
  | "payload-too-large"
  | "invalid-type"
  | "unexpected-type"
  | "invalid-flags"
  | "invalid-fragment"
  | "invalid-ack-ranges"
  | "too-many-ranges"
  | "field-out-of-range";

/** Every {@linkcode ProtocolErrorReason}, for counters keyed by reason. */
export const PROTOCOL_ERROR_REASONS: readonly ProtocolErrorReason[] = [
  "truncated-header",
  "peer-block-overflow",
  "truncated-payload",
  "payload-length-overflow",
  "trailing-bytes",
  "invalid-ipv4",
  "port-out-of-range",
  "id-out-of-range",
  "room-not-utf8",
  "datagram-too-large",
  "too-many-peers",
  "room-too-long",
  "payload-too-large",
  "invalid-type",
  "unexpected-type",
  "invalid-flags",
  "invalid-fragment",
  "invalid-ack-ranges",
  "too-many-ranges",
  "field-out-of-range",
];

/**
 * The one error the codec throws for bad input. `reason` is machine-readable;
 * the message is for people.
 *
 * @example Tell a malformed datagram apart from other failures
 * ```ts
 * import { decode, ProtocolError } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * try {
 *   decode(new Uint8Array([1, 0]));
 *   assert.fail("should not decode");
 * } catch (error) {
 *   assert.ok(error instanceof ProtocolError);
 *   assert.equal(error.reason, "truncated-header");
 * }
 * ```
 */
export class ProtocolError extends Error {
  /** Why the input was refused. */
  readonly reason: ProtocolErrorReason;

  /**
   * Creates an error for `reason`, with a human-readable `message`.
   *
   * @param reason Machine-readable reason.
   * @param message What was wrong, for people.
   */
  constructor(reason: ProtocolErrorReason, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.reason = reason;
  }
}

/**
 * The error a reliable send fails with.
 *
 * @module
 */

/**
 * Why a reliable message was not acknowledged:
 * - `gave-up`: a fragment was sent `maxTransmissions` times, or the message
 *   stayed unacknowledged for `giveUpMs`; the peer is gone or unreachable.
 * - `link-failed`: another message on the same link gave up first, so the
 *   link is dead and every message queued on it fails with it.
 */
export type DeliveryErrorReason = "gave-up" | "link-failed";

/**
 * A reliable message was not acknowledged. A link that gave up on one
 * message fails all of them (its sequence space has a hole the peer never
 * filled); make a new link to talk to the peer again.
 *
 * @example
 * ```ts
 * import { DeliveryError } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * const error = new DeliveryError("gave-up", 8, 31_000);
 * assert.match(error.message, /8 transmissions/);
 * ```
 */
export class DeliveryError extends Error {
  /** Machine-readable reason. */
  readonly reason: DeliveryErrorReason;
  /** Transmissions of the fragment that gave up. */
  readonly transmissions: number;
  /** Ms from the first transmission of that message to the give-up. */
  readonly elapsedMs: number;

  /**
   * Creates the error; the message says what happened, for people.
   *
   * @param reason Why.
   * @param transmissions Transmissions of the fragment that gave up.
   * @param elapsedMs Ms since the message was first sent.
   */
  constructor(reason: DeliveryErrorReason, transmissions: number, elapsedMs: number) {
    super(
      reason === "gave-up"
        ? `no acknowledgement after ${transmissions} transmissions over ${
          Math.round(elapsedMs)
        } ms: the peer is unreachable`
        : `the link failed: an earlier message got no acknowledgement after ${transmissions} transmissions over ${
          Math.round(elapsedMs)
        } ms`,
    );
    this.name = "DeliveryError";
    this.reason = reason;
    this.transmissions = transmissions;
    this.elapsedMs = elapsedMs;
  }
}

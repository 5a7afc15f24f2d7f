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
 * - `peer-restarted`: the peer came back with a new session (it lost its
 *   receive state), so messages not yet acknowledged may or may not have
 *   reached its previous run; the link goes on with a new session.
 */
export type DeliveryErrorReason = "gave-up" | "link-failed" | "peer-restarted";

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
    const tries = `${transmissions} transmissions over ${Math.round(elapsedMs)} ms`;
    super(
      reason === "gave-up"
        ? `no acknowledgement after ${tries}: the peer is unreachable`
        : reason === "link-failed"
        ? `the link failed: an earlier message got no acknowledgement after ${tries}`
        : `the peer restarted before acknowledging (after ${tries})`,
    );
    this.name = "DeliveryError";
    this.reason = reason;
    this.transmissions = transmissions;
    this.elapsedMs = elapsedMs;
  }
}

/**
 * Who the peer lets in, and whose id it believes (issue 12).
 *
 * - **Strangers per heartbeat.** A stranger (a sender that is neither a
 *   member nor a candidate) becomes a member on its first datagram, but at
 *   most `strangersPerHeartbeat` of them per heartbeat; the rest are dropped
 *   without a reply (an honest newcomer is let in at its next probe, a
 *   second later). 1000 spoofed pings then make at most that many members.
 * - **Ids the bootstrap issued.** A member counts in the collector election
 *   only with the id a `BOOTSTRAP_R` listed for its address: a stranger that
 *   claims id 1 in its own record does not take the duty (and the room does
 *   not expire at the bootstrap because nobody reports it).
 *
 * @module
 */
import type { AddressKey } from "@olaf/protocol";

/** Default of `strangersPerHeartbeat`. */
export const DEFAULT_STRANGERS_PER_HEARTBEAT = 64;

/** Admission of strangers and the ids the bootstrap issued. */
export class Admission {
  readonly #perHeartbeat: number;
  readonly #capacity: number;
  #left: number;
  /** Address -> the id the bootstrap listed for it (latest listing wins); oldest first. */
  readonly #issued = new Map<AddressKey, number>();

  constructor(strangersPerHeartbeat: number, capacity: number) {
    this.#perHeartbeat = strangersPerHeartbeat;
    this.#left = strangersPerHeartbeat;
    this.#capacity = capacity;
  }

  /** A new heartbeat: the stranger allowance refills. */
  newHeartbeat(): void {
    this.#left = this.#perHeartbeat;
  }

  /** Whether one more stranger may become a member this heartbeat (counted when so). */
  admitStranger(): boolean {
    if (this.#left <= 0) return false;
    this.#left--;
    return true;
  }

  /** A `BOOTSTRAP_R` listed `key` with `id`. */
  issued(key: AddressKey, id: number): void {
    if (id === 0) return;
    this.#issued.delete(key);
    this.#issued.set(key, id);
    if (this.#issued.size > this.#capacity) {
      const oldest = this.#issued.keys().next().value;
      if (oldest !== undefined) this.#issued.delete(oldest);
    }
  }

  /** Whether the bootstrap issued `id` to `key` (so it may count in the election). */
  trusted(key: AddressKey, id: number): boolean {
    return id !== 0 && this.#issued.get(key) === id;
  }
}

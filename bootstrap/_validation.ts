/**
 * Which source addresses have shown that they receive at the address they
 * send from. An unvalidated source may be spoofed, so replies toward it stay
 * within 3x its request (the QUIC anti-amplification rule); a validated one
 * gets full replies.
 *
 * An address becomes validated by proof, never by claim: an Olaf join that
 * echoes a token the bootstrap sent there, or (for v1 peers) evidence the
 * README's amplification section names. Entries expire, and the table is
 * bounded: past `capacity` the least recently validated entry goes.
 *
 * @module
 */

/** Options of an {@linkcode AddressValidation} table. */
export interface AddressValidationOptions {
  /** How long a validation lasts after its last proof, in ms. */
  ttlMs: number;
  /** Most addresses remembered; the least recently validated goes first. */
  capacity: number;
}

/** A bounded, expiring set of validated endpoint keys (`endpointKey(ip, port)`). */
export class AddressValidation {
  readonly #ttlMs: number;
  readonly #capacity: number;
  // Insertion order is validation order, so the first key is the oldest.
  readonly #expiries = new Map<number, number>();

  constructor(options: AddressValidationOptions) {
    this.#ttlMs = options.ttlMs;
    this.#capacity = options.capacity;
  }

  /** Records fresh proof that `key` receives at its address. */
  validate(key: number, now: number): void {
    this.#expiries.delete(key);
    this.#expiries.set(key, now + this.#ttlMs);
    if (this.#expiries.size > this.#capacity) {
      const oldest = this.#expiries.keys().next().value;
      if (oldest !== undefined) this.#expiries.delete(oldest);
    }
  }

  /** Whether `key` has a validation that has not expired at `now`. */
  isValidated(key: number, now: number): boolean {
    const expiry = this.#expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry > now) return true;
    this.#expiries.delete(key);
    return false;
  }

  /** Forgets `key` (for instance when its member leaves). */
  forget(key: number): void {
    this.#expiries.delete(key);
  }

  /** Addresses currently remembered (expired ones included until looked up). */
  get size(): number {
    return this.#expiries.size;
  }
}

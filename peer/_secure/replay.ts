/**
 * Anti-replay sliding window over explicit 64-bit counters (RFC 6479's bitmap, as WireGuard
 * uses it): 2048 bits of which the newest 2016 counters are always tracked.
 *
 * @module
 */

const WORD_BITS = 32;
const WORDS = 64; // 2048 bits
/** Counters more than this far below the highest seen are refused. */
export const REPLAY_WINDOW = (WORDS - 1) * WORD_BITS;

/** The receive side of one session's counters. */
export class ReplayWindow {
  #top = -1;
  readonly #bits = new Uint32Array(WORDS);

  /** The highest counter accepted so far (-1 before any). */
  get highest(): number {
    return this.#top;
  }

  /** Whether `counter` is new and inside the window (call before decrypting). */
  check(counter: number): boolean {
    if (counter > this.#top) return true;
    if (this.#top - counter >= REPLAY_WINDOW) return false;
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    return (this.#bits[word] & (1 << (counter % WORD_BITS))) === 0;
  }

  /** Record `counter` as seen (call only after it authenticated); false if it was not new. */
  accept(counter: number): boolean {
    if (!this.check(counter)) return false;
    if (counter > this.#top) {
      const oldWord = Math.floor(this.#top / WORD_BITS);
      const newWord = Math.floor(counter / WORD_BITS);
      const clear = Math.min(newWord - oldWord, WORDS);
      for (let i = 1; i <= clear; i++) this.#bits[(oldWord + i) % WORDS] = 0;
      this.#top = counter;
    }
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    this.#bits[word] |= 1 << (counter % WORD_BITS);
    return true;
  }
}

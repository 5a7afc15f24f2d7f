/**
 * mulberry32: a tiny, fast 32-bit PRNG. Statistically fine for simulating
 * loss and delay, and fully determined by its seed, which is all the
 * in-memory network needs. Not for cryptography.
 *
 * @param seed Any number; only its low 32 bits matter.
 * @returns A function returning floats uniformly distributed in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

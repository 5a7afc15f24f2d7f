/** Options of a {@linkcode Slab}. */
export interface SlabOptions {
  /** Size of each shared buffer, default 32 KiB. */
  slabBytes?: number;
  /** Requests larger than this get an array of their own, default `slabBytes`. */
  maxPooledBytes?: number;
  /** Start every view at a multiple of this many bytes (1, 2, 4 or 8), default 1. */
  align?: number;
}

/**
 * Hands out byte arrays carved from shared buffers. Creating a small typed
 * array costs several times more than encoding a datagram into it, so the
 * encoder, the bootstrap's replies and the in-memory network take their
 * datagrams from a slab instead.
 *
 * Each view is handed out once and its bytes are never handed out again, so
 * it belongs to its taker like a fresh array (zero-filled too). What differs:
 * `view.buffer` is shared with other views, and one kept view keeps its whole
 * buffer alive.
 *
 * @example Two views, one buffer, independent bytes
 * ```ts
 * import { Slab } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 *
 * const slab = new Slab({ slabBytes: 1024 });
 * const a = slab.take(10);
 * const b = slab.take(10);
 * a.fill(1);
 * assert.equal(a.buffer, b.buffer);
 * assert.deepEqual([...b], new Array(10).fill(0));
 * ```
 */
export class Slab {
  readonly #slabBytes: number;
  readonly #maxPooledBytes: number;
  readonly #alignMask: number;
  #buffer = new Uint8Array(0);
  #used = 0;

  /**
   * Creates a slab; no buffer is allocated until the first `take`.
   *
   * @param options Buffer size, the largest pooled request, and alignment.
   */
  constructor(options: SlabOptions = {}) {
    const { slabBytes = 32 * 1024, align = 1 } = options;
    if (!(slabBytes >= 1) || ![1, 2, 4, 8].includes(align)) {
      throw new RangeError(`invalid slab options: ${JSON.stringify(options)}`);
    }
    this.#slabBytes = slabBytes;
    this.#maxPooledBytes = Math.min(options.maxPooledBytes ?? slabBytes, slabBytes);
    this.#alignMask = align - 1;
  }

  /**
   * A zero-filled view of `size` bytes that nobody else will be given.
   *
   * @param size Bytes wanted.
   * @returns The view (a fresh array when `size` is over the pooled maximum).
   */
  take(size: number): Uint8Array {
    if (size > this.#maxPooledBytes) return new Uint8Array(size);
    if (this.#used + size > this.#buffer.length) {
      this.#buffer = new Uint8Array(this.#slabBytes);
      this.#used = 0;
    }
    const view = this.#buffer.subarray(this.#used, this.#used + size);
    this.#used += (size + this.#alignMask) & ~this.#alignMask;
    return view;
  }
}

/**
 * `Fifo`, the queue every Olaf state machine and socket uses. It is also
 * exported from `@olaf/protocol/net`; this entry point loads no I/O module.
 *
 * @module
 */

/**
 * A first-in first-out queue with O(1) `push` and `shift`, optionally bounded
 * (past the bound the oldest item is dropped, as a kernel socket buffer
 * would). It is the queue behind every sans-IO machine's `pollTransmit()` and
 * `pollEvent()`, and behind iterable sockets.
 *
 * `Array.prototype.shift` is O(n); this keeps a head index instead, resets the
 * array whenever it drains (the steady state of a driver that polls after
 * every input) and compacts it when a long backlog is half consumed.
 *
 * @example A bounded queue drops its oldest items
 * ```ts
 * import { Fifo } from "@olaf/protocol/fifo";
 * import assert from "node:assert/strict";
 *
 * const queue = new Fifo<number>(2);
 * queue.push(1);
 * queue.push(2);
 * assert.equal(queue.push(3), false); // 1 was dropped to make room
 * assert.equal(queue.dropped, 1);
 * assert.equal(queue.shift(), 2);
 * assert.equal(queue.shift(), 3);
 * assert.equal(queue.shift(), undefined);
 * ```
 */
export class Fifo<T> {
  /** Most items kept (`Infinity` for unbounded). */
  readonly limit: number;
  /** Items dropped because the queue was full. */
  dropped = 0;
  #items: (T | undefined)[] = [];
  #head = 0;

  /**
   * Creates an empty queue.
   *
   * @param limit Most items kept; past it, `push` drops the oldest. Default unbounded.
   */
  constructor(limit: number = Infinity) {
    if (!(limit >= 1)) throw new RangeError(`Fifo limit must be at least 1, got ${limit}`);
    this.limit = limit;
  }

  /** Number of queued items. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Appends an item, dropping the oldest one if the queue is full.
   *
   * @param item The item.
   * @returns `false` when an older item was dropped to make room.
   */
  push(item: T): boolean {
    let kept = true;
    if (this.#items.length - this.#head >= this.limit) {
      this.#items[this.#head++] = undefined;
      this.dropped++;
      kept = false;
    }
    this.#items.push(item);
    return kept;
  }

  /**
   * Removes and returns the oldest item.
   *
   * @returns The item, or `undefined` when the queue is empty.
   */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drops every queued item (not counted in {@linkcode Fifo.dropped}). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * A binary min-heap, generic over its items: O(log n) push, pop and re-key.
 * `less` orders the items; `moved`, when given, is told every item's new
 * position, so that an item that knows its index can be re-keyed in place
 * with {@linkcode Heap.update} (the bootstrap's room deadlines). The
 * in-memory network's event queue uses it without `moved`.
 *
 * @example Re-key an item in place
 * ```ts
 * import { Heap } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 *
 * interface Job { at: number; index: number }
 * const heap = new Heap<Job>((a, b) => a.at < b.at, (job, index) => (job.index = index));
 * const a = { at: 5, index: -1 };
 * const b = { at: 7, index: -1 };
 * heap.push(a);
 * heap.push(b);
 * b.at = 1;
 * heap.update(b.index);
 * assert.equal(heap.pop(), b);
 * assert.equal(heap.peek(), a);
 * ```
 */
export class Heap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;
  readonly #moved: ((item: T, index: number) => void) | undefined;

  /**
   * Creates an empty heap.
   *
   * @param less Whether `a` comes before `b`.
   * @param moved Told each item's position whenever it changes (-1: removed).
   */
  constructor(less: (a: T, b: T) => boolean, moved?: (item: T, index: number) => void) {
    this.#less = less;
    this.#moved = moved;
  }

  /** Number of items. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * The first item, without removing it.
   *
   * @returns The least item, or `undefined` when empty.
   */
  peek(): T | undefined {
    return this.#items[0];
  }

  /**
   * Adds an item.
   *
   * @param item The item.
   */
  push(item: T): void {
    this.#items.push(item);
    this.#up(this.#items.length - 1, item);
  }

  /**
   * Removes and returns the first item.
   *
   * @returns The least item, or `undefined` when empty.
   */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    this.#moved?.(top, -1);
    if (items.length > 0) this.#down(0, last);
    return top;
  }

  /**
   * Restores the order after the key of the item at `index` changed (either way).
   *
   * @param index The item's position (as told to `moved`).
   */
  update(index: number): void {
    const item = this.#items[index];
    if (item === undefined) return;
    if (index > 0 && this.#less(item, this.#items[(index - 1) >> 1]!)) this.#up(index, item);
    else this.#down(index, item);
  }

  #place(index: number, item: T): void {
    this.#items[index] = item;
    this.#moved?.(item, index);
  }

  #up(index: number, item: T): void {
    const items = this.#items;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!this.#less(item, parent)) break;
      this.#place(index, parent);
      index = parentIndex;
    }
    this.#place(index, item);
  }

  #down(index: number, item: T): void {
    const items = this.#items;
    const length = items.length;
    while (true) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.#less(items[right]!, items[left]!) ? right : left;
      if (!this.#less(items[child]!, item)) break;
      this.#place(index, items[child]!);
      index = child;
    }
    this.#place(index, item);
  }
}

/** Anything scheduled at a virtual time; `seq` breaks ties in insertion order. */
export interface Scheduled {
  time: number;
  seq: number;
}

/**
 * A binary min-heap ordered by `(time, seq)`: O(log n) push and pop, so the
 * in-memory network stays fast with many thousands of datagrams in flight.
 */
export class EventQueue<T extends Scheduled> {
  #heap: T[] = [];

  /** Number of queued items (cancelled ones included until popped). */
  get size(): number {
    return this.#heap.length;
  }

  /** The earliest item, without removing it. */
  peek(): T | undefined {
    return this.#heap[0];
  }

  /** Adds an item. */
  push(item: T): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    const n = heap.length;
    let i = 0;
    while (true) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right], heap[left]) ? right : left;
      if (!before(heap[child], last)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

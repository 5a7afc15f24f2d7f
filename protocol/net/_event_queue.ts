import { Heap } from "../heap.ts";

/** Anything scheduled at a virtual time; `seq` breaks ties in insertion order. */
export interface Scheduled {
  time: number;
  seq: number;
}

/**
 * The in-memory network's queue: the shared {@linkcode Heap} ordered by
 * `(time, seq)`, O(log n) push and pop, so the network stays fast with many
 * thousands of datagrams in flight.
 */
export class EventQueue<T extends Scheduled> extends Heap<T> {
  constructor() {
    super(before);
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

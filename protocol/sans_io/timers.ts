/**
 * {@linkcode Timers}: a table of named deadlines with one earliest
 * deadline, so a machine's `pollTimeout()` is `timers.next()` instead of
 * hand-merged `Math.min`s.
 *
 * @module
 */

/**
 * Named deadlines (ms, the machine's clock). Each name holds at most one
 * deadline; setting it again moves it. A machine keeps one table, answers
 * `pollTimeout()` with {@linkcode Timers.next} and, in `handleTimeout(now)`,
 * runs each name {@linkcode Timers.due} returns.
 *
 * `next()` is cached, so polling after every datagram costs nothing while
 * the table does not change; a change recomputes it over the names (a
 * machine has a handful of names; per-link timers live with their link).
 *
 * @typeParam Name The timer names, e.g. `"heartbeat" | "retry"`.
 *
 * @example Two timers, one deadline to poll
 * ```ts
 * import { Timers } from "@olaf/protocol/sans-io";
 * import assert from "node:assert/strict";
 *
 * const timers = new Timers<"heartbeat" | "retry">();
 * timers.set("heartbeat", 3000);
 * timers.set("retry", 1000);
 * assert.equal(timers.next(), 1000);
 * assert.deepEqual(timers.due(999), []);
 * assert.deepEqual(timers.due(1000), ["retry"]); // due names are removed
 * assert.equal(timers.next(), 3000);
 * timers.clear("heartbeat");
 * assert.equal(timers.next(), undefined);
 * ```
 */
export class Timers<Name extends string> {
  readonly #deadlines = new Map<Name, number>();
  /** Cached earliest deadline; `null` when it must be recomputed. */
  #next: number | undefined | null = undefined;

  /**
   * Sets (or moves) the deadline of `name`.
   *
   * @param name The timer.
   * @param at When it is due (ms).
   */
  set(name: Name, at: number): void {
    const old = this.#deadlines.get(name);
    this.#deadlines.set(name, at);
    const next = this.#next;
    if (next === null) return;
    if (next === undefined || at <= next) this.#next = at;
    else if (old === next) this.#next = null; // the earliest one moved later
  }

  /**
   * Removes the deadline of `name` (nothing happens if it has none).
   *
   * @param name The timer.
   */
  clear(name: Name): void {
    const old = this.#deadlines.get(name);
    if (old === undefined) return;
    this.#deadlines.delete(name);
    if (old === this.#next) this.#next = null;
  }

  /**
   * The deadline of `name`.
   *
   * @param name The timer.
   * @returns When it is due, or `undefined` when it is not set.
   */
  get(name: Name): number | undefined {
    return this.#deadlines.get(name);
  }

  /**
   * The earliest deadline (what `pollTimeout()` returns).
   *
   * @returns A time, or `undefined` when no timer is set.
   */
  next(): number | undefined {
    if (this.#next === null) {
      let min: number | undefined;
      for (const at of this.#deadlines.values()) if (min === undefined || at < min) min = at;
      this.#next = min;
    }
    return this.#next;
  }

  /**
   * Removes and returns the timers due at `now` (deadline `<= now`),
   * earliest first (ties in the order they were first set).
   *
   * @param now Current time in ms.
   * @returns The names that are due.
   */
  due(now: number): Name[] {
    const next = this.next();
    if (next === undefined || next > now) return [];
    const due: [Name, number][] = [];
    for (const [name, at] of this.#deadlines) if (at <= now) due.push([name, at]);
    due.sort((a, b) => a[1] - b[1]);
    for (const [name] of due) this.#deadlines.delete(name);
    this.#next = null;
    return due.map(([name]) => name);
  }
}

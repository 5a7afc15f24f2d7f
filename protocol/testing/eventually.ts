/**
 * {@linkcode eventually}: bounded polling for tests on real sockets, where
 * time cannot be advanced by hand (on the in-memory network use
 * `network.runUntil` instead).
 *
 * @module
 */

/**
 * Options of {@linkcode eventually}.
 *
 * @example
 * ```ts
 * import { eventually, type EventuallyOptions } from "@olaf/protocol/testing";
 *
 * const options: EventuallyOptions = { timeoutMs: 1000, intervalMs: 5, what: "the answer" };
 * await eventually(() => true, options);
 * ```
 */
export interface EventuallyOptions {
  /** Give up after this long (wall clock), default 8000 ms. */
  timeoutMs?: number;
  /** Poll this often, default 10 ms. */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Resolves once `check()` holds, polling it; rejects after the timeout.
 * Asserts a condition, never a duration, so it holds on a loaded machine.
 *
 * @param check The condition (may be async).
 * @param options Timeout, interval, description.
 * @throws {Error} `timed out waiting for <what>` after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { eventually } from "@olaf/protocol/testing";
 *
 * let ready = false;
 * setTimeout(() => (ready = true), 20);
 * await eventually(() => ready, { what: "ready" });
 * ```
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  options: EventuallyOptions = {},
): Promise<void> {
  const { timeoutMs = 8000, intervalMs = 10, what = "a condition" } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

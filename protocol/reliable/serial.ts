/**
 * Serial-number arithmetic (RFC 1982) for the u32 sequence numbers, message
 * ids and timestamps of the reliable-delivery extension: comparisons stay
 * right across the wrap from 2^32 - 1 to 0 as long as the two numbers are
 * less than 2^31 apart.
 *
 * @module
 */

/**
 * The signed distance from `b` to `a` in u32 serial arithmetic: negative when
 * `a` comes before `b`, positive when after, in -2^31..2^31-1.
 *
 * @param a A u32.
 * @param b A u32.
 * @returns `a - b` wrapped to a signed 32-bit integer.
 *
 * @example Across the wrap
 * ```ts
 * import { serialDiff } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.equal(serialDiff(2, 0xffff_fffe), 4);
 * assert.equal(serialDiff(0xffff_fffe, 2), -4);
 * ```
 */
export function serialDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * `n + delta` wrapped to a u32.
 *
 * @param n A u32.
 * @param delta Any integer.
 * @returns The u32 `delta` after `n`.
 *
 * @example
 * ```ts
 * import { serialAdd } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.equal(serialAdd(0xffff_ffff, 1), 0);
 * ```
 */
export function serialAdd(n: number, delta: number): number {
  return (n + delta) >>> 0;
}

/**
 * Whether `a` comes before `b` in serial order.
 *
 * @param a A u32.
 * @param b A u32.
 * @returns `true` when `a` precedes `b`.
 *
 * @example
 * ```ts
 * import { serialLess } from "@olaf/protocol/reliable";
 * import assert from "node:assert/strict";
 *
 * assert.ok(serialLess(0xffff_ffff, 0));
 * assert.ok(!serialLess(0, 0xffff_ffff));
 * ```
 */
export function serialLess(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

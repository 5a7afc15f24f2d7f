/**
 * Version of `@olaf/peer` (what `olaf-peer --version` prints). Its own module so the CLI can
 * import it without importing `mod.ts`, which imports the CLI.
 *
 * @example
 * ```ts
 * import { VERSION } from "@olaf/peer";
 * import assert from "node:assert/strict";
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION = "0.1.0";

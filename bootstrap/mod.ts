/**
 * @olaf/bootstrap: the Olaf UDP bootstrap server.
 *
 * @module
 */
export * from "./bootstrap_core.ts";
export type * from "./_view_types.ts";

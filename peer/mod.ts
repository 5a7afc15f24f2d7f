/**
 * @olaf/peer: join an Olaf room by name and talk to its members directly over UDP.
 *
 * @module
 */
export * from "./peer_machine.ts";

/** Package version. */
export const VERSION = "0.1.0";

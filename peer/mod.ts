/**
 * @olaf/peer (work in progress).
 *
 * @module
 */

/** Package version. */
export const VERSION = "0.1.0";

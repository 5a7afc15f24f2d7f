/**
 * Datagram transport for Olaf drivers: one {@linkcode DatagramSocket}
 * interface, implemented over `Deno.listenDatagram` (needs `--unstable-net`)
 * and over `node:dgram` (works everywhere, including `deno run -A jsr:...`).
 *
 * @module
 */
export * from "./types.ts";

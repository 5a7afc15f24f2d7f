/**
 * Datagram transport for Olaf drivers: one {@linkcode DatagramSocket}
 * interface, implemented over `Deno.listenDatagram` (needs `--unstable-net`)
 * and over `node:dgram` (works everywhere, including `deno run -A jsr:...`).
 * {@linkcode bindDatagram} picks one automatically (see
 * {@linkcode DEFAULT_UDP_IMPLEMENTATION}); drivers take a
 * {@linkcode DatagramBinder} and a {@linkcode Clock} so tests can swap in the
 * in-memory network from `@olaf/protocol/memory-network`.
 *
 * @example Callback style (what drivers use) and iterator style
 * ```ts
 * import { bindDatagram, type NetAddress } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * // Callback per datagram: no promise per datagram.
 * await using echo = await bindDatagram({
 *   hostname: "127.0.0.1",
 *   port: 0, // any free port; the real one is in localAddress
 *   onDatagram: (data: Uint8Array, from: NetAddress) => echo.send(data, from),
 *   onError: (error) => console.error(error),
 * });
 *
 * // Async iteration: datagrams are buffered (at most queueLimit) until read.
 * await using client = await bindDatagram({ hostname: "127.0.0.1" });
 * client.send(new TextEncoder().encode("ping"), echo.localAddress);
 * for await (const { data } of client) {
 *   assert.equal(new TextDecoder().decode(data), "ping");
 *   break;
 * }
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./fifo.ts";
export * from "./udp.ts";
export * from "./udp_deno.ts";
export * from "./udp_node.ts";

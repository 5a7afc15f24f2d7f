/**
 * The Olaf/Dayanara v1 wire codec: pure TypeScript, no I/O.
 *
 * Every v1 datagram is `type u8 | peer count u16 | N x (ipv4 | port u16 | id u32)
 * | payload`, big-endian. {@linkcode decode} turns bytes into typed
 * {@linkcode Message}s without copying (payloads are views, peer records are
 * read on demand through {@linkcode PeerList}); {@linkcode encode} does the
 * reverse. Bad input only ever throws {@linkcode ProtocolError}, whose
 * `reason` says what was wrong.
 *
 * The datagram transport (real UDP on Deno or Node, and an in-memory network
 * with a virtual clock for tests) lives in `@olaf/protocol/net` and
 * `@olaf/protocol/memory-network`, so that this entry point stays free of I/O.
 *
 * @example Round-trip a bootstrap reply
 * ```ts
 * import { decode, encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const me = { ip: "203.0.113.7", port: 40000, id: 1763700001 };
 * const bytes = encode({ type: "BOOTSTRAP_R", peers: [me], self: me });
 * const reply = decode(bytes);
 * assert.equal(reply.type, "BOOTSTRAP_R");
 * if (reply.type === "BOOTSTRAP_R") {
 *   assert.deepEqual(reply.self, me);
 *   assert.deepEqual(reply.peers.toArray(), [me]);
 * }
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./ipv4.ts";
export * from "./address.ts";
export * from "./peer_list.ts";
export * from "./message.ts";
export * from "./codec.ts";
export * from "./reply_writer.ts";
export * from "./slab.ts";

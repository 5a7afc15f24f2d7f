/**
 * @olaf/bootstrap/handshake: the handshake-server seed's JSON-over-UDP
 * dialect (one JSON object per datagram), served by the Olaf bootstrap on
 * its own port or on the bootstrap's (a datagram starting with `{`), with
 * the reliability the seed promised: retransmission until an Ack,
 * deduplication, ids bound to addresses with a token, limits on relaying,
 * and STUN Binding. The rules are in the README next to this file.
 *
 * @example Handshake over loopback and read the node list
 * ```ts
 * import { startHandshakeServer } from "@olaf/bootstrap/handshake";
 * import { bindDatagram } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * await using server = await startHandshakeServer({ hostname: "127.0.0.1", port: 0 });
 * await using client = await bindDatagram({ hostname: "127.0.0.1" });
 * const request = {
 *   id: crypto.randomUUID(), message_type: "HandshakeRequest", timestamp: 0,
 *   payload: { id: "node-1", name: "n", version: "1", listen_addr: "", capabilities: [],
 *     metadata: {}, network_id: "lan" },
 *   sender_addr: null, sequence_number: 1, requires_ack: false, ack_for: null,
 * };
 * client.send(new TextEncoder().encode(JSON.stringify(request)), server.localAddress!);
 * for await (const { data } of client) {
 *   const reply = JSON.parse(new TextDecoder().decode(data));
 *   assert.equal(reply.message_type, "HandshakeResponse");
 *   assert.equal(reply.payload.success, true);
 *   break;
 * }
 * assert.deepEqual(server.networks(), [{ networkId: "lan", nodes: 1 }]);
 * ```
 *
 * @module
 */
export * from "./message.ts";
export * from "./stun.ts";
export * from "./core.ts";
export * from "./server.ts";
export type { Clock, DatagramBinder, NetAddress } from "@olaf/protocol/net";

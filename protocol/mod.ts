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
 * `@olaf/protocol/memory-network`, so that this entry point stays free of I/O;
 * `@olaf/protocol/sans-io` holds the machine contract and its driver, and
 * `@olaf/protocol/internal` the performance internals (`Slab`, number-keyed
 * endpoints, the raw record writer, the shared heap) other Olaf packages use.
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

export { PROTOCOL_ERROR_REASONS, ProtocolError, type ProtocolErrorReason } from "./errors.ts";
export { formatIPv4, isIPv4, parseIPv4 } from "./ipv4.ts";
export { type AddressKey, addressKey, normaliseHostname } from "./address.ts";
export {
  PEER_RECORD_BYTES,
  PeerList,
  type PeerListLike,
  type PeerRecord,
  writePeerRecord,
} from "./peer_list.ts";
export {
  type AppMessage,
  type BootstrapReplyMessage,
  BYE,
  type CollectorMessage,
  type ExtensionMessage,
  FIRST_EXTENSION_CODE,
  isBye,
  type JoinMessage,
  type Message,
  type MessageInit,
  MessageType,
  type MessageTypeCode,
  type MessageTypeName,
  messageTypeName,
  type PingMessage,
  type RoomFullMessage,
} from "./message.ts";
export {
  decode,
  type DecodeOptions,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_ROOM_BYTES,
  encode,
  encodeInto,
  type EncodeOptions,
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  MAX_PEER_COUNT,
  MAX_ROOM_NAME_BYTES,
  peersThatFit,
  V1_RECEIVE_BUFFER_BYTES,
} from "./codec.ts";
export {
  bootstrapReplyBytes,
  ROOM_FULL_BYTES,
  writeBootstrapReplyHeader,
  writeReplyRecord,
  writeRoomFull,
} from "./reply_writer.ts";

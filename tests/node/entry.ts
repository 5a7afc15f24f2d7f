/** What the Node smoke test (tests/node_runtime_test.ts) loads: the codec and the peer. */
export { decode, encode, ProtocolError } from "@olaf/protocol";
export { resolveUdpImplementation } from "@olaf/protocol/net";
export { joinRoom, resolveHostPort } from "@olaf/peer";

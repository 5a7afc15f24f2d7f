/** What the Node tests (tests/other_runtimes_test.ts) load: codec, peer, bootstrap, control app. */
export { decode, encode, ProtocolError } from "@olaf/protocol";
export { resolveUdpImplementation } from "@olaf/protocol/net";
export { joinRoom, resolveHostPort } from "@olaf/peer";
export { startBootstrap } from "@olaf/bootstrap";
export { createControlApp } from "@olaf/control";

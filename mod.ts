/**
 * Olaf: peer-to-peer discovery for Deno. This root module re-exports the
 * public API of every package, so one import reaches all of it:
 *
 * - `@olaf/protocol`: the v1 codec, plus `/net` (UDP adapter) and
 *   `/memory-network` (in-memory network with a virtual clock);
 * - `@olaf/bootstrap`: the UDP bootstrap server (`startBootstrap`, `BootstrapCore`);
 * - `@olaf/peer`: `joinRoom` and the sans-IO `PeerMachine`;
 * - `@olaf/control`: the HTTP control plane (`createControlApp`, `serveControl`).
 *
 * Names two packages share are the same declarations (the net types, the
 * control plane's view of a bootstrap). The bootstrap's CLI entry is exported
 * here as `bootstrapMain`.
 *
 * @example A room on an in-memory network, end to end
 * ```ts
 * import { joinRoom, MemoryNetwork, startBootstrap } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork({ seed: 1 });
 * await using server = await startBootstrap({ port: 5000, bind: net.bind, clock: net.clock });
 * const options = { bootstraps: ["127.0.0.1:5000"], bind: net.bind, clock: net.clock };
 * const alice = joinRoom("lobby", options);
 * await net.advance(100);
 * const bob = joinRoom("lobby", options);
 * await net.advance(100);
 * await using a = await alice;
 * await using b = await bob;
 * await net.advance(3_000);
 * assert.equal(a.peers.length, 1);
 * assert.equal(b.peers.length, 1);
 * assert.equal(server.stats().members, 2);
 * ```
 *
 * @module
 */
export * from "@olaf/protocol";
export * from "@olaf/protocol/net";
export * from "@olaf/protocol/memory-network";
export * from "@olaf/control";
export {
  BootstrapCore,
  type BootstrapCoreOptions,
  type BootstrapLimits,
  type BootstrapOptions,
  type BootstrapServer,
  DEFAULT_BOOTSTRAP_PORT,
  DEFAULT_LIMITS,
  main as bootstrapMain,
  type MainOptions as BootstrapMainOptions,
  type ResolvedBootstrapLimits,
  resolveLimits,
  type SourceAddress,
  startBootstrap,
} from "@olaf/bootstrap";
export {
  JoinError,
  type JoinErrorCode,
  joinRoom,
  type JoinRoomOptions,
  parseHostPort,
  type PeerErrorCode,
  type PeerEvent,
  type PeerLeftReason,
  PeerMachine,
  type PeerMachineOptions,
  type PeerMachineStats,
  resolveHostPort,
  Room,
  type RoomEventListener,
  type RoomEventMap,
  type RoomMessage,
} from "@olaf/peer";

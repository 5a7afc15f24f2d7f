/**
 * @olaf/bootstrap: the Olaf UDP bootstrap server. It groups peers into named
 * rooms, speaks the deployed v1 wire protocol byte for byte (existing peers
 * use it unchanged) and fixes the deployed bootstrap's defects: unique ids,
 * a heartbeat that keeps rooms alive, replies that fit 1024 bytes, member
 * reports that survive a restart, and limits and rate limits that make it
 * safe to expose.
 *
 * Run it: `deno run -A jsr:@olaf/bootstrap --port 5000 --http 8080`
 * (see {@linkcode main} for the flags). Embed it with
 * {@linkcode startBootstrap}; drive the sans-IO {@linkcode BootstrapCore}
 * yourself for tests or another transport.
 *
 * @example Start a server, join a room, read the stats
 * ```ts
 * import { startBootstrap } from "@olaf/bootstrap";
 * import { bindDatagram } from "@olaf/protocol/net";
 * import { decode, encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0, maxRooms: 100 });
 * const events: string[] = [];
 * server.subscribe((event) => events.push(event.type));
 *
 * await using peer = await bindDatagram({ hostname: "127.0.0.1" });
 * peer.send(encode({ type: "JOIN_B", peers: [], room: "lobby" }), server.localAddress);
 * for await (const { data } of peer) {
 *   const reply = decode(data);
 *   assert.equal(reply.type, "BOOTSTRAP_R");
 *   if (reply.type === "BOOTSTRAP_R") assert.equal(reply.self.port, peer.localAddress.port);
 *   break;
 * }
 * assert.deepEqual(events, ["room-created", "member-joined"]);
 * assert.equal(server.stats().rooms, 1);
 * ```
 *
 * @module
 */
export { BootstrapCore, type BootstrapCoreOptions, type SourceAddress } from "./bootstrap_core.ts";
export {
  type BootstrapLimits,
  DEFAULT_LIMITS,
  type ResolvedBootstrapLimits,
  resolveLimits,
} from "./limits.ts";
export {
  type BootstrapOptions,
  type BootstrapServer,
  DEFAULT_BOOTSTRAP_PORT,
  startBootstrap,
} from "./server.ts";
export { main, type MainOptions, VERSION } from "./cli.ts";
// Handshake dialect (issue 14); the full API is the "./handshake" entry.
export type { HandshakeServer, HandshakeServerOptions } from "./handshake/server.ts";
export type { ControlServer } from "@olaf/control";
// NAT services (issue 11): NAT_CHECK answers, the second check port, the relay.
export type { NatServiceOptions, NatServiceStats, RelayLimits } from "./_nat_service.ts";
export type {
  BootstrapEvent,
  BootstrapStats,
  BootstrapView,
  DialectDropReason,
  DialectStats,
  DropReason,
  MemberInfo,
  MemberLeftReason,
  RoomDetail,
  RoomSummary,
} from "./types.ts";
import { main } from "./cli.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

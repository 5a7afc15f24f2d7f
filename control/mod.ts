/**
 * `@olaf/control`: the Olaf control plane, a small Hono app.
 *
 * - Read-only stats of a bootstrap server: `GET /health`, `/stats`, `/rooms`,
 *   `/rooms/:name`, `/metrics` (Prometheus), `/events` (server-sent events).
 * - REST rendezvous for hole punching: a host registers a session, publishes
 *   its candidate addresses and collects guests' through `/games/*`.
 *
 * It runs inside the bootstrap (`--http PORT`), alone
 * (`deno run -A jsr:@olaf/control --port 8080`) or on Deno Deploy
 * (`@olaf/control/deploy`).
 *
 * @example Serve on a free port and ask for its health
 * ```ts
 * import { serveControl } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * await using server = await serveControl({ hostname: "127.0.0.1", port: 0 });
 * const res = await fetch(new URL("/health", server.url));
 * assert.equal((await res.json()).status, "ok");
 * ```
 *
 * @module
 */
export type {
  BootstrapEvent,
  BootstrapStats,
  BootstrapView,
  MemberInfo,
  RoomDetail,
  RoomSummary,
} from "./bootstrap_view.ts";
export type { HandshakeView, HandshakeViewNode, HandshakeViewStats } from "./handshake_view.ts"; // issue 14
export {
  type ControlApp,
  type ControlAppOptions,
  createControlApp,
  type RateLimitOptions,
} from "./app.ts";
export { type ControlServer, serveControl, type ServeControlOptions } from "./serve.ts";
export {
  type Address,
  type GuestRecord,
  type InsertResult,
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type PeerId,
  type RenameResult,
  type SessionChange,
  type SessionRecord,
  type SessionStore,
} from "./session_store.ts";
export { KvSessionStore, type KvSessionStoreOptions } from "./kv_session_store.ts";
export {
  type MemberAddress,
  MemoryBootstrapView,
  type MemoryBootstrapViewOptions,
  type MemoryTraffic,
} from "./memory_bootstrap_view.ts";

export {
  CONTROL_LIMITS,
  type ControlLimit,
  controlLimitHelp,
  controlLimitOptions,
  limitDefault,
  type LimitKind,
  parseLimit,
} from "./limits.ts";

export { VERSION } from "./_state.ts";

if (import.meta.main) {
  const { main } = await import("./_cli.ts");
  Deno.exit(await main(Deno.args));
}

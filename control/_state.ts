// What the route sub-apps share: the attached bootstrap (if any), the
// rendezvous rules, live counters and the settings of createControlApp.
import type { Context } from "hono";
import type { BootstrapView } from "./bootstrap_view.ts";
import type { Rendezvous } from "./_rendezvous.ts";
import type { HandshakeView } from "./handshake_view.ts"; // handshake dialect (issue 14)

export interface ControlState {
  view: BootstrapView | undefined;
  handshake?: HandshakeView; // handshake dialect (issue 14)
  /** Issue 15: control-plane base URLs of the shards whose /stats this one adds up. */
  shards?: readonly string[];
  rendezvous: Rendezvous;
  now: () => number;
  startedAt: number;
  maxAddresses: number;
  maxBodyBytes: number;
  sseKeepAliveMs: number;
  sseQueueLimit: number;
  signal: AbortSignal | undefined;
  counters: { rateLimited: number; eventStreams: number };
  // --- issue 12: limits ---
  maxEventStreams: number;
  bodyTimeoutMs: number;
  /** Configured limits by flag name (CONTROL_LIMITS), for /metrics. */
  limits: Record<string, number>;
  /** Refusals by limit name, for /metrics. */
  refused: Record<string, number>;
  /** The session-quota key of a request (like the rate limit's), or `undefined` when unknown. */
  quotaKey: (c: Context) => string | undefined;
  // --- end issue 12 ---
}

/** Version of `@olaf/control`, also reported by `GET /health`. */
export const VERSION = "0.1.0";

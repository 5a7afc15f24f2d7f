// What the route sub-apps share: the attached bootstrap (if any), the
// rendezvous rules, live counters and the settings of createControlApp.
import type { BootstrapView } from "./bootstrap_view.ts";
import type { Rendezvous } from "./_rendezvous.ts";
import type { HandshakeView } from "./handshake_view.ts"; // handshake dialect (issue 14)

export interface ControlState {
  view: BootstrapView | undefined;
  handshake?: HandshakeView; // handshake dialect (issue 14)
  rendezvous: Rendezvous;
  now: () => number;
  startedAt: number;
  maxAddresses: number;
  maxBodyBytes: number;
  sseKeepAliveMs: number;
  sseQueueLimit: number;
  signal: AbortSignal | undefined;
  counters: { rateLimited: number; eventStreams: number };
}

/** Version of `@olaf/control`, also reported by `GET /health`. */
export const VERSION = "0.1.0";

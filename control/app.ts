/**
 * The control plane as a Hono app: {@linkcode createControlApp}.
 *
 * @module
 */
import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { getLogger } from "@logtape/logtape";
import { accessLog } from "./_access_log.ts";
import { corsResponseHeaders, openCors } from "./_cors.ts";
import { fastReads } from "./_fast_reads.ts"; // issue 15
import { dashboardRoute } from "./_dashboard_route.ts";
import { ApiError, errorJson, quoted } from "./_errors.ts";
import { eventsRoute } from "./_events_route.ts";
import { gamesRoutes } from "./_games_routes.ts";
import { handshakeRoutes } from "./_handshake_routes.ts"; // handshake dialect (issue 14)
import type { HandshakeView } from "./handshake_view.ts"; // handshake dialect (issue 14)
import { Rendezvous } from "./_rendezvous.ts";
import { seedRoutes } from "./_seed_routes.ts";
import type { ControlState } from "./_state.ts";
import { statsRoutes } from "./_stats_routes.ts";
import { resolveShardUrls } from "./_shards.ts"; // issue 15
import type { BootstrapView } from "./bootstrap_view.ts";
import { addressKey, rateLimit, remoteAddress } from "./_rate_limit.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { limitDefault } from "./limits.ts";

const logger = getLogger(["olaf", "control"]);

/**
 * The app {@linkcode createControlApp} returns. It is a Hono app (`app
 * instanceof Hono`); this interface names the two methods callers need, so
 * that the package's public types do not depend on Hono's.
 */
export interface ControlApp {
  /**
   * Answers one request: the handler for `Deno.serve(app.fetch)`. Pass the
   * serve handler info as `env` so the rate limit sees the client address.
   */
  fetch(request: Request, env?: unknown, executionCtx?: unknown): Response | Promise<Response>;
  /**
   * Answers a request built from a path or URL, without a server (tests).
   * `env` is passed on like in `fetch`.
   */
  request(
    input: Request | URL | string,
    init?: RequestInit,
    env?: unknown,
  ): Response | Promise<Response>;
}

/** Per-client rate limit settings for {@linkcode ControlAppOptions}. */
export interface RateLimitOptions {
  /** Burst size: requests a quiet client may send at once. Default 60. */
  capacity?: number;
  /** Sustained rate: tokens added per second. Default 20. */
  refillPerSecond?: number;
  /**
   * Most clients tracked at once. Past it, buckets that refilled are dropped
   * (they equal a new client), then the least recently seen. Default 10 000.
   */
  maxClients?: number;
  /** Clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /**
   * Which bucket a request draws from, given the request and the
   * connection's remote address (`undefined` when unknown, e.g. under
   * `app.request()`). Default: the remote address, or `"unknown"`. Behind a
   * trusted proxy, read its forwarding header here instead.
   */
  clientKey?: (request: Request, remoteAddress: string | undefined) => string;
  /** Called for every refused request (for metrics or logs). */
  onLimited?: (key: string) => void;
}

/** Options for {@linkcode createControlApp}. */
export interface ControlAppOptions {
  /**
   * The bootstrap to report on. Without one, `/stats`, `/rooms`,
   * `/rooms/:name` and `/events` answer `503 {"error":"no-bootstrap"}`;
   * `/health` and the rendezvous work as usual.
   */
  bootstrap?: BootstrapView;
  /**
   * The JSON handshake dialect to report on (`GET /handshake`, a `handshake`
   * section in `/stats`, `olaf_handshake_*` in `/metrics`). Default: none.
   */
  handshake?: HandshakeView; // handshake dialect (issue 14)
  /**
   * Issue 15: the control planes of several bootstrap shards (base URLs such as
   * `http://127.0.0.1:8081`). `GET /stats` and `/metrics` then add up the shards' `/stats`
   * (fetched on each request, in parallel) and name each shard that did not answer
   * (`partial: true`, `shards[i].error`); 503 `unavailable` when none answered. `GET /rooms`
   * lists the shards' rooms one shard after the other, `GET /rooms/:name` finds the room's
   * shard. Not with `bootstrap`. Default: none.
   */
  shards?: readonly string[];
  /** Where rendezvous sessions live. Default: a new {@linkcode MemorySessionStore}. */
  store?: SessionStore;
  /** A token that may also rename or delete any session. Default: none. */
  operatorToken?: string;
  /** How long a session lives after the host's last register, poll or rename. Default 10 minutes. */
  sessionTtlMs?: number;
  /** Most guests per session (409 `session-full` beyond). Default 32. */
  maxGuests?: number;
  /** Most candidate addresses per peer (400 beyond). Default 16. */
  maxAddresses?: number;
  /** Largest request body in bytes (413 beyond). Default 16 384. */
  maxBodyBytes?: number;
  /** The per-client rate limit, or `false` for none. Default: 60 burst, 20 per second. */
  rateLimit?: RateLimitOptions | false;
  /** Period of the keep-alive comments on `/events`. Default 15 000 ms. */
  sseKeepAliveMs?: number;
  /** Events queued per `/events` client before the oldest are dropped. Default 1 000. */
  sseQueueLimit?: number;
  // --- issue 12: limits (flags and defaults in CONTROL_LIMITS, limits.ts) ---
  /** Concurrent `/events` streams; beyond, 503 `unavailable` with Retry-After. Default 256. */
  maxEventStreams?: number;
  /**
   * Open sessions one client may register (keyed like the rate limit:
   * IPv4 address, IPv6 /64); beyond, 429 `session-quota`. Default 16.
   */
  sessionQuota?: number;
  /** Time for a request body to arrive; beyond, 408 `request-timeout`. Default 10 000 ms. */
  bodyTimeoutMs?: number;
  /**
   * Capacity of the default {@linkcode MemorySessionStore} (503 beyond), and
   * `max-sessions` in `/metrics`. With your own `store`, only reported. Default 10 000.
   */
  maxSessions?: number;
  // --- end issue 12 ---
  /** Ends every `/events` stream when aborted (so a server can shut down). */
  signal?: AbortSignal;
  /** Clock for session times and uptime, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/**
 * Builds the control-plane app. Routes (all JSON unless said otherwise, every
 * error `{"error": code, "message": text}`):
 *
 * - `GET /`: the live dashboard (a JSON index for `Accept: application/json`);
 * - `GET /health`, `GET /stats`, `GET /rooms?offset&limit`, `GET /rooms/:name`,
 *   `GET /metrics` (Prometheus text), `GET /events` (server-sent events);
 * - `POST /games/register`, `POST /games/poll`, `POST /games/start`,
 *   `GET /games?offset&limit`, `PUT /games/:name?newName=X`, `DELETE /games/:name`;
 * - the seed bootstrap's `POST /register`, `GET /peers` (also under `/seed/`, with its
 *   listing at `GET /seed/`).
 *
 * The README of `@olaf/control` documents every shape. CORS is open (`*`).
 *
 * @param options Bootstrap, store, limits and tokens.
 * @returns The Hono app; serve it with `Deno.serve(app.fetch)` or `serveControl`.
 *
 * @example Register a session and read the stats of a bootstrap
 * ```ts
 * import { createControlApp, MemoryBootstrapView } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const bootstrap = new MemoryBootstrapView();
 * bootstrap.join("lobby", { ip: "203.0.113.7", port: 40000, id: 1 });
 * const app = createControlApp({ bootstrap });
 *
 * const stats = await (await app.request("/stats")).json();
 * assert.equal(stats.members, 1);
 *
 * const res = await app.request("/games/register", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ name: "my-game", peerId: "host-1" }),
 * });
 * assert.equal(res.status, 201);
 * const { token } = await res.json();
 * assert.equal(typeof token, "string");
 * ```
 */
export function createControlApp(options: ControlAppOptions = {}): ControlApp {
  const now = options.now ?? Date.now;
  // --- issue 12: every limit resolved once, by its flag name (CONTROL_LIMITS) ---
  const limit = (flag: string, value: number | undefined, name: string) =>
    positive(value, limitDefault(flag), name);
  const rate = options.rateLimit === false ? undefined : options.rateLimit ?? {};
  const limits: Record<string, number> = {
    "rate-limit-capacity": rate ? limit("rate-limit-capacity", rate.capacity, "capacity") : 0,
    "rate-limit-refill": rate ? limit("rate-limit-refill", rate.refillPerSecond, "refill") : 0,
    "rate-limit-max-clients": rate
      ? limit("rate-limit-max-clients", rate.maxClients, "maxClients")
      : 0,
    "max-event-streams": limit("max-event-streams", options.maxEventStreams, "maxEventStreams"),
    "sse-queue-limit": limit("sse-queue-limit", options.sseQueueLimit, "sseQueueLimit"),
    "max-sessions": limit("max-sessions", options.maxSessions, "maxSessions"),
    "session-quota": limit("session-quota", options.sessionQuota, "sessionQuota"),
    "session-ttl": limit("session-ttl", options.sessionTtlMs, "sessionTtlMs"),
    "max-guests": limit("max-guests", options.maxGuests, "maxGuests"),
    "max-addresses": limit("max-addresses", options.maxAddresses, "maxAddresses"),
    "max-body-bytes": limit("max-body-bytes", options.maxBodyBytes, "maxBodyBytes"),
    "body-timeout": limit("body-timeout", options.bodyTimeoutMs, "bodyTimeoutMs"),
  };
  const refused: Record<string, number> = {};
  // --- end issue 12 ---
  if (options.shards !== undefined && options.bootstrap !== undefined) {
    throw new RangeError("createControlApp: give either bootstrap or shards, not both");
  }
  const state: ControlState = {
    view: options.bootstrap,
    shards: options.shards === undefined ? undefined : resolveShardUrls(options.shards), // issue 15
    handshake: options.handshake, // handshake dialect (issue 14)
    rendezvous: new Rendezvous({
      store: options.store ?? new MemorySessionStore({ maxSessions: limits["max-sessions"] }),
      ttlMs: limits["session-ttl"],
      maxGuests: limits["max-guests"],
      sessionQuota: limits["session-quota"],
      operatorToken: options.operatorToken || undefined,
      now,
    }),
    now,
    startedAt: now(),
    maxAddresses: limits["max-addresses"],
    maxBodyBytes: limits["max-body-bytes"],
    sseKeepAliveMs: positive(options.sseKeepAliveMs, 15_000, "sseKeepAliveMs"),
    sseQueueLimit: limits["sse-queue-limit"],
    signal: options.signal,
    counters: { rateLimited: 0, eventStreams: 0 },
    maxEventStreams: limits["max-event-streams"],
    bodyTimeoutMs: limits["body-timeout"],
    limits,
    refused,
    quotaKey: (c) => {
      const address = remoteAddress(c);
      const custom = options.rateLimit ? options.rateLimit.clientKey : undefined;
      if (custom) return custom(c.req.raw, address);
      return address === undefined ? undefined : addressKey(address);
    },
  };

  const app = new Hono();
  app.onError((error, c) => {
    if (error instanceof ApiError) {
      if (error.limit) refused[error.limit] = (refused[error.limit] ?? 0) + 1;
      return errorJson(c, error.status, error.code, error.message, error.headers);
    }
    logger.error("unexpected error on {method} {path}: {error}", {
      method: c.req.method,
      path: c.req.path,
      error,
    });
    return errorJson(c, 500, "internal", "internal error");
  });
  app.notFound((c) =>
    errorJson(c, 404, "not-found", `no route for ${c.req.method} ${quoted(c.req.path)}`)
  );

  app.use(accessLog());
  const cors = {
    allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Content-Type", "Authorization"],
    exposeHeaders: ["Retry-After"],
    maxAge: 600,
  };
  app.use(openCors(cors));
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      errorJson(c, 405, "method-not-allowed", `${c.req.method} is not allowed here`, {
        Allow: methods.join(", "),
      }),
  }));
  let limiter: ReturnType<typeof rateLimit> | undefined;
  if (options.rateLimit !== false) {
    app.use(
      limiter = rateLimit({
        ...options.rateLimit,
        capacity: limits["rate-limit-capacity"],
        refillPerSecond: limits["rate-limit-refill"],
        maxClients: limits["rate-limit-max-clients"],
        onLimited: (key) => {
          state.counters.rateLimited++;
          refused["rate-limit"] = (refused["rate-limit"] ?? 0) + 1;
          options.rateLimit && options.rateLimit.onLimited?.(key);
        },
      }),
    );
  }

  app.route("/", statsRoutes(state));
  app.route("/", eventsRoute(state));
  app.route("/", dashboardRoute(state)); // GET / and /dashboard.js
  app.route("/games", gamesRoutes(state));
  app.route("/handshake", handshakeRoutes(state)); // handshake dialect (issue 14)
  app.route("/", seedRoutes(state)); // the seed bootstrap's /register, /peers, and /seed/...
  // Issue 15: GET /stats and /health answered before Hono's dispatch (same answers; see
  // _fast_reads.ts). `app.request()` goes through `app.fetch` too.
  const fast = fastReads(state, corsResponseHeaders(cors), limiter?.take);
  const dispatch = app.fetch;
  app.fetch = (request, env, executionCtx) =>
    fast(request, env) ?? dispatch(request, env, executionCtx);
  // The cast only matters on Deno 2.5 (Deploy), where @types/node's global
  // RequestInit merges into Deno's and no longer matches the one in Hono's
  // types; `deno check` there fails without it. Deno 2.9 needs no cast.
  return app as ControlApp;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`createControlApp: ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * A per-client rate limit for Hono: one token bucket per client address.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

/** Options for {@linkcode rateLimit}. */
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
   * Which bucket a request draws from. Default: the connection's remote
   * address as `Deno.serve` reports it (see {@linkcode remoteAddress}).
   */
  clientKey?: (c: Context) => string;
  /** Called for every refused request (for metrics). */
  onLimited?: (key: string) => void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * The client address of a request served by `Deno.serve(app.fetch)` (Hono
 * passes the serve handler info as `c.env`), or `"unknown"` (e.g. under
 * `app.request()` without an env).
 *
 * @param c The request context.
 * @returns The remote hostname.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { remoteAddress } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const app = new Hono().get("/", (c) => c.text(remoteAddress(c)));
 * const env = { remoteAddr: { transport: "tcp", hostname: "192.0.2.1", port: 1234 } };
 * assert.equal(await (await app.request("/", {}, env)).text(), "192.0.2.1");
 * assert.equal(await (await app.request("/")).text(), "unknown");
 * ```
 */
export function remoteAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const hostname = env?.remoteAddr?.hostname;
  return typeof hostname === "string" ? hostname : "unknown";
}

/**
 * Refuses requests beyond a client's token bucket with
 * `429 {"error":"rate-limited", "message"}` and a `Retry-After` header (whole
 * seconds until a token is back). Every request costs one token.
 *
 * @param options Bucket size, rate, and how clients are told apart.
 * @returns The middleware.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { rateLimit } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const app = new Hono();
 * app.use(rateLimit({ capacity: 2, refillPerSecond: 1, now: () => 0 }));
 * app.get("/", (c) => c.text("ok"));
 * assert.equal((await app.request("/")).status, 200);
 * assert.equal((await app.request("/")).status, 200);
 * const refused = await app.request("/");
 * assert.equal(refused.status, 429);
 * assert.equal(refused.headers.get("retry-after"), "1");
 * ```
 */
export function rateLimit(options: RateLimitOptions = {}): MiddlewareHandler {
  const capacity = options.capacity ?? 60;
  const refillPerMs = (options.refillPerSecond ?? 20) / 1000;
  const maxClients = options.maxClients ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const clientKey = options.clientKey ?? remoteAddress;
  if (!(capacity >= 1) || !(refillPerMs > 0) || !(maxClients >= 1)) {
    throw new RangeError("rateLimit: capacity and maxClients must be >= 1, refillPerSecond > 0");
  }
  const buckets = new Map<string, Bucket>();

  function evict(at: number): void {
    for (const [key, bucket] of buckets) {
      if (bucket.tokens + (at - bucket.updatedAt) * refillPerMs >= capacity) buckets.delete(key);
    }
    // Map order is least recently seen first: every hit re-inserts its key.
    for (const key of buckets.keys()) {
      if (buckets.size < maxClients) break;
      buckets.delete(key);
    }
  }

  return async function rateLimitMiddleware(c, next) {
    const key = clientKey(c);
    const at = now();
    let bucket = buckets.get(key);
    if (bucket) {
      buckets.delete(key);
      bucket.tokens = Math.min(capacity, bucket.tokens + (at - bucket.updatedAt) * refillPerMs);
      bucket.updatedAt = at;
    } else {
      if (buckets.size >= maxClients) evict(at);
      bucket = { tokens: capacity, updatedAt: at };
    }
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      options.onLimited?.(key);
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      return c.json(
        { error: "rate-limited", message: "too many requests, slow down" },
        429,
        { "Retry-After": String(retryAfter) },
      );
    }
    bucket.tokens -= 1;
    await next();
    return undefined;
  };
}

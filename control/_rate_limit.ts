// Middleware: a per-client rate limit, one token bucket per client address.
// Refused requests get 429 {"error":"rate-limited"} and Retry-After (whole
// seconds until a token is back). The bucket map is bounded (maxClients).
import type { Context, MiddlewareHandler, Next } from "hono";
import type { RateLimitOptions } from "./app.ts";
import { normaliseHostname } from "@olaf/protocol";

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * The client address of a request served by `Deno.serve(app.fetch)` (Hono
 * passes the serve handler info as `c.env`), or `undefined` (e.g. under
 * `app.request()` without an env).
 *
 * @param c The request context.
 * @returns The remote hostname.
 */
export function remoteAddress(c: Context): string | undefined {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const hostname = env?.remoteAddr?.hostname;
  return typeof hostname === "string" ? hostname : undefined;
}

/**
 * Refuses requests beyond a client's token bucket with
 * `429 {"error":"rate-limited", "message"}` and a `Retry-After` header (whole
 * seconds until a token is back). Every request costs one token.
 *
 * @param options Bucket size, rate, and how clients are told apart.
 * @returns The middleware, with `take` for the fast read routes (issue 15): takes a token of the
 *   request's client and says whether there was one (a refusal is left to the middleware).
 */
export function rateLimit(
  options: RateLimitOptions = {},
): MiddlewareHandler & { take(request: Request, address: string | undefined): boolean } {
  const capacity = options.capacity ?? 60;
  const refillPerMs = (options.refillPerSecond ?? 20) / 1000;
  const maxClients = options.maxClients ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const clientKey = options.clientKey ??
    ((_request, address) => (address === undefined ? "unknown" : addressKey(address)));
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

  /** The client's bucket, refilled to now and moved to the most recently seen end. */
  function bucketOf(key: string): Bucket {
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
    return bucket;
  }

  // A refused take leaves the refusal to the middleware, which then reuses the key (clientKey is
  // called once per request).
  const refusedKeys = new WeakMap<Request, string>();

  function take(request: Request, address: string | undefined): boolean {
    const key = clientKey(request, address);
    const bucket = bucketOf(key);
    if (bucket.tokens < 1) {
      refusedKeys.set(request, key);
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  // Not async: one promise frame less per request.
  function rateLimitMiddleware(c: Context, next: Next): Promise<Response | void> {
    const key = refusedKeys.get(c.req.raw) ?? clientKey(c.req.raw, remoteAddress(c));
    const bucket = bucketOf(key);
    if (bucket.tokens < 1) {
      options.onLimited?.(key);
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      return Promise.resolve(c.json(
        { error: "rate-limited", message: "too many requests, slow down" },
        429,
        { "Retry-After": String(retryAfter) },
      ));
    }
    bucket.tokens -= 1;
    return next();
  }
  return Object.assign(rateLimitMiddleware, { take });
}

/**
 * The bucket key of a client address: IPv4 as is, IPv6 by its /64 prefix
 * (one subscriber usually holds a whole /64 and could rotate through it),
 * IPv4-mapped IPv6 as the IPv4 address.
 */
export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  const lower = address.toLowerCase().replace(/%.*$/, "");
  const mapped = normaliseHostname(lower);
  if (mapped !== lower) return mapped;
  const [head, tail] = lower.split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined
    ? left
    : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

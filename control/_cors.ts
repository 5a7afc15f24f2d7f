// Middleware: open CORS (`*`) with every header value computed once. Same
// answers as `hono/cors` with this app's options, but it sets headers on the
// response after the handler instead of before (Hono's cors touches `c.res`
// first, which builds a placeholder Response and later copies its headers into
// the real one: that cost a hello from ~55k to ~11.5k requests/s). Measured and
// dropped: `c.header()` before the handler (prepared headers take Hono off its
// response fast path: 17.2 vs 14.8 µs per request) and `next().then()` (same).
import type { MiddlewareHandler } from "hono";

/** What {@linkcode openCors} allows; header values are joined once, at setup. */
export interface OpenCorsOptions {
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAge: number;
}

/** The headers {@linkcode openCors} adds to every answer but a preflight (issue 15: fast reads). */
export function corsResponseHeaders(options: OpenCorsOptions): [string, string][] {
  const expose = options.exposeHeaders.join(",");
  return [
    ["access-control-allow-origin", "*"],
    ...(expose ? [["access-control-expose-headers", expose] as [string, string]] : []),
  ];
}

/**
 * `Access-Control-Allow-Origin: *` (and `Access-Control-Expose-Headers`) on
 * every response; any `OPTIONS` request is a preflight answered 204 here.
 */
export function openCors(options: OpenCorsOptions): MiddlewareHandler {
  const expose = options.exposeHeaders.join(",");
  const preflight: [string, string][] = [
    ["Access-Control-Allow-Origin", "*"],
    ...(expose ? [["Access-Control-Expose-Headers", expose] as [string, string]] : []),
    ["Access-Control-Max-Age", String(options.maxAge)],
    ["Access-Control-Allow-Methods", options.allowMethods.join(",")],
    ["Access-Control-Allow-Headers", options.allowHeaders.join(",")],
    ["Vary", "Access-Control-Request-Headers"],
  ];
  return async function openCorsMiddleware(c, next): Promise<Response | void> {
    if (c.req.method === "OPTIONS") {
      return new Response(null, { status: 204, statusText: "No Content", headers: preflight });
    }
    await next();
    let headers = c.res.headers;
    try {
      headers.set("Access-Control-Allow-Origin", "*");
    } catch {
      // Immutable headers (a Response from elsewhere): copy it once.
      const res = c.res;
      c.res = new Response(res.body, {
        status: res.status,
        statusText: res.statusText,
        headers: new Headers(res.headers),
      });
      headers = c.res.headers;
      headers.set("Access-Control-Allow-Origin", "*");
    }
    if (expose) headers.set("Access-Control-Expose-Headers", expose);
    return undefined;
  };
}

// Issue 15: GET /stats and GET /health without Hono's dispatch. Over real HTTP these two cost
// twice a bare Hono hello (bench:http): the middleware chain (access log, CORS, 405 check, rate
// limit, sub-app router) and, most of all, the CORS headers set on the finished response (each
// header set after the fact cost ~2-3 µs of the server's CPU per request). Here the response is
// built once with every header it needs. Same answer as the Hono routes, which still serve every
// other case: a query string, HEAD, debug logging on (the access log), no bootstrap, shards, or a
// client over its rate limit (the middleware refuses and counts it).
import { getLogger } from "@logtape/logtape";
import type { ControlState } from "./_state.ts";
import { VERSION } from "./_state.ts";

const httpLogger = getLogger(["olaf", "control", "http"]);

/** A request the fast path may answer; `undefined` means "let Hono answer it". */
export type FastReads = (request: Request, env: unknown) => Response | undefined;

/**
 * @param state The app's state.
 * @param corsHeaders What the CORS middleware adds to a non-preflight answer.
 * @param take The rate limit's token take (`undefined` when the limit is off).
 */
export function fastReads(
  state: ControlState,
  corsHeaders: readonly [string, string][],
  take: ((request: Request, address: string | undefined) => boolean) | undefined,
): FastReads {
  // Header names as Hono's c.json writes them, then the CORS ones. A plain object measured a
  // little cheaper than the same pairs as an array (bench:http's servers, 3 runs each).
  const headers: Record<string, string> = Object.fromEntries([
    ["content-type", "application/json"],
    ...corsHeaders,
  ]);
  return (request, env) => {
    if (request.method !== "GET") return undefined;
    const url = request.url;
    // The path starts at the first "/" after "scheme://host"; nothing after it (no query).
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const stats = path === "/stats";
    if (stats ? state.view === undefined || state.shards !== undefined : path !== "/health") {
      return undefined;
    }
    if (httpLogger.isEnabledFor("debug")) return undefined; // the access log wants every request
    if (take !== undefined) {
      const address = (env as { remoteAddr?: { hostname?: unknown } } | undefined)?.remoteAddr
        ?.hostname;
      if (!take(request, typeof address === "string" ? address : undefined)) return undefined;
    }
    let body: unknown;
    if (stats) {
      const totals = state.view!.stats();
      // Handshake dialect (issue 14): its totals as a section of their own.
      body = state.handshake ? { ...totals, handshake: state.handshake.stats() } : totals;
    } else {
      body = {
        status: "ok",
        version: VERSION,
        uptimeMs: state.now() - state.startedAt,
        bootstrap: state.view !== undefined,
      };
    }
    return new Response(JSON.stringify(body), { status: 200, headers });
  };
}

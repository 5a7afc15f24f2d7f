// GET /: the live dashboard for browsers (HTML; its script at GET
// /dashboard.js), or, for a client that prefers JSON (`Accept:
// application/json`), an index of the endpoints. Both are static: the page
// reads the JSON routes itself, so it adds no state to the app.
import { Hono } from "hono";
import type { ControlState } from "./_state.ts";
import { VERSION } from "./_state.ts";
import { DASHBOARD_HTML, DASHBOARD_JS } from "./_dashboard_page.ts";

/** Only this origin's scripts and requests; no frames, no forms, no plugins. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

/** What `GET /` answers a JSON client. */
function index(state: ControlState) {
  return {
    name: "@olaf/control",
    version: VERSION,
    bootstrap: state.view !== undefined,
    dashboard: "/ (Accept: text/html)",
    endpoints: [
      "GET /health",
      "GET /stats",
      "GET /rooms?offset&limit",
      "GET /rooms/:name",
      "GET /metrics",
      "GET /events",
      "POST /games/register",
      "POST /games/poll",
      "POST /games/start",
      "GET /games?offset&limit",
      "PUT /games/:name?newName=X",
      "DELETE /games/:name",
      "POST /register (seed)",
      "GET /peers (seed)",
      "GET /seed/",
    ],
  };
}

/**
 * Whether an `Accept` header prefers JSON to HTML: a higher q-value, or the
 * same one named more precisely (`application/json, *\/*`, as axios sends).
 * No header, `*\/*` alone (`fetch`, curl) or a full tie means HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const q = new Map<string, number>();
  for (const part of accept.toLowerCase().split(",")) {
    const [type, ...params] = part.trim().split(";");
    if (!type) continue;
    let weight = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key === "q" && value !== undefined && Number.isFinite(Number(value))) {
        weight = Number(value);
      }
    }
    q.set(type.trim(), Math.max(weight, q.get(type.trim()) ?? 0));
  }
  // [q, specificity]: an exact type beats `family/*`, which beats `*/*`.
  const weight = (type: string, family: string): [number, number] => {
    if (q.has(type)) return [q.get(type)!, 2];
    if (q.has(`${family}/*`)) return [q.get(`${family}/*`)!, 1];
    return [q.get("*/*") ?? 0, 0];
  };
  const [json, jsonSpecific] = weight("application/json", "application");
  const [html, htmlSpecific] = weight("text/html", "text");
  return json > html || (json === html && json > 0 && jsonSpecific > htmlSpecific);
}

export function dashboardRoute(state: ControlState): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    c.header("Vary", "Accept");
    if (prefersJson(c.req.header("Accept"))) return c.json(index(state));
    return c.html(DASHBOARD_HTML, 200, PAGE_HEADERS);
  });
  app.get("/dashboard.js", (c) =>
    c.body(DASHBOARD_JS, 200, {
      ...PAGE_HEADERS,
      "Content-Type": "text/javascript; charset=utf-8",
    }));
  return app;
}

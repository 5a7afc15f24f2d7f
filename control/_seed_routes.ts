// The seed bootstrap's HTTP endpoints, so the seed's nodes can register with Olaf unchanged:
// POST /register {"peer_url"} -> {"status": "registered", "peers"}, GET /peers -> {"peers"},
// and its GET / listing as GET /seed/ (GET / is the dashboard here). Every route is also
// served under /seed/. The list lives in memory, at most MAX_SEED_PEERS URLs (oldest
// dropped first); see README "Seed bootstrap compatibility".
import { type Context, Hono } from "hono";
import { badRequest } from "./_errors.ts";
import { jsonBody, type JsonBodyEnv } from "./_json_body.ts";
import type { ControlState } from "./_state.ts";

/** Most registered URLs kept. */
export const MAX_SEED_PEERS = 1000;
const MAX_URL_LENGTH = 2048;

/** The registered peer URLs, in registration order (a re-register moves a URL to the end). */
export class SeedRegistry {
  readonly #urls = new Set<string>();

  register(url: string): void {
    this.#urls.delete(url);
    this.#urls.add(url);
    if (this.#urls.size > MAX_SEED_PEERS) this.#urls.delete(this.#urls.values().next().value!);
  }

  list(): string[] {
    return [...this.#urls];
  }
}

/** The seed routes, at the root (`/register`, `/peers`) and under `/seed/` (with `GET /seed/`). */
export function seedRoutes(state: ControlState): Hono<JsonBodyEnv> {
  const registry = new SeedRegistry();
  const app = new Hono<JsonBodyEnv>();
  const listing = (c: Context) =>
    c.json({ message: "Olaf control plane: seed bootstrap endpoints", peers: registry.list() });
  app.get("/seed", listing);
  app.get("/seed/", listing);
  const peers = (c: Context) => c.json({ peers: registry.list() });
  const register = (c: Context<JsonBodyEnv>) => {
    const body = c.get("jsonBody");
    const url = typeof body === "object" && body !== null
      ? (body as Record<string, unknown>).peer_url
      : undefined;
    if (url === undefined || url === null || url === "") throw badRequest("peer_url is required");
    if (typeof url !== "string" || url.length > MAX_URL_LENGTH || !/^https?:\/\/\S+$/i.test(url)) {
      throw badRequest(`peer_url must be an http(s) URL of at most ${MAX_URL_LENGTH} characters`);
    }
    try {
      new URL(url);
    } catch {
      throw badRequest("peer_url is not a valid URL");
    }
    registry.register(url);
    return c.json({ status: "registered", peers: registry.list() });
  };
  for (const prefix of ["", "/seed"]) {
    app.get(`${prefix}/peers`, peers);
    app.post(`${prefix}/register`, jsonBody(state.maxBodyBytes), register);
  }
  return app;
}

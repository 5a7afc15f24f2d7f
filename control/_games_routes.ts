// The REST rendezvous under /games. Handlers only parse and validate; the
// rules live in _rendezvous.ts. Bodies go through jsonBody (415/413/400).
import { Hono } from "hono";
import { bearerToken } from "./_bearer.ts";
import { badRequest } from "./_errors.ts";
import { jsonBody, type JsonBodyEnv } from "./_json_body.ts";
import type { ControlState } from "./_state.ts";
import { pageParams } from "./_stats_routes.ts";
import { parseAddresses, parseName, parsePeerId, requireObject } from "./_validate.ts";

export function gamesRoutes(state: ControlState): Hono<JsonBodyEnv> {
  const app = new Hono<JsonBodyEnv>();
  const { rendezvous } = state;
  const body = jsonBody(state.maxBodyBytes, state.bodyTimeoutMs);

  app.post("/register", body, async (c) => {
    const input = requireObject(c.get("jsonBody"));
    const name = parseName(input.name);
    const peerId = parsePeerId(input.peerId);
    // --- issue 12: session quota, join code, unlisted ---
    const joinCode = optionalBoolean(input.joinCode, "joinCode");
    const listed = optionalBoolean(input.listed, "listed");
    const options = { client: state.quotaKey(c), joinCode, listed };
    return c.json(await rendezvous.register(name, peerId, options), 201);
  });

  app.post("/poll", body, async (c) => {
    const token = bearerToken(c);
    const input = requireObject(c.get("jsonBody"));
    const name = parseName(input.name);
    const peerId = parsePeerId(input.peerId);
    const addresses = parseAddresses(input.addresses, state.maxAddresses);
    return c.json(await rendezvous.poll(name, token, peerId, addresses));
  });

  app.post("/start", body, async (c) => {
    const input = requireObject(c.get("jsonBody"));
    const name = parseName(input.name);
    const peerId = parsePeerId(input.peerId);
    const addresses = parseAddresses(input.addresses, state.maxAddresses);
    const joinCode = input.joinCode;
    if (joinCode !== undefined && (typeof joinCode !== "string" || joinCode.length > 64)) {
      throw badRequest("joinCode must be a string of at most 64 characters");
    }
    return c.json(await rendezvous.start(name, peerId, addresses, joinCode));
  });

  app.get("/", async (c) => {
    const page = pageParams((key) => c.req.query(key));
    const { total, games } = await rendezvous.list(page);
    return c.json({ total, offset: page.offset, limit: page.limit, games });
  });

  app.put("/:name", async (c) => {
    const token = bearerToken(c);
    const name = parseName(c.req.param("name"));
    const raw = c.req.query("newName");
    if (raw === undefined) throw badRequest("the newName query parameter is required");
    const newName = parseName(raw, "newName");
    return c.json({ previousName: name, ...await rendezvous.rename(name, newName, token) });
  });

  app.delete("/:name", async (c) => {
    const token = bearerToken(c);
    const name = parseName(c.req.param("name"));
    await rendezvous.remove(name, token);
    return c.json({ name, deleted: true });
  });

  return app;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw badRequest(`${field} must be true or false`);
}

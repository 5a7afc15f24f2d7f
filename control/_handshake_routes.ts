// The JSON handshake dialect's view: GET /handshake, GET /handshake/networks/:id.
// Without a handshake view both answer 503 unavailable.
import { Hono } from "hono";
import { ApiError, quoted } from "./_errors.ts";
import type { ControlState } from "./_state.ts";
import type { HandshakeView } from "./handshake_view.ts";

function requireHandshake(state: ControlState): HandshakeView {
  if (!state.handshake) throw new ApiError(503, "unavailable", "no handshake dialect attached");
  return state.handshake;
}

export function handshakeRoutes(state: ControlState): Hono {
  const app = new Hono();

  app.get("/", (c) => {
    const view = requireHandshake(state);
    return c.json({ stats: view.stats(), networks: view.networks() });
  });

  app.get("/networks/:id", (c) => {
    const id = c.req.param("id");
    const nodes = requireHandshake(state).network(id);
    if (!nodes) throw new ApiError(404, "not-found", `no network called ${quoted(id)}`);
    return c.json({ networkId: id, nodes });
  });

  return app;
}

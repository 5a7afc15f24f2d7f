// Read-only routes over the attached bootstrap: /health, /stats, /rooms,
// /rooms/:name, /metrics. Without a bootstrap they answer 503 no-bootstrap,
// except /health (always 200) and /metrics (rendezvous and HTTP figures only).
import { Hono } from "hono";
import { ApiError, quoted } from "./_errors.ts";
import { formatMetrics, METRICS_CONTENT_TYPE } from "./_metrics.ts";
import type { ControlState } from "./_state.ts";
import { VERSION } from "./_state.ts";
import { parseIntParam } from "./_validate.ts";
import type { BootstrapView } from "./bootstrap_view.ts";
import { aggregateRooms, aggregateShardStats, findRoom, noShardMessage } from "./_shards.ts"; // issue 15

/** Largest page of `GET /rooms` and `GET /games`. */
export const MAX_PAGE = 500;
/** Default page of `GET /rooms` and `GET /games`. */
export const DEFAULT_PAGE = 50;

export function requireView(state: ControlState): BootstrapView {
  if (!state.view) {
    throw new ApiError(503, "no-bootstrap", "no bootstrap attached");
  }
  return state.view;
}

export function pageParams(
  query: (key: string) => string | undefined,
): { offset: number; limit: number } {
  return {
    offset: parseIntParam(query("offset"), "offset", 0, 0, Number.MAX_SAFE_INTEGER),
    limit: parseIntParam(query("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE),
  };
}

export function statsRoutes(state: ControlState): Hono {
  const app = new Hono();

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      version: VERSION,
      uptimeMs: state.now() - state.startedAt,
      bootstrap: state.view !== undefined,
    }));

  // Issue 15: over shards, the sum of those that answered, each shard's status beside it.
  const shards = state.shards;
  if (shards) {
    app.get("/stats", async (c) => {
      const stats = await aggregateShardStats(shards);
      if (stats.shards.every((s) => !s.ok)) {
        return c.json({ error: "unavailable", message: noShardMessage(stats), ...stats }, 503);
      }
      return c.json(stats);
    });
  } else {
    app.get("/stats", (c) => {
      const stats = requireView(state).stats();
      // Handshake dialect (issue 14): its totals as a section of their own.
      return c.json(state.handshake ? { ...stats, handshake: state.handshake.stats() } : stats);
    });
  }

  // Issue 15: over shards, one list (shards in order) and the room from whichever shard has it.
  if (shards) {
    app.get("/rooms", async (c) => {
      const page = pageParams((key) => c.req.query(key));
      const { total, rooms, failed } = await aggregateRooms(shards, page);
      if (failed.length === shards.length) {
        const message = "no shard answered: " +
          failed.map((f) => `${f.url} (${f.error})`).join(", ");
        return c.json({ error: "unavailable", message, failed }, 503);
      }
      const body = { total, offset: page.offset, limit: page.limit, rooms };
      return c.json(failed.length ? { ...body, partial: true, failed } : body);
    });
    app.get("/rooms/:name", async (c) => {
      const name = c.req.param("name");
      const { room, failed } = await findRoom(shards, name);
      if (room) return c.json(room);
      const missing = failed.length
        ? `; shards that did not answer: ${failed.map((f) => `${f.url} (${f.error})`).join(", ")}`
        : "";
      throw new ApiError(
        failed.length ? 503 : 404,
        failed.length ? "unavailable" : "not-found",
        `no room called ${quoted(name)}${missing}`,
      );
    });
  }

  app.get("/rooms", (c) => {
    const view = requireView(state);
    const page = pageParams((key) => c.req.query(key));
    const { total, rooms } = view.listRooms(page);
    return c.json({ total, offset: page.offset, limit: page.limit, rooms });
  });

  app.get("/rooms/:name", (c) => {
    const name = c.req.param("name");
    const room = requireView(state).room(name);
    if (!room) throw new ApiError(404, "not-found", `no room called ${quoted(name)}`);
    return c.json(room);
  });

  app.get("/metrics", async (c) => {
    const { total } = await state.rendezvous.store.list(state.now(), { offset: 0, limit: 0 });
    const sharded = shards ? await aggregateShardStats(shards) : undefined; // issue 15
    const body = formatMetrics({
      stats: sharded && sharded.shards.some((s) => s.ok) ? sharded : state.view?.stats(),
      shards: sharded?.shards, // issue 15
      sessions: total,
      rateLimited: state.counters.rateLimited,
      eventStreams: state.counters.eventStreams,
      handshake: state.handshake?.stats(), // handshake dialect (issue 14)
      limits: state.limits,
      refused: state.refused,
      bootstrapLimits: state.view?.limits,
      nat: state.view?.natStats?.(), // issue 11
    });
    return c.body(body, 200, { "Content-Type": METRICS_CONTENT_TYPE });
  });

  return app;
}

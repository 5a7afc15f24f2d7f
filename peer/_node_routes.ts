// The HTTP API of a node (see node.ts and the README's "Nodes" section). JSON everywhere,
// errors as {"error": code, "message": text} (plus "status": "rejected" where the seed had it).
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import type { NodeMessage, OlafNode } from "./node.ts";
import { UnknownRecipientError } from "./node.ts";

const MAX_BODY_BYTES = 16_384;
const KEEP_ALIVE_MS = 15_000;

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function cursor(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return 0;
  if (!/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

export function nodeRoutes(node: OlafNode, token: string | undefined): Hono {
  const app = new Hono();
  app.onError((error, c) =>
    c.json({ error: "internal", message: (error as Error).message ?? "internal error" }, 500)
  );
  app.notFound((c) =>
    c.json({ error: "not-found", message: `no route for ${c.req.method} ${c.req.path}` }, 404)
  );
  if (token) {
    app.use(async (c, next) => {
      const match = c.req.header("authorization")?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
      if (!match || !sameToken(match[1], token)) {
        return c.json(
          { error: "unauthorized", message: "send Authorization: Bearer <token>" },
          401,
          { "WWW-Authenticate": 'Bearer realm="olaf-node"' },
        );
      }
      return await next();
    });
  }

  app.get("/", (c) => c.json(node.status()));
  app.get("/peers", (c) => c.json({ peers: node.members() }));
  app.get("/stats", (c) => c.json(node.stats));

  app.post(
    "/message",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json({ error: "payload-too-large", message: `at most ${MAX_BODY_BYTES} bytes` }, 413),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json({ error: "invalid-json", message: "the body is not valid JSON" }, 400);
      }
      const { msg, to } = (typeof body === "object" && body !== null ? body : {}) as Record<
        string,
        unknown
      >;
      if (typeof msg !== "string") {
        return c.json({ error: "bad-request", message: '"msg" (a string) is required' }, 400);
      }
      if (to !== undefined && typeof to !== "string" && typeof to !== "number") {
        return c.json({
          error: "bad-request",
          message: '"to" is a member id, node id, friendly name or (secure rooms) public key',
        }, 400);
      }
      try {
        const result = node.send(msg, to);
        return c.json({ status: "sent", id: result.id, to: result.to });
      } catch (error) {
        if (error instanceof UnknownRecipientError) {
          return c.json({ error: "unknown-recipient", message: error.message }, 404);
        }
        if (error instanceof RangeError) {
          return c.json({ error: "bad-request", message: error.message }, 400);
        }
        throw error;
      }
    },
  );

  app.get("/messages", (c) => {
    const after = cursor(c.req.query("after"));
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? 1000 : Number(limitText);
    if (after === undefined || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      return c.json({
        error: "bad-request",
        message: "after is a message seq (0 or more), limit 1..1000",
      }, 400);
    }
    const messages = node.inbox(after, limit);
    const next = messages.length > 0 ? messages[messages.length - 1].seq : after;
    return c.json({ messages, next });
  });

  // Server-sent events: each delivered message as `event: message`, `id: <seq>`. Replays the
  // kept messages after `?after=N` or the Last-Event-ID header first (so reconnects lose none).
  app.get("/messages/stream", (c) => {
    const after = cursor(c.req.query("after") ?? c.req.header("last-event-id"));
    if (after === undefined) {
      return c.json({ error: "bad-request", message: "after is a message seq" }, 400);
    }
    return streamSSE(c, async (stream) => {
      const queue: NodeMessage[] = [];
      let wake: (() => void) | undefined;
      stream.onAbort(() => wake?.());
      const off = node.onMessage((m) => {
        queue.push(m);
        if (queue.length > 10_000) queue.shift();
        wake?.();
      });
      let last = after;
      const replay = node.inbox(after, 10_000);
      queue.unshift(...replay.filter((m) => !queue.includes(m)));
      const onLeft = () => wake?.();
      node.left.then(onLeft);
      try {
        while (!stream.aborted && !stream.closed) {
          const m = queue.shift();
          if (m !== undefined) {
            if (m.seq <= last) continue;
            last = m.seq;
            await stream.writeSSE({ event: "message", id: String(m.seq), data: JSON.stringify(m) });
            continue;
          }
          if (node.room.left) break;
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, KEEP_ALIVE_MS);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = undefined;
          if (queue.length === 0 && !stream.aborted && !node.room.left) {
            await stream.write(": keep-alive\n\n");
          }
        }
        if (node.room.left) await stream.writeSSE({ event: "left", data: "{}" });
      } finally {
        off();
      }
    });
  });

  app.post("/leave", async (c) => {
    await node.leave();
    return c.json({ status: "left" });
  });

  return app;
}

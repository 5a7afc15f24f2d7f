// GET /events: the bootstrap's events as server-sent events. Each event is
// `event: <type>`, `data: <the event as JSON>`, `id: <n>` (per stream). The
// bootstrap's listener only queues (it must never block the UDP loop); a
// client too slow to keep up loses the oldest events and is told with an
// `event: lagged` carrying `{"dropped": n}`. A comment line goes out every
// keep-alive period so proxies keep the stream open. The subscription ends
// when the client goes away or the app shuts down.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
// The I/O-free entry point: "@olaf/protocol/net" would also load node:dgram,
// which the Deno Deploy build has no use for.
import { Fifo } from "@olaf/protocol/fifo";
import type { BootstrapEvent } from "./bootstrap_view.ts";
import type { ControlState } from "./_state.ts";
import { requireView } from "./_stats_routes.ts";

export function eventsRoute(state: ControlState): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    const view = requireView(state);
    return streamSSE(c, async (stream) => {
      const queue = new Fifo<BootstrapEvent>(state.sseQueueLimit);
      let reportedDrops = 0;
      let keepAliveDue = false;
      let closed = false;
      let wake: (() => void) | undefined;
      const notify = () => {
        const resolve = wake;
        wake = undefined;
        resolve?.();
      };
      const close = () => {
        closed = true;
        notify();
      };
      const unsubscribe = view.subscribe((event) => {
        queue.push(event);
        notify();
      });
      // Deno.serve cancels the body (onAbort) when the client goes away. The
      // request's signal is not used: touching it makes Deno 2.9 print a
      // legacy-abort warning on every server start.
      stream.onAbort(close);
      state.signal?.addEventListener("abort", close, { once: true });
      const timer = setInterval(() => {
        keepAliveDue = true;
        notify();
      }, state.sseKeepAliveMs);
      state.counters.eventStreams++;
      let id = 0;
      try {
        if (state.signal?.aborted) return;
        await stream.write(": olaf events\n\n");
        while (!closed) {
          if (queue.size === 0 && !keepAliveDue) {
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          if (queue.dropped > reportedDrops) {
            const data = JSON.stringify({ dropped: queue.dropped - reportedDrops });
            reportedDrops = queue.dropped;
            await stream.writeSSE({ event: "lagged", data, id: String(++id) });
          }
          const event = queue.shift();
          if (event) {
            await stream.writeSSE({
              event: event.type,
              data: JSON.stringify(event),
              id: String(++id),
            });
          } else if (keepAliveDue) {
            keepAliveDue = false;
            await stream.write(": keep-alive\n\n");
          }
        }
      } finally {
        state.counters.eventStreams--;
        unsubscribe();
        clearInterval(timer);
        state.signal?.removeEventListener("abort", close);
      }
    });
  });
  return app;
}

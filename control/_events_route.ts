// GET /events: the bootstrap's events as server-sent events. Each event is
// `event: <type>`, `data: <the event as JSON>`, `id: <n>` (per stream). The
// bootstrap's listener only queues (it must never block the UDP loop); a
// client too slow to keep up loses the oldest events and is told with an
// `event: lagged` carrying `{"dropped": n}`. A comment line goes out every
// keep-alive period so proxies keep the stream open. The subscription ends
// when the client goes away or the app shuts down.
//
// Issue 12: at most `maxEventStreams` streams at once (503 + Retry-After
// beyond, counted), and one subscription to the bootstrap for all of them
// (EventHub): the bootstrap's listener does one push per stream, and each
// event is turned into JSON once, however many streams send it; a stream
// sends what queued up since its last write in one chunk.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
// The I/O-free entry point: "@olaf/protocol/net" would also load node:dgram,
// which the Deno Deploy build has no use for.
import { Fifo } from "@olaf/protocol/fifo";
import type { BootstrapEvent, BootstrapView } from "./bootstrap_view.ts";
import { ApiError } from "./_errors.ts";
import type { ControlState } from "./_state.ts";
import { requireView } from "./_stats_routes.ts";

/** An event as queued for the streams: serialized once, on first use. */
class QueuedEvent {
  #json: string | undefined;
  constructor(readonly event: BootstrapEvent) {}
  get json(): string {
    return this.#json ??= JSON.stringify(this.event);
  }
}

/** One stream's side of the hub: a bounded queue and a wake-up. */
interface Subscriber {
  queue: Fifo<QueuedEvent>;
  notify(): void;
}

/** Shares one bootstrap subscription among every open stream. */
export class EventHub {
  #view: BootstrapView;
  #subscribers = new Set<Subscriber>();
  #unsubscribe: (() => void) | undefined;

  constructor(view: BootstrapView) {
    this.#view = view;
  }

  /** Open streams. */
  get size(): number {
    return this.#subscribers.size;
  }

  add(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    this.#unsubscribe ??= this.#view.subscribe((event) => {
      // Runs on the datagram path: O(1) per stream, no serialization here.
      const queued = new QueuedEvent(event);
      for (const s of this.#subscribers) {
        s.queue.push(queued);
        s.notify();
      }
    });
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) {
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
      }
    };
  }
}

export function eventsRoute(state: ControlState): Hono {
  const app = new Hono();
  const hubs = new WeakMap<BootstrapView, EventHub>();
  app.get("/events", (c) => {
    const view = requireView(state);
    if (state.counters.eventStreams >= state.maxEventStreams) {
      throw new ApiError(
        503,
        "unavailable",
        `too many /events streams (at most ${state.maxEventStreams}), try again later`,
        { "Retry-After": "10" },
        "max-event-streams",
      );
    }
    let hub = hubs.get(view);
    if (!hub) hubs.set(view, hub = new EventHub(view));
    // Counted before the stream starts, so a burst of requests cannot overshoot the cap.
    state.counters.eventStreams++;
    let counted = true;
    const uncount = () => {
      if (counted) state.counters.eventStreams--;
      counted = false;
    };
    return streamSSE(c, async (stream) => {
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
      const subscriber: Subscriber = { queue: new Fifo(state.sseQueueLimit), notify };
      const leave = hub.add(subscriber);
      const { queue } = subscriber;
      // Deno.serve cancels the body (onAbort) when the client goes away. The
      // request's signal is not used: touching it makes Deno 2.9 print a
      // legacy-abort warning on every server start.
      stream.onAbort(close);
      state.signal?.addEventListener("abort", close, { once: true });
      const timer = setInterval(() => {
        keepAliveDue = true;
        notify();
      }, state.sseKeepAliveMs);
      let id = 0;
      try {
        if (state.signal?.aborted) return;
        await stream.write(": olaf events\n\n");
        while (!closed) {
          if (queue.size === 0 && !keepAliveDue) {
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          // Everything queued goes out in one write (bounded): one chunk per
          // wake-up rather than per event keeps the cost per event small.
          let chunk = "";
          if (queue.dropped > reportedDrops) {
            const data = JSON.stringify({ dropped: queue.dropped - reportedDrops });
            reportedDrops = queue.dropped;
            chunk += `event: lagged\ndata: ${data}\nid: ${++id}\n\n`;
          }
          for (let queued; chunk.length < 65_536 && (queued = queue.shift());) {
            chunk += `event: ${queued.event.type}\ndata: ${queued.json}\nid: ${++id}\n\n`;
          }
          if (chunk === "" && keepAliveDue) chunk = ": keep-alive\n\n";
          if (chunk.startsWith(": keep-alive") || chunk === "") keepAliveDue = false;
          if (chunk !== "") await stream.write(chunk);
        }
      } finally {
        uncount();
        leave();
        // Release what this stream still holds at once, not when it is collected.
        queue.clear();
        clearInterval(timer);
        state.signal?.removeEventListener("abort", close);
      }
    });
  });
  return app;
}

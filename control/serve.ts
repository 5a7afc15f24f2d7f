/**
 * Serving the control plane over HTTP with `Deno.serve`:
 * {@linkcode serveControl}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type ControlAppOptions, createControlApp } from "./app.ts";

const logger = getLogger(["olaf", "control"]);

/** Options for {@linkcode serveControl}: the app's, plus where to listen. */
export interface ServeControlOptions extends ControlAppOptions {
  /** Interface to listen on. Default `"0.0.0.0"`. */
  hostname?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
}

/** A running control-plane server. */
export interface ControlServer extends AsyncDisposable {
  /** The bound address (with the real port when `port` was 0). */
  readonly addr: Deno.NetAddr;
  /** Base URL to reach the server, e.g. `http://127.0.0.1:8080/` (IPv6 in brackets). */
  readonly url: URL;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, ends every `/events` stream and waits for
   * in-flight requests. Safe to call more than once. Does not close the
   * session store (its owner does).
   */
  shutdown(): Promise<void>;
}

/**
 * Starts the control plane with `Deno.serve`. The `signal` option, when
 * aborted, shuts the server down like `shutdown()`.
 *
 * @param options The app's options plus `hostname` and `port`.
 * @returns The running server, once it listens.
 *
 * @example
 * ```ts
 * import { MemoryBootstrapView, serveControl } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const bootstrap = new MemoryBootstrapView();
 * await using server = await serveControl({ bootstrap, hostname: "127.0.0.1", port: 0 });
 * assert.notEqual(server.addr.port, 0);
 * const res = await fetch(new URL("/rooms", server.url));
 * assert.deepEqual(await res.json(), { total: 0, offset: 0, limit: 50, rooms: [] });
 * ```
 */
export function serveControl(options: ServeControlOptions = {}): Promise<ControlServer> {
  const { hostname = "0.0.0.0", port = 8080, signal, ...appOptions } = options;
  const stop = new AbortController();
  const app = createControlApp({ ...appOptions, signal: stop.signal });
  // Deno.serve throws synchronously (e.g. address in use); turn that into a rejection.
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (request, info) => app.fetch(request, info),
    );
  } catch (error) {
    return Promise.reject(error);
  }
  const addr = server.addr;
  const url = new URL(`http://${formatHost(addr.hostname)}:${addr.port}/`);
  logger.debug("control plane listening on {url}", { url: url.href });
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      signal?.removeEventListener("abort", onAbort);
      stop.abort();
      await server.shutdown();
    })();
    return stopping;
  };
  const onAbort = () => void shutdown();
  if (signal?.aborted) void shutdown();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return Promise.resolve({
    addr,
    url,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  });
}

function formatHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Deno Deploy entry of the Olaf control plane: the REST rendezvous with
 * sessions in the project's Deno KV database (`Deno.openKv()`). There is no
 * UDP on Deploy, so no bootstrap is attached: `/stats`, `/rooms` and
 * `/events` answer `503 {"error":"no-bootstrap"}`, while `/health`,
 * `/metrics` and `/games/*` work.
 *
 * Settings come from environment variables: `OLAF_OPERATOR_TOKEN` (optional)
 * and `OLAF_SESSION_TTL_MS` (default 600000).
 *
 * Run it as the entry point (`deployctl deploy --entrypoint control/deploy.ts`,
 * or locally `deno run -A --unstable-kv control/deploy.ts`); importing it
 * starts nothing.
 *
 * @example Build the handler against a temporary KV file
 * ```ts
 * import { createDeployHandler } from "@olaf/control/deploy";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(await Deno.makeTempFile({ suffix: ".kv" }));
 * try {
 *   const handler = createDeployHandler(kv, { env: () => undefined });
 *   const res = await handler(new Request("http://localhost/games"));
 *   assert.equal((await res.json()).total, 0);
 * } finally {
 *   kv.close();
 * }
 * ```
 *
 * @module
 */
import { createControlApp } from "./app.ts";
import { KvSessionStore } from "./kv_session_store.ts";

/** Options for {@linkcode createDeployHandler}. */
export interface DeployHandlerOptions {
  /** Reads settings; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/**
 * The request handler served on Deploy: the control app over a
 * {@linkcode KvSessionStore} on `kv` (which the caller keeps and closes).
 *
 * @param kv An open KV database.
 * @param options Where settings come from.
 * @returns A `fetch`-style handler for `Deno.serve`.
 *
 * @example
 * ```ts
 * import { createDeployHandler } from "@olaf/control/deploy";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * try {
 *   const handler = createDeployHandler(kv, { env: () => undefined });
 *   const res = await handler(new Request("http://localhost/stats"));
 *   assert.equal(res.status, 503);
 * } finally {
 *   kv.close();
 * }
 * ```
 */
export function createDeployHandler(
  kv: Deno.Kv,
  options: DeployHandlerOptions = {},
): (request: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const ttl = env("OLAF_SESSION_TTL_MS");
  const sessionTtlMs = ttl ? Number(ttl) : undefined;
  if (sessionTtlMs !== undefined && !(sessionTtlMs > 0)) {
    throw new RangeError(`OLAF_SESSION_TTL_MS must be a positive number, got ${ttl}`);
  }
  const app = createControlApp({
    store: new KvSessionStore(kv),
    operatorToken: env("OLAF_OPERATOR_TOKEN") || undefined,
    sessionTtlMs,
  });
  return (request, info) => app.fetch(request, info);
}

if (import.meta.main) {
  const kv = await Deno.openKv();
  Deno.serve(createDeployHandler(kv));
}

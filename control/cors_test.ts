import assert from "node:assert/strict";
import { createControlApp } from "./app.ts";
import { MemoryBootstrapView } from "./memory_bootstrap_view.ts";

Deno.test("cors: the preflight answers what hono/cors answered, with no body", async () => {
  const app = createControlApp({ rateLimit: false });
  const res = await app.request("/stats", {
    method: "OPTIONS",
    headers: { Origin: "https://a.example", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-max-age"), "600");
  assert.equal(
    res.headers.get("access-control-allow-methods"),
    "GET,HEAD,POST,PUT,DELETE,OPTIONS",
  );
  assert.equal(res.headers.get("access-control-allow-headers"), "Content-Type,Authorization");
  assert.equal(res.headers.get("access-control-expose-headers"), "Retry-After");
  assert.equal(res.headers.get("content-type"), null);
});

Deno.test("cors: JSON, errors and 429s carry the allow-origin and expose headers", async () => {
  const app = createControlApp({
    bootstrap: new MemoryBootstrapView(),
    rateLimit: { capacity: 1, refillPerSecond: 0.001 },
  });
  const ok = await app.request("/stats");
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).members, 0);
  const limited = await app.request("/stats");
  assert.equal(limited.status, 429);
  await limited.body?.cancel();
  for (const res of [ok, limited]) {
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-expose-headers"), "Retry-After");
  }
});

Deno.test("cors: every kind of answer is marked (404, 405, text, HTML, metrics)", async () => {
  const app = createControlApp({ bootstrap: new MemoryBootstrapView(), rateLimit: false });
  const answers = [
    [await app.request("/nowhere"), 404],
    [await app.request("/health", { method: "POST" }), 405],
    [await app.request("/metrics"), 200],
    [await app.request("/", { headers: { Accept: "text/html" } }), 200],
  ] as const;
  for (const [res, status] of answers) {
    assert.equal(res.status, status);
    await res.body?.cancel();
    assert.equal(res.headers.get("access-control-allow-origin"), "*", `status ${status}`);
  }
});

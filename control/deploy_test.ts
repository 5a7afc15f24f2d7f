import assert from "node:assert/strict";
import { createDeployHandler } from "./deploy.ts";

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "olaf-control-deploy-" });
  const kv = await Deno.openKv(`${dir}/deploy.kv`);
  try {
    await fn(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function post(path: string, body: unknown, token?: string): Request {
  return new Request(`http://deploy.example${path}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

Deno.test("deploy: rendezvous over KV, settings from the environment, no bootstrap", async () => {
  await withKv(async (kv) => {
    const env: Record<string, string> = {
      OLAF_OPERATOR_TOKEN: "op",
      OLAF_SESSION_TTL_MS: "30000",
    };
    const handler = createDeployHandler(kv, { env: (name) => env[name] });
    const registered = await handler(post("/games/register", { name: "g", peerId: 1 }));
    assert.equal(registered.status, 201);
    const { token, ttlMs } = await registered.json();
    assert.equal(ttlMs, 30_000);
    const polled = await handler(
      post("/games/poll", { name: "g", peerId: 1, addresses: [["203.0.113.7", 4000]] }, token),
    );
    assert.equal((await polled.json()).status, 0);
    // A second handler on the same database (another Deploy isolate) sees the session.
    const other = createDeployHandler(kv, { env: (name) => env[name] });
    const started = await other(
      post("/games/start", { name: "g", peerId: 2, addresses: [["198.51.100.4", 5000]] }),
    );
    assert.deepEqual((await started.json()).addresses, [["203.0.113.7", 4000]]);
    const deleted = await other(
      new Request("http://deploy.example/games/g", {
        method: "DELETE",
        headers: { Authorization: "Bearer op" },
      }),
    );
    assert.equal(deleted.status, 200);
    const stats = await handler(new Request("http://deploy.example/stats"));
    assert.equal(stats.status, 503);
    assert.equal((await stats.json()).error, "no-bootstrap");
  });
});

Deno.test("deploy: a bad OLAF_SESSION_TTL_MS is refused at start", async () => {
  await withKv((kv) => {
    assert.throws(
      () =>
        createDeployHandler(kv, { env: (n) => (n === "OLAF_SESSION_TTL_MS" ? "soon" : undefined) }),
      /OLAF_SESSION_TTL_MS/,
    );
    return Promise.resolve();
  });
});

Deno.test("deploy: the rate limit applies per client address from the serve info", async () => {
  await withKv(async (kv) => {
    const handler = createDeployHandler(kv, { env: () => undefined });
    const from = (hostname: string): Deno.ServeHandlerInfo => ({
      remoteAddr: { transport: "tcp", hostname, port: 40000 },
      completed: Promise.resolve(),
    });
    // The default bucket holds 60 requests and refills 20 per second, far
    // slower than this loop: the client is refused once it has spent them.
    let allowed = 0;
    let refused: Response | undefined;
    while (!refused && allowed < 1000) {
      const res = await handler(new Request("http://deploy.example/health"), from("192.0.2.1"));
      if (res.status === 429) refused = res;
      else allowed++;
      await res.body?.cancel();
    }
    assert.ok(refused, "never rate limited");
    assert.ok(allowed >= 60, `${allowed} allowed`);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const other = await handler(new Request("http://deploy.example/health"), from("192.0.2.2"));
    assert.equal(other.status, 200);
    await other.body?.cancel();
  });
});

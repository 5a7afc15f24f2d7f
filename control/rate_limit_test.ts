import assert from "node:assert/strict";
import { Hono } from "hono";
import { createControlApp } from "./app.ts";
import { addressKey, rateLimit } from "./_rate_limit.ts";

function client(ip: string) {
  return { remoteAddr: { transport: "tcp", hostname: ip, port: 1234 } };
}

function limitedApp(options: Parameters<typeof rateLimit>[0]) {
  const app = new Hono();
  app.use(rateLimit(options));
  app.get("/", (c) => c.text("ok"));
  return app;
}

Deno.test("rateLimit: a burst of capacity, then 429 with Retry-After, then refill", async () => {
  let now = 0;
  const app = limitedApp({ capacity: 3, refillPerSecond: 0.5, now: () => now });
  for (let i = 0; i < 3; i++) {
    assert.equal((await app.request("/", {}, client("192.0.2.1"))).status, 200);
  }
  const refused = await app.request("/", {}, client("192.0.2.1"));
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "2"); // one token every 2 s
  assert.deepEqual(await refused.json(), {
    error: "rate-limited",
    message: "too many requests, slow down",
  });
  now = 1000; // half a token back: still refused, one more second to wait
  const again = await app.request("/", {}, client("192.0.2.1"));
  assert.equal(again.status, 429);
  assert.equal(again.headers.get("retry-after"), "1");
  now = 2000;
  assert.equal((await app.request("/", {}, client("192.0.2.1"))).status, 200);
  assert.equal((await app.request("/", {}, client("192.0.2.1"))).status, 429);
});

Deno.test("rateLimit: every client address has its own bucket", async () => {
  const app = limitedApp({ capacity: 1, refillPerSecond: 1, now: () => 0 });
  assert.equal((await app.request("/", {}, client("192.0.2.1"))).status, 200);
  assert.equal((await app.request("/", {}, client("192.0.2.1"))).status, 429);
  assert.equal((await app.request("/", {}, client("192.0.2.2"))).status, 200);
  assert.equal((await app.request("/", {}, client("2001:db8::1"))).status, 200);
  // Without connection info every request shares the "unknown" bucket.
  assert.equal((await app.request("/")).status, 200);
  assert.equal((await app.request("/")).status, 429);
});

Deno.test("rateLimit: tracks at most maxClients, forgetting refilled buckets first", async () => {
  let now = 0;
  const seen: string[] = [];
  const app = limitedApp({
    capacity: 1,
    refillPerSecond: 1,
    maxClients: 2,
    now: () => now,
    onLimited: (key) => seen.push(key),
  });
  await app.request("/", {}, client("192.0.2.1"));
  now = 500;
  await app.request("/", {}, client("192.0.2.2"));
  now = 1000; // .1 has refilled, .2 has not
  await app.request("/", {}, client("192.0.2.3")); // evicts .1 only
  assert.equal((await app.request("/", {}, client("192.0.2.2"))).status, 429);
  assert.equal((await app.request("/", {}, client("192.0.2.3"))).status, 429);
  assert.deepEqual(seen, ["192.0.2.2", "192.0.2.3"]);
  // A fourth client while nothing has refilled: the least recently seen goes.
  await app.request("/", {}, client("192.0.2.4"));
  assert.equal((await app.request("/", {}, client("192.0.2.3"))).status, 429);
  assert.equal((await app.request("/", {}, client("192.0.2.2"))).status, 200); // forgotten, so fresh
});

Deno.test("rateLimit: refuses nonsense options", () => {
  assert.throws(() => rateLimit({ capacity: 0 }), RangeError);
  assert.throws(() => rateLimit({ refillPerSecond: 0 }), RangeError);
  assert.throws(() => rateLimit({ maxClients: Number.NaN }), RangeError);
});

Deno.test("control app: rate limited by default options, counted in /metrics, CORS kept", async () => {
  const app = createControlApp({ rateLimit: { capacity: 2, refillPerSecond: 1, now: () => 0 } });
  const env = client("192.0.2.9");
  assert.equal((await app.request("/health", {}, env)).status, 200);
  assert.equal((await app.request("/health", {}, env)).status, 200);
  const refused = await app.request("/games", { headers: { Origin: "https://x.example" } }, env);
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal(refused.headers.get("access-control-allow-origin"), "*");
  const metrics = await (await app.request("/metrics", {}, client("192.0.2.10"))).text();
  assert.match(metrics, /^olaf_http_rate_limited_total 1$/m);
});

Deno.test("rateLimit: IPv6 clients share a bucket per /64, IPv4-mapped count as IPv4", async () => {
  assert.equal(addressKey("192.0.2.1"), "192.0.2.1");
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:DB8:1:2::9"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(addressKey("2001:0db8:0001:0002::"), "2001:db8:1:2::/64");
  const app = limitedApp({ capacity: 1, refillPerSecond: 1, now: () => 0 });
  assert.equal((await app.request("/", {}, client("2001:db8:1:2::1"))).status, 200);
  assert.equal((await app.request("/", {}, client("2001:db8:1:2::ffff"))).status, 429);
  assert.equal((await app.request("/", {}, client("2001:db8:1:3::1"))).status, 200);
});

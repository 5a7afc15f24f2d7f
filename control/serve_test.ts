// A real Deno.serve server on a free loopback port, hit with fetch.
import assert from "node:assert/strict";
import { MemoryBootstrapView } from "./memory_bootstrap_view.ts";
import { serveControl } from "./serve.ts";
import { eventually, openTempKvStore, parseSse, readSse } from "./_test_support.ts";

function post(url: URL, path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(new URL(path, url), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

Deno.test("serveControl: stats and a full rendezvous over real HTTP, sessions in KV", async () => {
  const view = new MemoryBootstrapView();
  view.join("lobby", { ip: "203.0.113.7", port: 40000, id: 1 });
  await using kv = await openTempKvStore();
  await using server = await serveControl({
    bootstrap: view,
    store: kv.store,
    hostname: "127.0.0.1",
    port: 0,
  });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.ok(server.addr.port > 0);
  assert.equal(server.url.href, `http://127.0.0.1:${server.addr.port}/`);

  const room = await (await fetch(new URL("/rooms/lobby", server.url))).json();
  assert.equal(room.members[0].port, 40000);

  const registered = await post(server.url, "/games/register", { name: "g", peerId: "h" });
  assert.equal(registered.status, 201);
  const { token } = await registered.json();
  const notReady = await post(server.url, "/games/start", {
    name: "g",
    peerId: "guest",
    addresses: [["198.51.100.4", 5000]],
  });
  assert.equal(notReady.status, 409);
  assert.equal((await notReady.json()).error, "not-ready");
  const hostAddresses = [["203.0.113.7", 40000], ["::1", 40000]];
  const first = await post(server.url, "/games/poll", {
    name: "g",
    peerId: "h",
    addresses: hostAddresses,
  }, token);
  assert.equal((await first.json()).status, 0);
  const joined = await post(server.url, "/games/start", {
    name: "g",
    peerId: "guest",
    addresses: [["198.51.100.4", 5000]],
  });
  assert.deepEqual((await joined.json()).addresses, hostAddresses);
  const second = await (await post(server.url, "/games/poll", {
    name: "g",
    peerId: "h",
    addresses: hostAddresses,
  }, token)).json();
  assert.equal(second.status, 1);
  assert.deepEqual(second.addresses[0].addresses, [["198.51.100.4", 5000]]);

  // An oversized body is refused from its Content-Length, as JSON.
  const huge = await fetch(new URL("/games/register", server.url), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "x".repeat(100_000),
  });
  assert.equal(huge.status, 413);
  assert.equal((await huge.json()).error, "payload-too-large");
});

Deno.test("serveControl: SSE over a real connection; shutdown ends open streams", async () => {
  const view = new MemoryBootstrapView();
  const server = await serveControl({ bootstrap: view, hostname: "127.0.0.1", port: 0 });
  const res = await fetch(new URL("/events", server.url));
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await readSse(reader, (t) => t.includes("\n\n"));
  view.join("lobby", { ip: "203.0.113.7", port: 40000, id: 9 });
  const messages = parseSse(await readSse(reader, (t) => parseSse(t).length >= 2));
  assert.equal(messages[1].event, "member-joined");
  assert.equal(JSON.parse(messages[1].data).member.id, 9);

  // Shutting down with the stream still open must not hang.
  await server.shutdown();
  await server.finished;
  for (let i = 0; i < 100; i++) {
    if ((await reader.read()).done) break;
  }
  assert.equal(view.listenerCount, 0);
  await server.shutdown(); // twice is fine
});

Deno.test("serveControl: a client that disconnects from /events is unsubscribed", async () => {
  const view = new MemoryBootstrapView();
  await using server = await serveControl({ bootstrap: view, hostname: "127.0.0.1", port: 0 });
  const res = await fetch(new URL("/events", server.url));
  const reader = res.body!.getReader();
  await readSse(reader, (t) => t.includes("\n\n"));
  assert.equal(view.listenerCount, 1);
  await reader.cancel();
  // Noticed at once, with no event or keep-alive to write.
  assert.ok(await eventually(() => view.listenerCount === 0), "still subscribed");
});

Deno.test("serveControl: the signal option stops the server; a busy port rejects", async () => {
  const stop = new AbortController();
  const server = await serveControl({ hostname: "127.0.0.1", port: 0, signal: stop.signal });
  const health = await fetch(new URL("/health", server.url));
  assert.equal((await health.json()).bootstrap, false);
  await assert.rejects(
    serveControl({ hostname: "127.0.0.1", port: server.addr.port }),
    Deno.errors.AddrInUse,
  );
  stop.abort();
  await server.finished;
  await assert.rejects(fetch(new URL("/health", server.url)));
});

Deno.test("serveControl: IPv6 loopback, URL in brackets", async () => {
  let server;
  try {
    server = await serveControl({ hostname: "::1", port: 0 });
  } catch (error) {
    if (error instanceof Deno.errors.AddrNotAvailable) return; // no IPv6 on this machine
    throw error;
  }
  await using _ = server;
  assert.equal(server.url.hostname, "[::1]");
  const res = await fetch(new URL("/health", server.url));
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("serveControl: the rate limit keys on the connection's address", async () => {
  const seen: (string | undefined)[] = [];
  await using server = await serveControl({
    hostname: "127.0.0.1",
    port: 0,
    rateLimit: {
      capacity: 1,
      refillPerSecond: 0.001,
      clientKey: (_request, address) => {
        seen.push(address);
        return address ?? "unknown";
      },
    },
  });
  const first = await fetch(new URL("/health", server.url));
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const second = await fetch(new URL("/health", server.url));
  assert.equal(second.status, 429);
  assert.ok(Number(second.headers.get("retry-after")) >= 1);
  assert.equal((await second.json()).error, "rate-limited");
  assert.deepEqual(seen, ["127.0.0.1", "127.0.0.1"]);
});

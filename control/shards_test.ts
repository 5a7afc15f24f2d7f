// Issue 15: one control plane adding up the /stats of several shards over real HTTP, with the
// shards that are down named in the answer.
import assert from "node:assert/strict";
import { createControlApp } from "./app.ts";
import { MemoryBootstrapView } from "./memory_bootstrap_view.ts";
import { serveControl } from "./serve.ts";
import { parseConfig } from "./_cli.ts";
import { UsageError } from "@olaf/protocol/_cli";

async function shard(members: number, prefix = "room") {
  const view = new MemoryBootstrapView();
  for (let i = 0; i < members; i++) {
    view.join(`${prefix}-${i % 2}`, { ip: "203.0.113.7", port: 1000 + i, id: i + 1 });
  }
  const server = await serveControl({
    bootstrap: view,
    hostname: "127.0.0.1",
    port: 0,
    rateLimit: false,
  });
  return { view, server, url: server.url.href.replace(/\/$/, "") };
}

Deno.test("GET /stats over shards adds them up; a dead shard makes a partial answer", async () => {
  const a = await shard(3);
  const b = await shard(4);
  // A port nobody listens on: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  try {
    const app = createControlApp({ shards: [a.url, b.url], rateLimit: false });
    const all = await (await app.request("/stats")).json();
    assert.equal(all.members, 7);
    assert.equal(all.rooms, 4);
    assert.equal(all.partial, false);
    assert.deepEqual(all.shards, [
      { url: a.url, ok: true, rooms: 2, members: 3 },
      { url: b.url, ok: true, rooms: 2, members: 4 },
    ]);

    const some = createControlApp({ shards: [a.url, dead], rateLimit: false });
    const res = await some.request("/stats");
    assert.equal(res.status, 200);
    const partial = await res.json();
    assert.equal(partial.partial, true);
    assert.equal(partial.members, 3);
    assert.deepEqual(partial.shards[1], { url: dead, ok: false, error: "connection refused" });
    const metrics = await (await some.request("/metrics")).text();
    assert.match(metrics, new RegExp(`olaf_shard_up\\{shard="${a.url}"\\} 1`));
    assert.match(metrics, new RegExp(`olaf_shard_up\\{shard="${dead}"\\} 0`));
    assert.match(metrics, /^olaf_members 3$/m);

    const none = createControlApp({ shards: [dead], rateLimit: false });
    const down = await none.request("/stats");
    assert.equal(down.status, 503);
    const body = await down.json();
    assert.equal(body.error, "unavailable");
    assert.equal(body.message, `no shard answered: ${dead} (connection refused)`);
  } finally {
    await a.server.shutdown();
    await b.server.shutdown();
  }
});

Deno.test("a shard without a bootstrap is reported with its error code", async () => {
  await using plain = await serveControl({ hostname: "127.0.0.1", port: 0, rateLimit: false });
  const url = plain.url.href;
  const app = createControlApp({ shards: [url], rateLimit: false });
  const res = await app.request("/stats");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.deepEqual(body.shards, [{
    url: url.replace(/\/$/, ""),
    ok: false,
    error: "HTTP 503 no-bootstrap",
  }]);
});

Deno.test("bad shard lists are refused", () => {
  assert.throws(() => createControlApp({ shards: [] }), /at least one/);
  assert.throws(() => createControlApp({ shards: ["ftp://x"] }), /http:\/\/ or https:\/\//);
  assert.throws(() => createControlApp({ shards: ["nope"] }), /not a URL/);
  assert.throws(
    () => createControlApp({ shards: ["http://a:1/", "http://a:1"] }),
    /listed twice/,
  );
  assert.throws(
    () => createControlApp({ shards: ["http://a:1"], bootstrap: new MemoryBootstrapView() }),
    /either bootstrap or shards/,
  );
});

Deno.test("olaf-control --shards takes a comma-separated URL list", () => {
  const config = parseConfig(
    ["--shards", "http://127.0.0.1:8081, http://127.0.0.1:8082/"],
    () => undefined,
  );
  assert.ok(config !== "help" && config !== "version");
  assert.deepEqual(config.shards, ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]);
  assert.throws(
    () => parseConfig(["--shards", "127.0.0.1:8081"], () => undefined),
    (error: Error) => error instanceof UsageError && /--shards: /.test(error.message),
  );
});

Deno.test("GET /rooms and /rooms/:name over shards: one list, the room from its shard", async () => {
  const a = await shard(3, "a");
  const b = await shard(4, "b");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  try {
    const app = createControlApp({ shards: [a.url, b.url], rateLimit: false });
    const page = await (await app.request("/rooms?offset=1&limit=2")).json();
    assert.equal(page.total, 4);
    assert.deepEqual(page.rooms.map((r: { name: string }) => r.name), ["a-1", "b-0"]);
    const all = await (await app.request("/rooms")).json();
    assert.deepEqual(all.rooms.map((r: { name: string }) => r.name), ["a-0", "a-1", "b-0", "b-1"]);
    const room = await (await app.request("/rooms/b-1")).json();
    assert.equal(room.memberCount, 2);
    assert.equal(room.shard, b.url);
    const missing = await app.request("/rooms/nowhere");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error, "not-found");

    const some = createControlApp({ shards: [dead, b.url], rateLimit: false });
    const partial = await (await some.request("/rooms")).json();
    assert.equal(partial.total, 2);
    assert.equal(partial.partial, true);
    assert.deepEqual(partial.failed, [{ url: dead, error: "connection refused" }]);
    assert.equal((await (await some.request("/rooms/b-0")).json()).shard, b.url);
    const unsure = await some.request("/rooms/a-0");
    assert.equal(unsure.status, 503);
    assert.match((await unsure.json()).message, /did not answer: .*connection refused/);
  } finally {
    await a.server.shutdown();
    await b.server.shutdown();
  }
});

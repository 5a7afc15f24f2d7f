import assert from "node:assert/strict";
import { createControlApp } from "./app.ts";
import { serveControl } from "./serve.ts";

const json = { "Content-Type": "application/json" };

Deno.test("seed endpoints over a real server: register, list, peers, as the seed's nodes call them", async () => {
  await using server = await serveControl({ hostname: "127.0.0.1", port: 0 });
  const base = server.url.href.replace(/\/$/, "");
  const register = (body: unknown) =>
    fetch(`${base}/register`, { method: "POST", headers: json, body: JSON.stringify(body) });

  let res = await register({ peer_url: "http://127.0.0.1:5001" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "registered", peers: ["http://127.0.0.1:5001"] });
  res = await register({ peer_url: "http://127.0.0.1:5002" });
  assert.deepEqual((await res.json()).peers, ["http://127.0.0.1:5001", "http://127.0.0.1:5002"]);
  // Registering again does not duplicate.
  res = await register({ peer_url: "http://127.0.0.1:5001" });
  assert.equal((await res.json()).peers.length, 2);

  res = await fetch(`${base}/peers`);
  assert.deepEqual((await res.json()).peers.sort(), [
    "http://127.0.0.1:5001",
    "http://127.0.0.1:5002",
  ]);
  // The seed's GET / listing lives at /seed/ (GET / is the dashboard); /seed/* mirrors the rest.
  res = await fetch(`${base}/seed/`);
  const listing = await res.json();
  assert.equal(typeof listing.message, "string");
  assert.equal(listing.peers.length, 2);
  res = await fetch(`${base}/seed/peers`);
  assert.equal((await res.json()).peers.length, 2);
  res = await fetch(`${base}/`, { headers: { Accept: "application/json" } });
  assert.equal(res.status, 200);
  const index = await res.json();
  assert.equal(index.peers, undefined); // still the control plane's own index, which names them
  assert.ok(index.endpoints.includes("GET /seed/"));
});

Deno.test("seed POST /register: 400 when peer_url is missing or not an http(s) URL", async () => {
  const app = createControlApp();
  const cases: [unknown, RegExp][] = [
    [{}, /peer_url is required/],
    [{ peer_url: "" }, /peer_url is required/],
    [{ peer_url: 5 }, /http\(s\) URL/],
    [{ peer_url: "ftp://x" }, /http\(s\) URL/],
    [{ peer_url: "http://" + "a".repeat(3000) }, /http\(s\) URL/],
    [[1, 2], /peer_url is required/],
  ];
  for (const [body, message] of cases) {
    const res = await app.request("/register", {
      method: "POST",
      headers: json,
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 400, JSON.stringify(body));
    const error = await res.json();
    assert.equal(error.error, "bad-request");
    assert.match(error.message, message);
  }
  const res = await app.request("/seed/register", { method: "POST", headers: json, body: "{" });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "invalid-json");
  assert.deepEqual(await (await app.request("/peers")).json(), { peers: [] });
});

Deno.test("seed registry keeps at most 1000 URLs, dropping the oldest", async () => {
  const app = createControlApp({ rateLimit: false });
  for (let i = 0; i < 1001; i++) {
    const res = await app.request("/register", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ peer_url: `http://10.0.0.1:${i + 1}` }),
    });
    await res.body?.cancel();
  }
  const { peers } = await (await app.request("/peers")).json();
  assert.equal(peers.length, 1000);
  assert.equal(peers[0], "http://10.0.0.1:2");
  assert.equal(peers[999], "http://10.0.0.1:1001");
});

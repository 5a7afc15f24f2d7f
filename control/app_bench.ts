// Per-request cost of the control app through app.request() (no network):
// GET /health is the baseline; the ratios show what stats, metrics and a
// rendezvous poll add, and what Deno KV costs against the memory store.
import { createControlApp } from "./app.ts";
import { KvSessionStore } from "./kv_session_store.ts";
import { MemoryBootstrapView } from "./memory_bootstrap_view.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";

const view = new MemoryBootstrapView();
for (let i = 0; i < 100; i++) {
  for (let m = 0; m < 10; m++) {
    view.join(`room-${i}`, { ip: "203.0.113.7", port: 1000 + i * 10 + m, id: m });
  }
}

const dir = await Deno.makeTempDir({ prefix: "olaf-control-bench-" });
const kvStore = await KvSessionStore.open(`${dir}/bench.kv`);
globalThis.addEventListener("unload", () => {
  kvStore.close();
  Deno.removeSync(dir, { recursive: true });
});

async function rendezvousApp(store: SessionStore) {
  const app = createControlApp({ bootstrap: view, store, rateLimit: false });
  const res = await app.request("/games/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench", peerId: "host" }),
  });
  const { token } = await res.json();
  const poll = () =>
    app.request("/games/poll", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        name: "bench",
        peerId: "host",
        addresses: [["203.0.113.7", 40000], ["192.168.1.20", 40000], ["2001:db8::7", 40000]],
      }),
    });
  // Four guests so every poll answer carries some addresses.
  for (let g = 0; g < 4; g++) await poll();
  for (let g = 0; g < 4; g++) {
    await app.request("/games/start", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        name: "bench",
        peerId: `g${g}`,
        addresses: [["198.51.100.4", 50000 + g]],
      }),
    });
  }
  return { app, poll };
}

const memory = await rendezvousApp(new MemorySessionStore());
const kv = await rendezvousApp(kvStore);

Deno.bench("GET /health", { group: "request", baseline: true }, async () => {
  await (await memory.app.request("/health")).arrayBuffer();
});
Deno.bench("GET /stats", { group: "request" }, async () => {
  await (await memory.app.request("/stats")).arrayBuffer();
});
Deno.bench("GET /rooms?limit=100", { group: "request" }, async () => {
  await (await memory.app.request("/rooms?limit=100")).arrayBuffer();
});
Deno.bench("GET /metrics", { group: "request" }, async () => {
  await (await memory.app.request("/metrics")).arrayBuffer();
});
Deno.bench("POST /games/poll (memory store)", { group: "request" }, async () => {
  await (await memory.poll()).arrayBuffer();
});
Deno.bench("POST /games/poll (KV store, temp file)", { group: "request" }, async () => {
  await (await kv.poll()).arrayBuffer();
});

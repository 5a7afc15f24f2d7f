// Read-only routes through app.request(): health, stats, rooms, metrics, events.
import assert from "node:assert/strict";
import { createControlApp } from "./app.ts";
import { MemoryBootstrapView } from "./memory_bootstrap_view.ts";
import { eventually, ManualClock, parseSse, readSse, sendJson } from "./_test_support.ts";

function setup() {
  const clock = new ManualClock();
  const view = new MemoryBootstrapView({ now: clock.now });
  const app = createControlApp({ bootstrap: view, now: clock.now, rateLimit: false });
  return { clock, view, app };
}

const alice = { ip: "203.0.113.7", port: 40000, id: 1 };
const bob = { ip: "198.51.100.4", port: 50000, id: 2 };

Deno.test("GET /health is ok with and without a bootstrap", async () => {
  const { app, clock } = setup();
  clock.advance(1500);
  const res = await app.request("/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    status: "ok",
    version: "0.1.0",
    uptimeMs: 1500,
    bootstrap: true,
  });
  const alone = await (await createControlApp().request("/health")).json();
  assert.equal(alone.status, "ok");
  assert.equal(alone.bootstrap, false);
  const head = await app.request("/health", { method: "HEAD" });
  assert.equal(head.status, 200);
});

Deno.test("without a bootstrap, stats endpoints answer 503 no-bootstrap", async () => {
  const app = createControlApp({ rateLimit: false });
  for (const path of ["/stats", "/rooms", "/rooms/lobby", "/events"]) {
    const res = await app.request(path);
    assert.equal(res.status, 503, path);
    assert.deepEqual(await res.json(), { error: "no-bootstrap", message: "no bootstrap attached" });
  }
});

Deno.test("GET /stats reports the bootstrap's totals", async () => {
  const { app, view, clock } = setup();
  view.join("lobby", alice);
  view.join("lobby", bob);
  view.join("other", alice);
  Object.assign(view.traffic, {
    datagramsIn: 10,
    datagramsOut: 8,
    bytesIn: 170,
    bytesOut: 900,
    drops: { truncated: 2, "rate-limited": 1 },
  });
  clock.advance(2000);
  assert.deepEqual(await (await app.request("/stats")).json(), {
    startedAt: clock.time - 2000,
    uptimeMs: 2000,
    rooms: 2,
    members: 3,
    datagramsIn: 10,
    datagramsOut: 8,
    bytesIn: 170,
    bytesOut: 900,
    drops: { truncated: 2, "rate-limited": 1 },
  });
});

Deno.test("GET /rooms pages through rooms with member counts and activity", async () => {
  const { app, view, clock } = setup();
  for (let i = 0; i < 5; i++) {
    view.join(`room-${i}`, { ...alice, port: 40000 + i });
    clock.advance(10);
  }
  view.join("room-1", bob);
  const all = await (await app.request("/rooms")).json();
  assert.equal(all.total, 5);
  assert.equal(all.offset, 0);
  assert.equal(all.limit, 50);
  assert.equal(all.rooms.length, 5);
  assert.deepEqual(all.rooms[1], {
    name: "room-1",
    memberCount: 2,
    createdAt: clock.time - 40,
    lastActivity: clock.time,
  });
  const page = await (await app.request("/rooms?offset=3&limit=10")).json();
  assert.deepEqual(page.rooms.map((r: { name: string }) => r.name), ["room-3", "room-4"]);
  assert.equal(page.total, 5);
  assert.equal(page.limit, 10);
  const past = await (await app.request("/rooms?offset=99")).json();
  assert.deepEqual(past.rooms, []);
  for (const query of ["limit=0", "limit=501", "offset=-1", "limit=abc", "offset=1.5"]) {
    const res = await app.request(`/rooms?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal((await res.json()).error, "bad-request");
  }
});

Deno.test("GET /rooms/:name lists members with public address, id and last seen", async () => {
  const { app, view, clock } = setup();
  view.join("my room/ü", alice);
  clock.advance(5);
  view.join("my room/ü", bob);
  const res = await app.request(`/rooms/${encodeURIComponent("my room/ü")}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    name: "my room/ü",
    memberCount: 2,
    createdAt: clock.time - 5,
    lastActivity: clock.time,
    members: [
      { ...alice, lastSeen: clock.time - 5 },
      { ...bob, lastSeen: clock.time },
    ],
  });
  const missing = await app.request("/rooms/nope");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "not-found", message: 'no room called "nope"' });
});

/**
 * Checks the Prometheus text exposition format 0.0.4 line by line: every
 * metric has one HELP and one TYPE line before its samples, its samples are
 * together, counters end in `_total`, label values are escaped, values are
 * numbers, and the text ends with a newline.
 */
function assertExposition(text: string): void {
  assert.ok(text.endsWith("\n"), "no final newline");
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
  const sample = new RegExp(`^(${name})(?:\\{${label}(?:,${label})*\\})? (-?\\d+(?:\\.\\d+)?)$`);
  const seen = new Map<string, { help: boolean; type?: string; samples: number }>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (comment) {
      const [, kind, metric, rest] = comment;
      const entry = seen.get(metric) ?? { help: false, samples: 0 };
      assert.equal(entry.samples, 0, `${kind} of ${metric} after its samples`);
      if (kind === "HELP") {
        assert.ok(!entry.help, `two HELP lines for ${metric}`);
        entry.help = true;
      } else {
        assert.equal(entry.type, undefined, `two TYPE lines for ${metric}`);
        assert.match(rest, /^(counter|gauge)$/);
        if (rest === "counter") assert.match(metric, /_total$/, `counter ${metric}`);
        entry.type = rest;
      }
      seen.set(metric, entry);
      current = metric;
      continue;
    }
    const match = sample.exec(line);
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
    const entry = seen.get(match[1]);
    assert.ok(entry?.help && entry.type, `sample of ${match[1]} without HELP and TYPE`);
    assert.equal(current, match[1], `samples of ${match[1]} are not together`);
    entry.samples++;
  }
}

Deno.test("GET /metrics speaks the Prometheus text format", async () => {
  const { app, view, clock } = setup();
  view.join("lobby", alice);
  view.join("lobby", bob);
  Object.assign(view.traffic, {
    datagramsIn: 3,
    datagramsOut: 4,
    bytesIn: 51,
    bytesOut: 60,
    drops: { truncated: 2, 'we"ird\\\nreason': 1 },
  });
  clock.advance(1500);
  await sendJson(app, "POST", "/games/register", { name: "g", peerId: 1 });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  const samples = text.split("\n").filter((line) => line && !line.startsWith("#"));
  for (
    const line of [
      "olaf_bootstrap_attached 1",
      "olaf_rooms 1",
      "olaf_members 2",
      'olaf_datagrams_total{direction="in"} 3',
      'olaf_datagrams_total{direction="out"} 4',
      'olaf_bytes_total{direction="in"} 51',
      'olaf_bytes_total{direction="out"} 60',
      'olaf_drops_total{reason="truncated"} 2',
      'olaf_drops_total{reason="we\\"ird\\\\\\nreason"} 1',
      "olaf_uptime_seconds 1.5",
      "olaf_rendezvous_sessions 1",
      "olaf_http_rate_limited_total 0",
      "olaf_event_streams 0",
    ]
  ) assert.ok(samples.includes(line), `missing ${line} in\n${text}`);
  assertExposition(text);
});

Deno.test("GET /metrics without a bootstrap still reports the rendezvous", async () => {
  const app = createControlApp({ rateLimit: false });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  const text = await res.text();
  assertExposition(text);
  assert.match(text, /^olaf_bootstrap_attached 0$/m);
  assert.match(text, /^olaf_rendezvous_sessions 0$/m);
  assert.doesNotMatch(text, /olaf_rooms/);
});

Deno.test("GET /events streams bootstrap events and unsubscribes on disconnect", async () => {
  const { app, view, clock } = setup();
  const res = await app.request("/events");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  // The opening comment arrives once the subscription is in place.
  assert.match(await readSse(reader, (t) => t.includes("\n\n")), /^: olaf events/);
  assert.equal(view.listenerCount, 1);

  view.join("lobby", alice);
  view.leave("lobby", alice, "expired");
  view.expireRoom("lobby");
  const text = await readSse(reader, (t) => parseSse(t).length >= 4);
  const messages = parseSse(text);
  assert.deepEqual(messages.map((m) => [m.event, m.id]), [
    ["room-created", "1"],
    ["member-joined", "2"],
    ["member-left", "3"],
    ["room-expired", "4"],
  ]);
  assert.deepEqual(JSON.parse(messages[1].data), {
    type: "member-joined",
    room: "lobby",
    member: alice,
    at: clock.time,
  });
  assert.deepEqual(JSON.parse(messages[2].data).reason, "expired");

  await reader.cancel();
  assert.ok(await eventually(() => view.listenerCount === 0), "still subscribed");
});

Deno.test("GET /events tells a slow client how many events it lost", async () => {
  const view = new MemoryBootstrapView();
  const app = createControlApp({ bootstrap: view, rateLimit: false, sseQueueLimit: 2 });
  const reader = (await app.request("/events")).body!.getReader();
  await readSse(reader, (t) => t.includes("\n\n"));
  for (let port = 1; port <= 5; port++) view.join("lobby", { ...alice, port });
  // room-created + 5 joins = 6 events into a queue of 2: the first 4 are lost.
  const messages = parseSse(await readSse(reader, (t) => parseSse(t).length >= 3));
  assert.equal(messages[0].event, "lagged");
  assert.deepEqual(JSON.parse(messages[0].data), { dropped: 4 });
  assert.deepEqual(messages.slice(1).map((m) => JSON.parse(m.data).member.port), [4, 5]);
  await reader.cancel();
  assert.ok(await eventually(() => view.listenerCount === 0));
});

Deno.test("GET /events sends keep-alive comments and ends when the app's signal aborts", async () => {
  const view = new MemoryBootstrapView();
  const stop = new AbortController();
  const app = createControlApp({
    bootstrap: view,
    rateLimit: false,
    sseKeepAliveMs: 10,
    signal: stop.signal,
  });
  const reader = (await app.request("/events")).body!.getReader();
  const text = await readSse(reader, (t) => t.includes(": keep-alive\n\n"));
  assert.ok(text.includes(": keep-alive\n\n"));
  const metrics = await (await app.request("/metrics")).text();
  assert.match(metrics, /^olaf_event_streams 1$/m);
  stop.abort();
  for (let i = 0; i < 100; i++) {
    if ((await reader.read()).done) break;
  }
  assert.equal(view.listenerCount, 0);
  assert.match(await (await app.request("/metrics")).text(), /^olaf_event_streams 0$/m);
});

Deno.test("names echoed in error messages are cut short", async () => {
  const { app } = setup();
  const res = await app.request(`/rooms/${"x".repeat(5000)}`);
  assert.equal(res.status, 404);
  const { message } = await res.json();
  assert.ok(message.length < 120, message);
});

Deno.test("each request is logged at debug level under olaf.control.http", async () => {
  const { configure, reset } = await import("@logtape/logtape");
  const records: { level: string; properties: Record<string, unknown> }[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["olaf", "control", "http"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    const { app } = setup();
    await app.request("/rooms/nope");
    assert.equal(records.length, 1);
    assert.equal(records[0].level, "debug");
    assert.equal(records[0].properties.path, "/rooms/nope");
    assert.equal(records[0].properties.status, 404);
  } finally {
    await reset();
  }
});

Deno.test("GET /stats and /health: the fast path answers exactly what the Hono routes answer", async () => {
  const { app, view } = setup();
  view.join("lobby", alice);
  for (const path of ["/stats", "/health"]) {
    // A query string takes the Hono route; the bare path the fast one (issue 15).
    const fast = await app.request(path);
    const routed = await app.request(`${path}?via=hono`);
    assert.equal(fast.status, 200);
    assert.equal(routed.status, 200);
    assert.deepEqual([...fast.headers], [...routed.headers], path);
    assert.deepEqual(await fast.json(), await routed.json(), path);
  }
});

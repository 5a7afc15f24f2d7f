// The REST rendezvous through app.request(), run against every SessionStore.
import assert from "node:assert/strict";
import fc from "fast-check";
import { createControlApp } from "./app.ts";
import { bearer, ManualClock, openTempKvStore, sendJson, STORE_KINDS } from "./_test_support.ts";
import type { ControlApp } from "./app.ts";
import { KvSessionStore } from "./kv_session_store.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";

const HOST_ADDRS = [["203.0.113.7", 40000], ["192.168.1.20", 40000]];
const GUEST_ADDRS = [["198.51.100.4", 50000]];

async function expectError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `status of ${await res.clone().text()}`);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0);
}

async function register(app: ControlApp, name = "my-game", peerId: string | number = "host-1") {
  const res = await sendJson(app, "POST", "/games/register", { name, peerId });
  assert.equal(res.status, 201);
  return (await res.json()) as { token: string; expiresAt: number; name: string };
}

function poll(app: ControlApp, token: string, name = "my-game", addresses: unknown = HOST_ADDRS) {
  return sendJson(app, "POST", "/games/poll", { name, peerId: "host-1", addresses }, bearer(token));
}

function start(
  app: ControlApp,
  peerId: string | number,
  name = "my-game",
  addresses: unknown = GUEST_ADDRS,
) {
  return sendJson(app, "POST", "/games/start", { name, peerId, addresses });
}

for (const kind of STORE_KINDS) {
  const setup = async (options: { operatorToken?: string; maxGuests?: number } = {}) => {
    const fixture = await kind.open();
    const clock = new ManualClock();
    const app = createControlApp({
      store: fixture.store,
      now: clock.now,
      sessionTtlMs: 60_000,
      rateLimit: false,
      ...options,
    });
    return { app, clock, fixture, store: fixture.store as SessionStore };
  };

  Deno.test(`${kind.name}: register answers 201 with a token, duplicates get 409`, async () => {
    const { app, clock, fixture } = await setup();
    await using _ = fixture;
    const res = await sendJson(app, "POST", "/games/register", { name: "my-game", peerId: 7 });
    assert.equal(res.status, 201);
    const { token, ...rest } = await res.json();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(rest, {
      name: "my-game",
      peerId: 7,
      createdAt: clock.time,
      expiresAt: clock.time + 60_000,
      ttlMs: 60_000,
    });
    await expectError(
      await sendJson(app, "POST", "/games/register", { name: "my-game", peerId: 8 }),
      409,
      "name-taken",
    );
  });

  Deno.test(`${kind.name}: register validates its body`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    const bad: unknown[] = [
      { peerId: 1 },
      { name: "", peerId: 1 },
      { name: "x".repeat(65), peerId: 1 },
      { name: " padded", peerId: 1 },
      { name: "tab\there", peerId: 1 },
      { name: "lone \ud800 surrogate", peerId: 1 },
      { name: "\udfff", peerId: 1 },
      { name: 42, peerId: 1 },
      { name: "ok" },
      { name: "ok", peerId: -1 },
      { name: "ok", peerId: 1.5 },
      { name: "ok", peerId: "" },
      { name: "ok", peerId: "\ud800" },
      { name: "ok", peerId: { id: 1 } },
      [],
      "just a string",
      null,
      7,
    ];
    for (const body of bad) {
      await expectError(
        await sendJson(app, "POST", "/games/register", JSON.stringify(body)),
        400,
        "bad-request",
      );
    }
    await expectError(await sendJson(app, "POST", "/games/register", "{nope"), 400, "invalid-json");
    await expectError(await sendJson(app, "POST", "/games/register", ""), 400, "invalid-json");
  });

  Deno.test(`${kind.name}: guests before the host's first poll are told not-ready`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    await register(app);
    const res = await start(app, "guest-1");
    assert.equal(res.headers.get("retry-after"), "1");
    await expectError(res, 409, "not-ready");
    // The refused guest was not recorded.
    const { token } = await register(app, "other");
    const first = await (await poll(app, token, "other")).json();
    assert.deepEqual(first.addresses, []);
    const host = await (await poll(app, (await register(app, "third")).token, "third")).json();
    assert.equal(host.status, 0);
  });

  Deno.test(`${kind.name}: host polls, guests join, each guest once per poll with [ip, port] arrays`, async () => {
    const { app, clock, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);

    let res = await poll(app, token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      name: "my-game",
      status: 0,
      addresses: [],
      expiresAt: clock.time + 60_000,
    });

    clock.advance(10);
    res = await start(app, "guest-1");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      name: "my-game",
      status: 1,
      peerId: "host-1",
      addresses: HOST_ADDRS,
      updatedAt: clock.time - 10,
    });
    const joinedAt = clock.time;
    clock.advance(10);
    res = await start(app, 2, "my-game", [["2001:DB8::1", 50001], ["198.51.100.5", 50001]]);
    assert.equal(res.status, 200);

    // The host's addresses changed: the next guest gets the latest ones.
    clock.advance(10);
    const moved = [["203.0.113.7", 40001]];
    res = await poll(app, token, "my-game", moved);
    const answer = await res.json();
    assert.equal(answer.status, 1);
    assert.deepEqual(answer.addresses, [
      { peerId: "guest-1", addresses: GUEST_ADDRS, joinedAt, updatedAt: joinedAt },
      {
        peerId: 2,
        addresses: [["2001:db8::1", 50001], ["198.51.100.5", 50001]],
        joinedAt: joinedAt + 10,
        updatedAt: joinedAt + 10,
      },
    ]);
    res = await start(app, "guest-3");
    assert.deepEqual((await res.json()).addresses, moved);

    // A guest that starts again is updated in place, never listed twice.
    clock.advance(10);
    await start(app, "guest-1", "my-game", [["198.51.100.4", 50009]]);
    const again = await (await poll(app, token, "my-game", moved)).json();
    assert.deepEqual(again.addresses.map((g: { peerId: unknown }) => g.peerId), [
      "guest-1",
      2,
      "guest-3",
    ]);
    assert.deepEqual(again.addresses[0].addresses, [["198.51.100.4", 50009]]);
    assert.equal(again.addresses[0].joinedAt, joinedAt);
    assert.equal(again.addresses[0].updatedAt, clock.time);
  });

  Deno.test(`${kind.name}: poll needs the host token and the host peerId`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);
    const body = { name: "my-game", peerId: "host-1", addresses: HOST_ADDRS };
    const res401 = await sendJson(app, "POST", "/games/poll", body);
    assert.match(res401.headers.get("www-authenticate") ?? "", /^Bearer/);
    await expectError(res401, 401, "unauthorized");
    await expectError(
      await sendJson(app, "POST", "/games/poll", body, { Authorization: token }),
      401,
      "unauthorized",
    );
    await expectError(
      await sendJson(app, "POST", "/games/poll", body, { Authorization: "Basic abc" }),
      401,
      "unauthorized",
    );
    await expectError(
      await sendJson(app, "POST", "/games/poll", body, bearer("wrong")),
      403,
      "forbidden",
    );
    await expectError(
      await sendJson(app, "POST", "/games/poll", { ...body, peerId: "host-2" }, bearer(token)),
      403,
      "forbidden",
    );
    await expectError(
      await sendJson(app, "POST", "/games/poll", { ...body, name: "nope" }, bearer(token)),
      404,
      "not-found",
    );
    // The lower-case scheme works too.
    const ok = await sendJson(app, "POST", "/games/poll", body, {
      Authorization: `bearer ${token}`,
    });
    assert.equal(ok.status, 200);
  });

  Deno.test(`${kind.name}: addresses are validated`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);
    await expectError(
      await sendJson(
        app,
        "POST",
        "/games/poll",
        { name: "my-game", peerId: "host-1" },
        bearer(token),
      ),
      400,
      "bad-request",
    );
    const bad: unknown[] = [
      null,
      "203.0.113.7:40000",
      [],
      ["203.0.113.7:40000"],
      [["203.0.113.7", 0]],
      [["203.0.113.7", 65536]],
      [["203.0.113.7", "40000"]],
      [["203.0.113.7", 400.5]],
      [["203.0.113.256", 40000]],
      [["203.0.113", 40000]],
      [["example.com", 40000]],
      [["::1]@evil.example", 40000]],
      [["fe80::1%eth0", 40000]],
      [["203.0.113.7", 40000, 1]],
      [{ ip: "203.0.113.7", port: 40000 }],
      Array.from({ length: 17 }, (_, i) => ["203.0.113.7", 1000 + i]),
    ];
    for (const addresses of bad) {
      await expectError(await poll(app, token, "my-game", addresses), 400, "bad-request");
      await poll(app, token); // keeps the host ready for start()
      await expectError(await start(app, "guest", "my-game", addresses), 400, "bad-request");
    }
    // Sixteen addresses are fine, duplicates collapse, IPv6 comes back canonical.
    const sixteen = Array.from({ length: 16 }, (_, i) => ["203.0.113.7", 1000 + i]);
    assert.equal((await poll(app, token, "my-game", sixteen)).status, 200);
    const res = await start(app, "guest", "my-game", [
      ["::FFFF:127.0.0.1", 5],
      ["0:0:0:0:0:0:0:1", 6],
      ["::1", 6],
    ]);
    assert.equal(res.status, 200);
    const answer = await (await poll(app, token)).json();
    assert.deepEqual(answer.addresses[0].addresses, [["::ffff:7f00:1", 5], ["::1", 6]]);
  });

  Deno.test(`${kind.name}: guests cannot reuse the host peerId, sessions hold maxGuests`, async () => {
    const { app, fixture } = await setup({ maxGuests: 2 });
    await using _ = fixture;
    const { token } = await register(app);
    await poll(app, token);
    await expectError(await start(app, "host-1"), 400, "bad-request");
    assert.equal((await start(app, "a")).status, 200);
    assert.equal((await start(app, "b")).status, 200);
    await expectError(await start(app, "c"), 409, "session-full");
    assert.equal((await start(app, "a")).status, 200); // a known guest may update
    await expectError(await start(app, "a", "unknown"), 404, "not-found");
  });

  Deno.test(`${kind.name}: GET /games lists open sessions, paged`, async () => {
    const { app, clock, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app, "b-game", "h1");
    await register(app, "a-game", "h2");
    await register(app, "c-game", 3);
    await poll(app, token, "b-game");
    await sendJson(app, "POST", "/games/poll", {
      name: "b-game",
      peerId: "h1",
      addresses: HOST_ADDRS,
    }, bearer(token));
    await start(app, "g", "b-game");
    const res = await app.request("/games");
    assert.equal(res.status, 200);
    const all = await res.json();
    assert.equal(all.total, 3);
    assert.equal(all.offset, 0);
    assert.equal(all.limit, 50);
    assert.deepEqual(all.games.map((g: { name: string }) => g.name), [
      "a-game",
      "b-game",
      "c-game",
    ]);
    assert.deepEqual(all.games[1], {
      name: "b-game",
      peerId: "h1",
      createdAt: clock.time,
      expiresAt: clock.time + 60_000,
      ready: true,
      guests: 1,
    });
    assert.equal(all.games[0].ready, false);
    assert.equal(JSON.stringify(all).includes("token"), false);
    const page = await (await app.request("/games?offset=1&limit=1")).json();
    assert.deepEqual(page.games.map((g: { name: string }) => g.name), ["b-game"]);
    assert.equal(page.total, 3);
    for (const query of ["limit=0", "limit=501", "offset=-1", "offset=x", "limit=1e3"]) {
      await expectError(await app.request(`/games?${query}`), 400, "bad-request");
    }
  });

  Deno.test(`${kind.name}: sessions expire after the TTL, polls extend it`, async () => {
    const { app, clock, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);
    clock.advance(50_000);
    assert.equal((await poll(app, token)).status, 200); // now expires at +110 000
    clock.advance(59_999);
    assert.equal((await start(app, "g")).status, 200);
    clock.advance(1);
    await expectError(await poll(app, token), 404, "not-found");
    await expectError(await start(app, "g"), 404, "not-found");
    assert.equal((await (await app.request("/games")).json()).total, 0);
    // The name is free again, for anyone.
    const again = await register(app, "my-game", "someone-else");
    assert.notEqual(again.token, token);
  });

  Deno.test(`${kind.name}: PUT /games/:name renames with the host token`, async () => {
    const { app, clock, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);
    await register(app, "taken", "h9");
    const refused: [path: string, headers: Record<string, string>, status: number, code: string][] =
      [
        ["/games/my-game?newName=x", {}, 401, "unauthorized"],
        ["/games/my-game?newName=x", bearer("nope"), 403, "forbidden"],
        ["/games/unknown?newName=x", bearer(token), 404, "not-found"],
        ["/games/%ZZ?newName=x", bearer(token), 404, "not-found"], // not percent-encoding: a name
        ["/games/my-game", bearer(token), 400, "bad-request"],
        ["/games/my-game?newName=", bearer(token), 400, "bad-request"],
        ["/games/my-game?newName=%20x", bearer(token), 400, "bad-request"],
        [`/games/my-game?newName=${"x".repeat(65)}`, bearer(token), 400, "bad-request"],
        ["/games/my-game?newName=taken", bearer(token), 409, "name-taken"],
      ];
    for (const [path, headers, status, code] of refused) {
      await expectError(await app.request(path, { method: "PUT", headers }), status, code);
    }
    // Renaming to its own name changes nothing but the expiry.
    const same = await app.request("/games/my-game?newName=my-game", {
      method: "PUT",
      headers: bearer(token),
    });
    assert.equal(same.status, 200);
    assert.equal((await same.json()).name, "my-game");
    assert.equal((await poll(app, token)).status, 200);
    const res = await app.request("/games/my-game?newName=new%20name", {
      method: "PUT",
      headers: bearer(token),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      previousName: "my-game",
      name: "new name",
      peerId: "host-1",
      createdAt: clock.time,
      expiresAt: clock.time + 60_000,
      ready: true, // polled just above
      guests: 0,
    });
    await expectError(await poll(app, token), 404, "not-found");
    assert.equal((await poll(app, token, "new name")).status, 200);
    assert.equal((await start(app, "g", "new name")).status, 200);
  });

  Deno.test(`${kind.name}: non-ASCII names round-trip through every route`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    const longest = "🎮".repeat(32); // 64 UTF-16 code units: the limit
    const { token } = await register(app, "jeu é 🎮");
    await register(app, longest, "h2");
    await expectError(
      await sendJson(app, "POST", "/games/register", { name: `${longest}x`, peerId: 1 }),
      400,
      "bad-request",
    );
    const listed = await (await app.request("/games")).json();
    assert.deepEqual(
      listed.games.map((g: { name: string }) => g.name).sort(),
      [
        "jeu é 🎮",
        longest,
      ].sort(),
    );
    const renamed = await app.request(
      `/games/${encodeURIComponent("jeu é 🎮")}?newName=${encodeURIComponent("ゲーム")}`,
      { method: "PUT", headers: bearer(token) },
    );
    assert.equal((await renamed.json()).name, "ゲーム");
    assert.equal((await poll(app, token, "ゲーム")).status, 200);
    const deleted = await app.request(`/games/${encodeURIComponent("ゲーム")}`, {
      method: "DELETE",
      headers: bearer(token),
    });
    assert.deepEqual(await deleted.json(), { name: "ゲーム", deleted: true });
  });

  Deno.test(`${kind.name}: DELETE /games/:name with the host token`, async () => {
    const { app, fixture } = await setup();
    await using _ = fixture;
    const { token } = await register(app);
    const other = await register(app, "other", "h2");
    await expectError(
      await app.request("/games/my-game", { method: "DELETE" }),
      401,
      "unauthorized",
    );
    await expectError(
      await app.request("/games/my-game", { method: "DELETE", headers: bearer(other.token) }),
      403,
      "forbidden",
    );
    const res = await app.request("/games/my-game", { method: "DELETE", headers: bearer(token) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: "my-game", deleted: true });
    await expectError(
      await app.request("/games/my-game", { method: "DELETE", headers: bearer(token) }),
      404,
      "not-found",
    );
    await expectError(await poll(app, token), 404, "not-found");
  });

  Deno.test(`${kind.name}: the operator token may rename and delete any session, not poll`, async () => {
    const { app, fixture } = await setup({ operatorToken: "op-secret" });
    await using _ = fixture;
    const { token } = await register(app);
    const op = bearer("op-secret");
    const renamed = await app.request("/games/my-game?newName=moved", {
      method: "PUT",
      headers: op,
    });
    assert.equal(renamed.status, 200);
    await expectError(
      await sendJson(app, "POST", "/games/poll", {
        name: "moved",
        peerId: "host-1",
        addresses: HOST_ADDRS,
      }, op),
      403,
      "forbidden",
    );
    assert.equal((await poll(app, token, "moved")).status, 200); // the host still owns it
    const deleted = await app.request("/games/moved", { method: "DELETE", headers: op });
    assert.equal(deleted.status, 200);
    assert.equal((await (await app.request("/games")).json()).total, 0);
  });
}

Deno.test("kv: a session grown past KV's 64 KiB value limit is session-full, not a 500", async () => {
  await using fixture = await openTempKvStore();
  const app = createControlApp({ rateLimit: false, store: fixture.store, maxGuests: 1000 });
  const { token } = await register(app);
  await poll(app, token);
  const addresses = Array.from(
    { length: 16 },
    (_, i) => [`2001:db8:ffff:ffff:ffff:ffff:ffff:${i}`, 65535],
  );
  let joined = 0;
  for (; joined < 200; joined++) {
    const res = await start(app, `guest-${"x".repeat(50)}-${joined}`, "my-game", addresses);
    if (res.status !== 200) {
      await expectError(res, 409, "session-full");
      break;
    }
    await res.body?.cancel();
  }
  assert.ok(joined > 32 && joined < 200, `${joined} guests joined`);
  // The session is intact: the host still gets every guest that fitted.
  const answer = await (await poll(app, token)).json();
  assert.equal(answer.addresses.length, joined);
});

Deno.test("rendezvous: a full or busy store answers 503 unavailable with Retry-After", async () => {
  const full = createControlApp({
    rateLimit: false,
    store: new MemorySessionStore({ maxSessions: 1 }),
  });
  await register(full, "first");
  const refused = await sendJson(full, "POST", "/games/register", { name: "second", peerId: 1 });
  assert.equal(refused.headers.get("retry-after"), "30");
  await expectError(refused, 503, "unavailable");

  // A KV database on which every commit loses its race (another writer always wins).
  await using fixture = await openTempKvStore();
  const kv = (fixture.store as KvSessionStore).kv;
  const contended = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => ({
          check() {
            return this;
          },
          set() {
            return this;
          },
          delete() {
            return this;
          },
          commit: () => Promise.resolve({ ok: false }),
        });
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const busy = createControlApp({ rateLimit: false, store: new KvSessionStore(contended) });
  const res = await sendJson(busy, "POST", "/games/register", { name: "g", peerId: 1 });
  assert.equal(res.headers.get("retry-after"), "1");
  await expectError(res, 503, "unavailable");
});

Deno.test("rendezvous: no operator token configured means none is accepted", async () => {
  const app = createControlApp({ rateLimit: false, operatorToken: "" });
  await register(app);
  await expectError(
    await app.request("/games/my-game", { method: "DELETE", headers: bearer("") }),
    401,
    "unauthorized",
  );
  await expectError(
    await app.request("/games/my-game", { method: "DELETE", headers: bearer("undefined") }),
    403,
    "forbidden",
  );
});

Deno.test("rendezvous: content type, body size, methods and unknown routes", async () => {
  const app = createControlApp({ rateLimit: false, maxBodyBytes: 64 });
  await expectError(
    await app.request("/games/register", { method: "POST", body: '{"name":"a","peerId":1}' }),
    415,
    "unsupported-media-type",
  );
  await expectError(
    await app.request("/games/register", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: '{"name":"a","peerId":1}',
    }),
    415,
    "unsupported-media-type",
  );
  const ok = await app.request("/games/register", {
    method: "POST",
    headers: { "Content-Type": "application/json; charset=utf-8" },
    body: '{"name":"a","peerId":1}',
  });
  assert.equal(ok.status, 201);
  const big = JSON.stringify({ name: "b", peerId: "x".repeat(100) });
  await expectError(await sendJson(app, "POST", "/games/register", big), 413, "payload-too-large");
  // Without Content-Length (a stream), the cap applies while reading.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(" ".repeat(20)));
      controller.close();
    },
  });
  await expectError(
    await app.request("/games/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: stream,
    }),
    413,
    "payload-too-large",
  );
  await expectError(
    await app.request("/games/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    }),
    400,
    "invalid-json",
  );

  const res405 = await app.request("/games/register");
  assert.deepEqual(res405.headers.get("allow")?.split(", ").sort(), ["DELETE", "POST", "PUT"]);
  await expectError(res405, 405, "method-not-allowed");
  const health405 = await app.request("/health", { method: "POST" });
  assert.equal(health405.headers.get("allow"), "GET, HEAD");
  await expectError(health405, 405, "method-not-allowed");
  await expectError(await app.request("/games", { method: "DELETE" }), 405, "method-not-allowed");
  await expectError(await app.request("/nowhere"), 404, "not-found");
});

Deno.test("rendezvous: CORS answers preflights and marks responses", async () => {
  const app = createControlApp({ rateLimit: false });
  const preflight = await app.request("/games/register", {
    method: "OPTIONS",
    headers: {
      Origin: "https://game.example",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "content-type, authorization",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  const res = await app.request("/games", { headers: { Origin: "https://game.example" } });
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const error = await app.request("/nowhere", { headers: { Origin: "https://game.example" } });
  assert.equal(error.headers.get("access-control-allow-origin"), "*");
});

Deno.test("rendezvous: a failing store gives a JSON 500 (not bad input)", async () => {
  const broken: SessionStore = {
    get: () => Promise.reject(new Error("disk on fire")),
    insert: () => Promise.reject(new Error("disk on fire")),
    update: () => Promise.reject(new Error("disk on fire")),
    rename: () => Promise.reject(new Error("disk on fire")),
    list: () => Promise.reject(new Error("disk on fire")),
    close: () => Promise.resolve(),
  };
  const app = createControlApp({ rateLimit: false, store: broken });
  const res = await sendJson(app, "POST", "/games/register", { name: "a", peerId: 1 });
  await expectError(res, 500, "internal");
});

for (const kind of STORE_KINDS) {
  Deno.test(`${kind.name}: no JSON body makes any endpoint answer 500 (property)`, async () => {
    await using fixture = await kind.open();
    const app = createControlApp({ rateLimit: false, maxBodyBytes: 4096, store: fixture.store });
    const { token } = await register(app, "fuzz", "h");
    await poll(app, token, "fuzz", HOST_ADDRS);
    const paths = ["/games/register", "/games/poll", "/games/start"];
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({
        name: fc.oneof(fc.constant("fuzz"), fc.string({ unit: "binary" }), fc.jsonValue()),
        peerId: fc.oneof(fc.string({ unit: "binary" }), fc.integer(), fc.double(), fc.jsonValue()),
        addresses: fc.oneof(
          fc.jsonValue(),
          fc.array(
            fc.tuple(
              fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
              fc.oneof(fc.integer(), fc.jsonValue()),
            ),
            {
              maxLength: 20,
            },
          ),
        ),
      }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), body, fc.boolean(), async (path, value, auth) => {
        const res = await sendJson(
          app,
          "POST",
          path,
          JSON.stringify(value),
          auth ? bearer(token) : {},
        );
        assert.ok(res.status < 500, `${path} ${JSON.stringify(value)} -> ${res.status}`);
        const answer = await res.json();
        if (res.status >= 400) assert.equal(typeof answer.error, "string");
      }),
      { numRuns: 300 },
    );
  });
}

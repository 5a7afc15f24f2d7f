import assert from "node:assert/strict";
import { openTempKvStore, STORE_KINDS } from "./_test_support.ts";
import { KvSessionStore } from "./kv_session_store.ts";
import { MemorySessionStore, type SessionRecord } from "./session_store.ts";

function record(
  name: string,
  expiresAt = 10_000,
  extra: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    name,
    peerId: `host-${name}`,
    tokenHash: "ab".repeat(32),
    createdAt: 0,
    updatedAt: 0,
    expiresAt,
    hostAddresses: [],
    polledAt: null,
    guests: [],
    ...extra,
  };
}

for (const kind of STORE_KINDS) {
  Deno.test(`${kind.name} store: insert, get, duplicate and expiry`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    assert.equal(await store.get("a", 0), undefined);
    assert.equal(await store.insert(record("a"), 0), "inserted");
    assert.deepEqual(await store.get("a", 0), record("a"));
    assert.equal(await store.insert(record("a"), 5), "taken");
    // Expired at expiresAt exactly: absent, and the name is free again.
    assert.equal(await store.get("a", 10_000), undefined);
    assert.equal(await store.insert(record("a", 20_000, { peerId: 7 }), 10_000), "inserted");
    assert.equal((await store.get("a", 10_000))?.peerId, 7);
  });

  Deno.test(`${kind.name} store: update replaces, deletes, leaves, and refuses`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    assert.equal(await store.update("a", 0, () => ({ value: 1 })), undefined);
    await store.insert(record("a"), 0);

    const changed = await store.update("a", 1, (current) => ({
      record: { ...current, polledAt: 1, hostAddresses: [["203.0.113.7", 4000]] },
      value: "changed",
    }));
    assert.deepEqual(changed, { value: "changed" });
    assert.deepEqual((await store.get("a", 1))?.hostAddresses, [["203.0.113.7", 4000]]);

    assert.deepEqual(await store.update("a", 1, () => ({ value: 2 })), { value: 2 });
    assert.equal((await store.get("a", 1))?.polledAt, 1);

    await assert.rejects(
      store.update("a", 1, () => {
        throw new Error("refused");
      }),
      /refused/,
    );
    assert.equal((await store.get("a", 1))?.polledAt, 1);

    assert.deepEqual(await store.update("a", 1, () => ({ record: null, value: 0 })), { value: 0 });
    assert.equal(await store.get("a", 1), undefined);
    // An expired session cannot be updated.
    await store.insert(record("b", 100), 0);
    assert.equal(await store.update("b", 100, () => ({ value: 1 })), undefined);
  });

  Deno.test(`${kind.name} store: rename moves, refuses taken names, frees the old one`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    await store.insert(record("a"), 0);
    await store.insert(record("b"), 0);
    await store.insert(record("old", 50), 0);
    assert.equal(await store.rename("missing", "x", 0, (r) => r), "not-found");
    assert.equal(await store.rename("a", "b", 0, (r) => r), "taken");
    await assert.rejects(
      store.rename("a", "c", 0, () => {
        throw new Error("no");
      }),
      /no/,
    );
    assert.ok(await store.get("a", 0));
    assert.equal(await store.get("c", 0), undefined);

    assert.equal(await store.rename("a", "c", 0, (r) => ({ ...r, updatedAt: 9 })), "renamed");
    assert.equal(await store.get("a", 0), undefined);
    const moved = await store.get("c", 0);
    assert.equal(moved?.name, "c");
    assert.equal(moved?.updatedAt, 9);
    // An expired session does not hold its name.
    assert.equal(await store.rename("c", "old", 50, (r) => r), "renamed");
    assert.equal((await store.get("old", 50))?.peerId, "host-a");
  });

  Deno.test(`${kind.name} store: list is sorted by name, paged, without expired`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    for (const name of ["delta", "alpha", "charlie", "bravo"]) await store.insert(record(name), 0);
    await store.insert(record("echo", 10), 0);
    assert.equal((await store.list(9, { offset: 0, limit: 0 })).total, 5);
    const all = await store.list(10, { offset: 0, limit: 100 });
    assert.equal(all.total, 4);
    assert.deepEqual(all.sessions.map((s) => s.name), ["alpha", "bravo", "charlie", "delta"]);
    const page = await store.list(10, { offset: 1, limit: 2 });
    assert.equal(page.total, 4);
    assert.deepEqual(page.sessions.map((s) => s.name), ["bravo", "charlie"]);
    assert.deepEqual((await store.list(10, { offset: 9, limit: 2 })).sessions, []);
  });

  Deno.test(`${kind.name} store: racing inserts of one name, exactly one wins`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.insert(record("race", 10_000, { peerId: i }), 0)),
    );
    assert.equal(results.filter((r) => r === "inserted").length, 1);
    assert.equal(results.filter((r) => r === "taken").length, 11);
  });

  Deno.test(`${kind.name} store: concurrent updates lose nothing`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    await store.insert(record("busy"), 0);
    await Promise.all(Array.from({ length: 10 }, (_, i) =>
      store.update("busy", 0, (current) => ({
        record: {
          ...current,
          guests: [...current.guests, {
            peerId: i,
            addresses: [["198.51.100.1", 1000 + i]],
            joinedAt: 0,
            updatedAt: 0,
          }],
        },
        value: undefined,
      }))));
    const guests = (await store.get("busy", 0))?.guests.map((g) => g.peerId).sort((a, b) =>
      Number(a) - Number(b)
    );
    assert.deepEqual(guests, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  Deno.test(`${kind.name} store: returned records are copies`, async () => {
    await using fixture = await kind.open();
    const { store } = fixture;
    await store.insert(record("a"), 0);
    const copy = await store.get("a", 0);
    copy!.guests.push({ peerId: 1, addresses: [], joinedAt: 0, updatedAt: 0 });
    assert.deepEqual((await store.get("a", 0))?.guests, []);
  });
}

Deno.test("memory store: refuses sessions beyond maxSessions until some expire", async () => {
  const store = new MemorySessionStore({ maxSessions: 2 });
  assert.equal(await store.insert(record("a", 100), 0), "inserted");
  assert.equal(await store.insert(record("b", 200), 0), "inserted");
  assert.equal(await store.insert(record("c"), 50), "full");
  assert.equal(await store.insert(record("c"), 100), "inserted");
});

Deno.test("kv store: sessions survive closing and reopening the database file", async () => {
  await using fixture = await openTempKvStore();
  await fixture.store.insert(record("kept"), 0);
  await fixture.store.close();
  await using reopened = await KvSessionStore.open(fixture.path);
  assert.equal((await reopened.get("kept", 0))?.peerId, "host-kept");
  // Written with expireIn; the entry is also checked against expiresAt on read.
  assert.equal(await reopened.get("kept", 10_000), undefined);
});

Deno.test("kv store: a borrowed handle stays open after close(), prefixes keep stores apart", async () => {
  await using fixture = await openTempKvStore();
  const kv = (fixture.store as KvSessionStore).kv;
  const other = new KvSessionStore(kv, { prefix: ["other"] });
  await other.insert(record("a"), 0);
  assert.equal(await fixture.store.get("a", 0), undefined);
  await other.close();
  assert.equal((await other.get("a", 0))?.name, "a");
  assert.equal((await kv.get(["other", "session", "a"])).value !== null, true);
});

/** Wraps a KV handle so that every `set` of an atomic operation is recorded with its options. */
function recordingKv(kv: Deno.Kv, sets: { key: Deno.KvKey; expireIn?: number }[]): Deno.Kv {
  const recordingOp = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "set") {
            const options = args[2] as { expireIn?: number } | undefined;
            sets.push({ key: args[0] as Deno.KvKey, expireIn: options?.expireIn });
          }
          const result = value.apply(target, args);
          return result === target ? proxy : result; // keep chained calls recorded
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => recordingOp(target.atomic());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("kv store: every write asks KV to expire the entry when the session does", async () => {
  await using fixture = await openTempKvStore();
  const sets: { key: Deno.KvKey; expireIn?: number }[] = [];
  const store = new KvSessionStore(recordingKv((fixture.store as KvSessionStore).kv, sets));
  await store.insert(record("a", 10_000), 0);
  await store.update("a", 4_000, (current) => ({
    record: { ...current, expiresAt: 30_000 },
    value: undefined,
  }));
  await store.rename("a", "b", 5_000, (current) => ({ ...current, expiresAt: 65_000 }));
  assert.deepEqual(sets, [
    { key: ["olaf", "rendezvous", "session", "a"], expireIn: 10_000 },
    { key: ["olaf", "rendezvous", "session", "a"], expireIn: 26_000 },
    { key: ["olaf", "rendezvous", "session", "b"], expireIn: 60_000 },
  ]);
  assert.equal((await store.get("b", 5_000))?.expiresAt, 65_000);
});

import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { encode } from "@olaf/protocol";
import { bindDatagram } from "@olaf/protocol/net";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { decodeEnvelope, encodeEnvelope } from "./_envelope.ts";
import { type OlafNode, startNode } from "./node.ts";
import { eventually } from "@olaf/protocol/testing";

/** Polls `check` until it holds (bounded: 20 s), so the test waits for conditions, not times. */
function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return eventually(check, { what, timeoutMs: 20_000, intervalMs: 20 });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json();
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function swarmOf(names: string[], token?: string) {
  const bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const at = `127.0.0.1:${bootstrap.localAddress.port}`;
  const nodes: OlafNode[] = [];
  for (const name of names) {
    nodes.push(
      await startNode({
        bootstraps: [at],
        room: "test",
        name,
        token,
        retryMs: 100,
        join: { hostname: "127.0.0.1" },
      }),
    );
  }
  await until(
    () => nodes.every((n) => n.members().filter((m) => m.verified).length === names.length - 1),
    "every node to verify every other",
  );
  return {
    bootstrap,
    nodes,
    async [Symbol.asyncDispose]() {
      for (const n of nodes) await n.close();
      await bootstrap.close();
    },
  };
}

Deno.test("envelope: the README's test vectors", () => {
  const hello = encodeEnvelope({
    t: "hello",
    node: "0b6f6c61-6600-4000-8000-000000000001",
    name: "alice",
    ack: false,
  });
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(
    hex(hello),
    "7b226f6c6166223a226e6f64652f31222c2274223a2268656c6c6f222c226e6f6465223a2230623666366336" +
      "312d363630302d343030302d383030302d303030303030303030303031222c226e616d65223a22616c696365" +
      "222c2261636b223a66616c73657d",
  );
  const msg = encodeEnvelope({
    t: "msg",
    node: "0b6f6c61-6600-4000-8000-000000000001",
    name: "alice",
    id: 1,
    at: 0,
    text: "hi",
  });
  assert.equal(
    new TextDecoder().decode(msg),
    '{"olaf":"node/1","t":"msg","node":"0b6f6c61-6600-4000-8000-000000000001",' +
      '"name":"alice","id":1,"at":0,"text":"hi"}',
  );
  assert.deepEqual(decodeEnvelope(msg), {
    t: "msg",
    node: "0b6f6c61-6600-4000-8000-000000000001",
    name: "alice",
    id: 1,
    at: 0,
    text: "hi",
  });
  for (
    const bad of [
      "hi",
      "{}",
      '{"olaf":"node/1","t":"msg","node":"x","name":"a","id":1,"at":0,"text":""}',
      '{"olaf":"node/1","t":"ack","node":"0b6f6c61-6600-4000-8000-000000000001","id":0}',
      '{"olaf":"node/1","t":"hello","node":"0b6f6c61-6600-4000-8000-000000000001","name":"",' +
      '"ack":true}',
    ]
  ) assert.equal(decodeEnvelope(new TextEncoder().encode(bad)), undefined, bad);
});

Deno.test("node HTTP API: status, peers, send to one and to all, inbox cursor, SSE, leave", async () => {
  await using swarm = await swarmOf(["alice", "bob", "carol"]);
  const [alice, bob, carol] = swarm.nodes;

  const status = await json(await fetch(`${alice.url}/`));
  assert.equal(status.message, "Node alice is running!");
  assert.equal(status.node_id, alice.nodeId);
  assert.equal(status.friendly_name, "alice");
  assert.equal(status.room, "test");
  assert.equal((status.self as { port: number }).port, alice.room.self.port);
  const names = (status.peers as { friendly_name: string }[]).map((p) => p.friendly_name).sort();
  assert.deepEqual(names, ["bob", "carol"]);
  assert.equal(typeof status.uptime, "number");
  const peers = await json(await fetch(`${bob.url}/peers`));
  assert.equal((peers.peers as unknown[]).length, 2);

  // SSE on carol, opened before anything is sent.
  const stream = await fetch(`${carol.url}/messages/stream`);
  assert.equal(stream.headers.get("content-type"), "text/event-stream");
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();

  const one = await json(await post(`${alice.url}/message`, { msg: "to bob", to: "bob" }));
  assert.equal(one.status, "sent");
  assert.deepEqual(one.to, [bob.nodeId]);
  const all = await json(await post(`${alice.url}/message`, { msg: "to all" }));
  assert.deepEqual((all.to as string[]).sort(), [bob.nodeId, carol.nodeId].sort());
  const byNodeId = await post(`${bob.url}/message`, { msg: "by id", to: carol.nodeId });
  assert.equal(byNodeId.status, 200);
  await byNodeId.body?.cancel();

  await until(() => bob.inbox().length === 2 && carol.inbox().length === 2, "deliveries");
  const inbox = await json(await fetch(`${bob.url}/messages?after=0`));
  const got = inbox.messages as { seq: number; msg: string; from: Record<string, unknown> }[];
  assert.deepEqual(got.map((m) => m.msg), ["to bob", "to all"]);
  assert.equal(got[0].from.friendly_name, "alice");
  assert.equal(got[0].from.node_id, alice.nodeId);
  assert.equal(got[0].from.port, alice.room.self.port);
  assert.equal(inbox.next, got[1].seq);
  const after = await json(await fetch(`${bob.url}/messages?after=${got[0].seq}`));
  assert.deepEqual((after.messages as { msg: string }[]).map((m) => m.msg), ["to all"]);
  await until(() => alice.stats.acked === 3, "acks for every copy");

  let sse = "";
  while ((sse.match(/event: message/g) ?? []).length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    sse += value;
  }
  assert.match(sse, /"msg":"to all"/);
  assert.match(sse, /"msg":"by id"/);
  assert.match(sse, /"friendly_name":"bob"/);
  await reader.cancel();

  // Bad requests.
  const cases: [Response, number, string][] = [
    [await post(`${alice.url}/message`, { to: "bob" }), 400, "bad-request"],
    [await post(`${alice.url}/message`, "{not json"), 400, "invalid-json"],
    [await post(`${alice.url}/message`, { msg: "x", to: "nobody" }), 404, "unknown-recipient"],
    [await post(`${alice.url}/message`, { msg: "x".repeat(9000) }), 400, "bad-request"],
    [await fetch(`${alice.url}/messages?after=-1`), 400, "bad-request"],
    [await fetch(`${alice.url}/nowhere`), 404, "not-found"],
  ];
  for (const [res, code, error] of cases) {
    assert.equal(res.status, code);
    assert.equal((await json(res)).error, error);
  }

  const left = await json(await post(`${carol.url}/leave`, {}));
  assert.equal(left.status, "left");
  await carol.left;
  await until(() => !alice.members().some((m) => m.friendly_name === "carol"), "carol gone");
  assert.equal((await json(await fetch(`${carol.url}/`))).left, true);
});

Deno.test("node HTTP API: a bearer token protects every route", async () => {
  await using swarm = await swarmOf(["a", "b"], "s3cret-token");
  const [a] = swarm.nodes;
  const none = await fetch(`${a.url}/`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /Bearer/);
  await none.body?.cancel();
  const wrong = await post(`${a.url}/message`, { msg: "x" }, { Authorization: "Bearer nope" });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const right = await fetch(`${a.url}/peers`, {
    headers: { Authorization: "Bearer s3cret-token" },
  });
  assert.equal(right.status, 200);
  assert.equal(((await json(right)).peers as unknown[]).length, 1);
  assert.equal(a.stats.sent, 0); // the refused POST sent nothing
});

Deno.test("verification: non-member datagrams and claims of another node's name are rejected and counted", async () => {
  await using swarm = await swarmOf(["alice", "bob", "carol"]);
  const [alice, bob, carol] = swarm.nodes;
  const target = { hostname: "127.0.0.1", port: bob.room.self.port };
  await using stranger = await bindDatagram({ hostname: "127.0.0.1" });

  // 1. A stranger (never joined, never said hello) sends a message claiming to be alice.
  const forged = (text: string, id: number) =>
    encodeEnvelope({ t: "msg", node: alice.nodeId, name: "alice", id, at: Date.now(), text });
  stranger.send(encode({ type: "APP_R", peers: [], payload: forged("forged-1", 1) }), target);
  await until(() => bob.stats.rejected.non_member === 1, "non-member rejection");

  // 2. The stranger says hello as alice (her node id and name are taken by a live member).
  const hello = encodeEnvelope({ t: "hello", node: alice.nodeId, name: "alice", ack: false });
  stranger.send(encode({ type: "APP_R", peers: [], payload: hello }), target);
  await until(() => bob.stats.rejected.name_claim === 1, "hello name-claim rejection");
  stranger.send(encode({ type: "APP_R", peers: [], payload: forged("forged-2", 2) }), target);
  await until(() => bob.stats.rejected.non_member === 2, "still a non-member");

  // 3. A member (carol) sends a message claiming to be alice.
  carol.room.sendTo(bob.room.self, forged("forged-3", 3));
  await until(() => bob.stats.rejected.name_claim === 2, "member name-claim rejection");
  // ... or keeps her node id but claims alice's name.
  carol.room.sendTo(
    bob.room.self,
    encodeEnvelope({ t: "msg", node: carol.nodeId, name: "alice", id: 9, at: 0, text: "forged-4" }),
  );
  await until(() => bob.stats.rejected.name_claim === 3, "name-only claim rejection");

  // 4. Plain bytes that are no envelope.
  stranger.send(encode({ type: "APP_R", peers: [], payload: new Uint8Array([1, 2, 3]) }), target);
  await until(() => bob.stats.rejected.malformed === 1, "malformed count");

  // A legitimate message still gets through, and nothing forged was delivered.
  const sent = await post(`${alice.url}/message`, { msg: "real", to: "bob" });
  await sent.body?.cancel();
  await until(() => bob.inbox().length === 1, "the real message");
  assert.deepEqual(bob.inbox().map((m) => [m.msg, m.from.friendly_name]), [["real", "alice"]]);
  const stats = await json(await fetch(`${bob.url}/stats`));
  assert.deepEqual(stats.rejected, { non_member: 2, name_claim: 3, malformed: 1 });
});

Deno.test("delivery: on a lossy, duplicating network every message arrives exactly once (app-level acks)", async () => {
  const net = new MemoryNetwork({ seed: 7, delayMs: 5 });
  await using _bootstrap = await startBootstrap({ bind: net.bind, clock: net.clock, port: 5000 });
  const nodes: OlafNode[] = [];
  for (const [i, name] of ["alice", "bob", "carol"].entries()) {
    let node: OlafNode | undefined;
    const starting = startNode({
      bootstraps: ["127.0.0.1:5000"],
      room: "lossy",
      name,
      retryMs: 100,
      join: { bind: net.bind, clock: net.clock, hostname: `10.0.0.${i + 1}` },
    }).then((n) => (node = n));
    assert.ok(await net.runUntil(() => node !== undefined, { timeoutMs: 30_000 }));
    await starting;
    nodes.push(node!);
  }
  try {
    const [alice, bob, carol] = nodes;
    const verified = () => nodes.every((n) => n.members().filter((m) => m.verified).length === 2);
    assert.ok(await net.runUntil(verified, { timeoutMs: 30_000 }), "handshakes");
    // From now on: 30% of datagrams lost, 20% delivered twice.
    net.configure({ loss: 0.3, duplicate: 0.2 });
    for (let i = 0; i < 30; i++) alice.send(`m${i}`);
    const done = () => bob.inbox().length === 30 && carol.inbox().length === 30;
    assert.ok(await net.runUntil(done, { timeoutMs: 60_000 }), "all 30 delivered to both");
    assert.ok(await net.runUntil(() => alice.stats.acked === 60, { timeoutMs: 60_000 }), "acks");
    for (const n of [bob, carol]) {
      // Re-sent messages can overtake others: exactly once, not in order.
      const got = n.inbox().map((m) => Number(m.msg.slice(1))).sort((a, b) => a - b);
      assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i));
      assert.equal(n.stats.received, 30);
    }
    assert.ok(alice.stats.resent > 0, "losses were made up by re-sends");
    assert.equal(alice.stats.undelivered, 0);
    // Duplicated datagrams and re-sends whose ack was lost reached the receivers again.
    assert.ok(bob.stats.duplicates + carol.stats.duplicates > 0, "copies were suppressed");
    assert.equal(bob.stats.rejected.non_member + carol.stats.rejected.non_member, 0);
  } finally {
    net.configure({ loss: 0, duplicate: 0 });
    for (const n of nodes) {
      const closing = n.close();
      await net.advance(10);
      await closing;
    }
  }
});

// Node mode in a secure room over real UDP on loopback: members and messages carry the verified
// public key, senders are verified by Noise, `POST /message` can name a recipient by key, and a
// node with the wrong secret never shows up anywhere.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { encode } from "@olaf/protocol";
import { encodeEnvelope } from "./_envelope.ts";
import { type OlafNode, startNode } from "./node.ts";

const HEX64 = /^[0-9a-f]{64}$/;

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.equal(res.headers.get("content-type")?.split(";")[0], "application/json");
  return await res.json();
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

interface MemberJson {
  friendly_name: string | null;
  verified: boolean;
  publicKey?: string;
}

Deno.test("node in a secure room: keys in the HTTP API, verified_by noise, send by key, a wrong secret never shows up", async () => {
  await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const at = `127.0.0.1:${bootstrap.localAddress.port}`;
  const start = (name: string, secret: string) =>
    startNode({
      bootstraps: [at],
      room: "vault",
      name,
      retryMs: 100,
      join: { hostname: "127.0.0.1", secret },
    });
  await using alice = await start("alice", "the room secret");
  await using bob = await start("bob", "the room secret");
  await using carol = await start("carol", "the room secret");
  await using mallory = await start("mallory", "not the secret");
  const members: OlafNode[] = [alice, bob, carol];
  await until(
    "three verified secure members",
    () => members.every((n) => n.members().filter((m) => m.verified).length === 2),
  );

  // GET /peers: every member carries its public key, and it is the key that node holds.
  const peers = (await json(await fetch(`${alice.url}/peers`))).peers as MemberJson[];
  const byName = new Map(peers.map((p) => [p.friendly_name, p]));
  assert.deepEqual([...byName.keys()].sort(), ["bob", "carol"]);
  assert.match(alice.room.publicKey, HEX64);
  assert.equal(byName.get("bob")!.publicKey, bob.room.publicKey);
  assert.equal(byName.get("carol")!.publicKey, carol.room.publicKey);
  const status = await json(await fetch(`${bob.url}/`));
  assert.ok((status.peers as MemberJson[]).every((p) => HEX64.test(p.publicKey ?? "")));

  // Send to bob by his public key (upper case is accepted too): delivered, verified by noise.
  const sent = await json(
    await post(`${alice.url}/message`, { msg: "by key", to: bob.room.publicKey.toUpperCase() }),
  );
  assert.equal(sent.status, "sent");
  assert.deepEqual(sent.to, [bob.nodeId]);
  await until("bob's message", () => bob.inbox().length === 1);
  const inbox = (await json(await fetch(`${bob.url}/messages?after=0`))).messages as {
    msg: string;
    from: { friendly_name: string; verified_by: string; publicKey: string };
  }[];
  assert.equal(inbox[0].msg, "by key");
  assert.equal(inbox[0].from.friendly_name, "alice");
  assert.equal(inbox[0].from.verified_by, "noise");
  assert.equal(inbox[0].from.publicKey, alice.room.publicKey);
  assert.equal(carol.inbox().length, 0, "sent to bob's key only");

  // Mallory's key is no recipient: 404, and it never became anyone's member.
  const refused = await post(`${alice.url}/message`, { msg: "x", to: mallory.room.publicKey });
  assert.equal(refused.status, 404);
  assert.equal((await refused.json()).error, "unknown-recipient");
  const all = await json(await post(`${carol.url}/message`, { msg: "to all" }));
  assert.deepEqual((all.to as string[]).sort(), [alice.nodeId, bob.nodeId].sort());
  await until("carol's broadcast", () => alice.inbox().length === 1 && bob.inbox().length === 2);
  for (const n of members) {
    const keys = n.members().map((m) => m.publicKey);
    assert.ok(!keys.includes(mallory.room.publicKey), `${n.name} lists mallory`);
    assert.ok(n.inbox().every((m) => m.from.verified_by === "noise"));
  }
  assert.deepEqual(mallory.members(), []);
  assert.equal(mallory.inbox().length, 0);

  // A stranger sending alice a plaintext hello and message (v1 APP_R, as an open room's node
  // would) from its own socket: no member, no delivery.
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: alice.room.self.port };
    const node = crypto.randomUUID();
    for (
      const e of [
        encodeEnvelope({ t: "hello", node, name: "eve", ack: false }),
        encodeEnvelope({ t: "msg", node, name: "eve", id: 1, at: Date.now(), text: "forged" }),
      ]
    ) await socket.send(encode({ type: "APP_R", peers: [], payload: e }), to);
    // Then a real round trip, so the forged datagrams have surely been read before we look.
    await post(`${bob.url}/message`, { msg: "after", to: "alice" }).then((r) => r.body?.cancel());
    await until("bob's second message", () => alice.inbox().length === 2);
  } finally {
    socket.close();
  }
  assert.deepEqual(alice.inbox().map((m) => m.msg), ["to all", "after"]);
  assert.equal(alice.members().length, 2);
});

const cli = new URL("./mod.ts", import.meta.url).pathname;

/** A CLI node in a subprocess; resolves once it printed its `node` event. */
async function spawnNode(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--json", "--hostname", "127.0.0.1", "--http", "0", ...args],
    env: { OLAF_ROOM_SECRET: "the room secret", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!buffer.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the node exited before it started");
    buffer += value;
  }
  const started = JSON.parse(buffer.slice(0, buffer.indexOf("\n")));
  assert.equal(started.event, "node");
  return {
    child,
    url: started.url as string,
    nodeId: started.node_id as string,
    async kill() {
      child.kill("SIGKILL"); // no bye: the room only sees it go quiet
      await child.status;
      await reader.cancel().catch(() => {});
    },
  };
}

Deno.test({
  name: "node in a secure room: a node killed and restarted with its identity file is verified " +
    "again under its new node id (its key's newest hello rebinds it)",
  sanitizeResources: false,
  fn: async () => {
    await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    const at = `127.0.0.1:${bootstrap.localAddress.port}`;
    const dir = await Deno.makeTempDir();
    try {
      await using alice = await startNode({
        bootstraps: [at],
        room: "vault",
        name: "alice",
        retryMs: 100,
        join: { hostname: "127.0.0.1", secret: "the room secret" },
      });
      const args = ["--bootstrap", at, "--room", "vault", "--identity", `${dir}/bob.id`];
      const first = await spawnNode([...args, "--name", "bob"]);
      await until("bob verified", () => alice.members().some((m) => m.node_id === first.nodeId));
      const bobKey = alice.members()[0].publicKey!;
      await first.kill();
      const second = await spawnNode([...args, "--name", "bob"]);
      try {
        await until(
          "the restarted bob verified under its new node id",
          () => alice.members().some((m) => m.node_id === second.nodeId && m.verified),
          60_000,
        );
        const members = alice.members();
        assert.equal(members.length, 1, "one member: the same key");
        assert.equal(members[0].publicKey, bobKey);
        assert.equal(alice.stats.rejected.name_claim, 0);
        const sent = await json(await post(`${alice.url}/message`, { msg: "again", to: bobKey }));
        assert.deepEqual(sent.to, [second.nodeId]);
        await until("the message at the new process", () => alice.stats.acked === 1, 30_000);
        const inbox = (await json(await fetch(`${second.url}/messages?after=0`))).messages as {
          msg: string;
          from: { verified_by: string; publicKey: string };
        }[];
        assert.equal(inbox[0].msg, "again");
        assert.equal(inbox[0].from.publicKey, alice.room.publicKey);
      } finally {
        await second.kill();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

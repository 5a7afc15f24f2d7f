/**
 * Olaf on Node 20: the codec and the peer, bundled with `deno bundle` (no Deno globals survive in
 * the paths they use), run by `node` against a bootstrap this test starts. The Node side checks
 * every v1 vector, resolves the bootstrap's name through node:dns, joins over node:dgram and
 * answers a message from a Deno peer.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { joinRoom, type PeerRecord } from "@olaf/peer";
import { Child, until } from "./_child.ts";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

function event(child: Child, name: string): Promise<Record<string, unknown>> {
  return child.waitForLine(new RegExp(`^\\{"event":"${name}".*$`), `${name} event`)
    .then(([line]) => JSON.parse(line));
}

Deno.test("node: codec vectors, DNS and a peer over node:dgram, from a deno bundle", async () => {
  const version = await new Deno.Command("node", { args: ["--version"] }).output();
  assert.ok(version.success, "node is needed (it also runs npx)");
  const dir = await Deno.makeTempDir({ prefix: "olaf-node-" });
  try {
    const bundle = `${dir}/olaf.mjs`;
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "-o", bundle, "tests/node/entry.ts"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    assert.ok(bundled.success, decoder.decode(bundled.stderr));

    await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    const port = server.localAddress.port;
    await using node = new Child([
      "tests/node/smoke.mjs",
      bundle,
      "tests/fixtures/vectors-v1.json",
      String(port),
      "node-room",
    ], { cwd: ROOT, command: "node" });

    const vectors = await event(node, "vectors");
    assert.deepEqual(vectors, {
      event: "vectors",
      checked: 17,
      failures: [],
      malformedReason: "payload-length-overflow",
    });
    assert.deepEqual(await event(node, "udp"), { event: "udp", implementation: "node" });
    assert.deepEqual((await event(node, "resolved")).address, { hostname: "127.0.0.1", port });
    const nodeSelf = (await event(node, "joined")).self as PeerRecord;

    await using room = await joinRoom("node-room", {
      bootstraps: [`127.0.0.1:${port}`],
      hostname: "127.0.0.1",
      heartbeatMs: 200,
    });
    await until(() => room.peers.some((p) => p.port === nodeSelf.port), "the Node peer");
    const left = new Promise((resolve) => room.onPeerLeave((_peer, why) => resolve(why)));
    const inbox = room.messages()[Symbol.asyncIterator]();
    room.sendTo(room.peers.find((p) => p.port === nodeSelf.port)!, "ping from deno");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      inbox.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply:\n${node.output()}`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(!reply.done);
    assert.equal(reply.value.text(), "pong: ping from deno");
    await event(node, "left");
    assert.equal((await node.process.status).code, 0, node.output());
    assert.equal(await left, "bye");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

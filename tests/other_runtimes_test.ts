/**
 * Olaf on Node 20 and Bun: the four packages bundled with `deno bundle` and run by `node` (and by
 * Bun, `npx -y bun@1.4.4`, pinned like Deno). A bootstrap on the other runtime (node:dgram, with the
 * control plane's Hono app behind node:http), a peer there that first checks every v1 vector, then
 * finds the bootstrap by name through node:dns, joins over node:dgram and answers a Deno peer.
 */
import assert from "node:assert/strict";
import { joinRoom, type PeerRecord } from "@olaf/peer";
import { Child, until } from "./_child.ts";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();
const BUN = "bun@1.4.4";

/** Bundles tests/node/entry.ts (all four packages) into `dir`; returns the file. */
async function bundleInto(dir: string): Promise<string> {
  const bundle = `${dir}/olaf.mjs`;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", bundle, "tests/node/entry.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(bundled.success, decoder.decode(bundled.stderr));
  return bundle;
}

/** The path of a runtime's binary, run directly so that SIGTERM reaches it (not npx). */
async function runtimePath(command: string[]): Promise<string> {
  const output = await new Deno.Command(command[0], {
    args: [...command.slice(1), "-e", "console.log(process.execPath)"],
    stdin: "null",
  }).output();
  assert.ok(output.success, `${command.join(" ")}: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout).trim();
}

function event(child: Child, name: string): Promise<Record<string, unknown>> {
  return child.waitForLine(new RegExp(`^\\{"event":"${name}".*$`), `${name} event`)
    .then(([line]) => JSON.parse(line));
}

async function runtimeSmoke(runtime: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "olaf-runtime-" });
  try {
    const bundle = await bundleInto(dir);

    await using bootstrap = new Child(["tests/node/bootstrap.mjs", bundle], {
      cwd: ROOT,
      command: runtime,
    });
    const listening = await event(bootstrap, "listening");
    const port = listening.udp as number;
    const stats = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${listening.http}${path}`);
      assert.equal(response.status, 200, path);
      return await response.json();
    };
    assert.equal((await stats("/stats")).rooms, 0);
    await using peer = new Child([
      "tests/node/smoke.mjs",
      bundle,
      "tests/fixtures/vectors-v1.json",
      String(port),
      "runtime-room",
    ], { cwd: ROOT, command: runtime });

    const vectors = await event(peer, "vectors");
    assert.deepEqual(vectors, {
      event: "vectors",
      checked: 17,
      failures: [],
      malformedReason: "payload-length-overflow",
    });
    assert.deepEqual(await event(peer, "udp"), { event: "udp", implementation: "node" });
    assert.deepEqual((await event(peer, "resolved")).address, { hostname: "127.0.0.1", port });
    const nodeSelf = (await event(peer, "joined")).self as PeerRecord;

    await using room = await joinRoom("runtime-room", {
      bootstraps: [`127.0.0.1:${port}`],
      hostname: "127.0.0.1",
      heartbeatMs: 200,
    });
    await until(() => room.peers.some((p) => p.port === nodeSelf.port), "the other runtime's peer");
    const summary = await stats("/stats");
    assert.equal(summary.rooms, 1);
    assert.equal(summary.members, 2);
    assert.ok(summary.datagramsIn >= 2);
    const left = new Promise((resolve) => room.onPeerLeave((_peer, why) => resolve(why)));
    const inbox = room.messages()[Symbol.asyncIterator]();
    room.sendTo(room.peers.find((p) => p.port === nodeSelf.port)!, "ping from deno");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      inbox.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply:\n${peer.output()}`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(!reply.done);
    assert.equal(reply.value.text(), "pong: ping from deno");
    await event(peer, "left");
    assert.equal((await peer.process.status).code, 0, peer.output());
    assert.equal(await left, "bye");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("node 20: codec vectors, bootstrap, control app and a peer over node:dgram", async () => {
  const node = await runtimePath(["node"]);
  const version = await new Deno.Command(node, { args: ["--version"] }).output();
  assert.match(decoder.decode(version.stdout), /^v(2\d|[3-9]\d)\./, "Node 20 or newer");
  await runtimeSmoke(node);
});

Deno.test(`bun (${BUN}): the same`, async () => {
  await runtimeSmoke(await runtimePath(["npx", "-y", BUN]));
});

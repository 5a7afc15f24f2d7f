/**
 * The path a user takes: `deno run -A jsr:@olaf/bootstrap` and `import ... from "jsr:@olaf/peer"`,
 * from a folder with no deno.json, against a local JSR registry that `deno publish` filled
 * (tools/jsr_registry.ts). A fresh DENO_DIR means every jsr: module comes from that registry and
 * npm packages from npm, not from the workspace's cache. Without a deno.json there is no
 * `--unstable-net`, so the bootstrap and the peer run on the node:dgram fallback.
 */
import assert from "node:assert/strict";
import { decode, encode } from "@olaf/protocol";
import { bindDatagram, type NetAddress } from "@olaf/protocol/net";
import { joinRoom, type PeerRecord } from "@olaf/peer";
import { startJsrRegistry } from "../tools/jsr_registry.ts";
import { Child, until } from "./_child.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const ROOT = new URL("..", import.meta.url);

/** A one-file tar archive (ustar), the shape `deno publish` uploads. */
function tar(name: string, body: Uint8Array): Uint8Array {
  const header = new Uint8Array(512);
  const put = (at: number, text: string) => header.set(encoder.encode(text), at);
  put(0, name);
  put(100, "0000644\0");
  put(124, body.length.toString(8).padStart(11, "0") + "\0");
  put(136, "00000000000\0");
  put(148, "        "); // checksum field counts as spaces while summing
  put(156, "0");
  put(257, "ustar\u000000");
  put(148, header.reduce((sum, b) => sum + b, 0).toString(8).padStart(6, "0") + "\0 ");
  const out = new Uint8Array(512 + Math.ceil(body.length / 512) * 512 + 1024);
  out.set(header);
  out.set(body, 512);
  return out;
}

function gzip(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
}

/** Fails if a config file in `dir` or above would make this a workspace run. */
async function assertNoConfigAbove(dir: string): Promise<void> {
  for (let at = dir; at !== "/"; at = at.slice(0, at.lastIndexOf("/")) || "/") {
    for (const name of ["deno.json", "deno.jsonc", "package.json"]) {
      const found = await Deno.stat(`${at}/${name}`).then(() => true, () => false);
      assert.ok(!found, `${at}/${name} would be picked up as the config`);
    }
  }
}

const PEER_SCRIPT = `
import { joinRoom } from "jsr:@olaf/peer";
import { resolveUdpImplementation } from "jsr:@olaf/protocol/net";

const [bootstrap, roomName] = Deno.args;
console.log(JSON.stringify({ event: "udp", implementation: resolveUdpImplementation() }));
await using room = await joinRoom(roomName, { bootstraps: [bootstrap], hostname: "127.0.0.1" });
console.log(JSON.stringify({ event: "joined", self: room.self }));
for await (const message of room.messages()) {
  room.sendTo(message.from, "pong: " + message.text());
  console.log(JSON.stringify({ event: "message", from: message.from, text: message.text() }));
  break;
}
`;

Deno.test("jsr path: bootstrap and peer installed from a JSR registry, outside the workspace", async (t) => {
  await using registry = await startJsrRegistry();
  const dir = await Deno.makeTempDir({ prefix: "olaf-jsr-path-" });
  try {
    await assertNoConfigAbove(dir);
    const env = {
      ...Deno.env.toObject(),
      JSR_URL: registry.url,
      DENO_DIR: `${dir}/deno_dir`,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };

    await t.step("the registry holds the rewritten upload", () => {
      assert.deepEqual([...registry.packages.keys()].sort(), [
        "@olaf/bootstrap",
        "@olaf/control",
        "@olaf/peer",
        "@olaf/protocol",
      ]);
      const room = decoder.decode(
        registry.packages.get("@olaf/peer")!.files.get("/room.ts")!.bytes,
      );
      assert.match(room, /from "jsr:@olaf\/protocol@\^0\.1\.0\/net"/);
      assert.match(room, /from "npm:@logtape\/logtape@2\.4\.2"/);
      assert.doesNotMatch(room, /^import[^;]*from "@/m);
      assert.ok(!registry.packages.get("@olaf/peer")!.files.has("/room_test.ts"));
    });

    await t.step(
      "it refuses what jsr.io refuses: a republished version, a wrong config",
      async () => {
        const config = encoder.encode(JSON.stringify({ name: "@olaf/peer", version: "0.1.0" }));
        const upload = (path: string) =>
          fetch(`${registry.url}api/scopes/olaf/packages/${path}?config=/deno.json`, {
            method: "POST",
            body: gzip(tar("./deno.json", config)),
          }).then(async (r) => [r.status, (await r.json()).code]);
        assert.deepEqual(await upload("peer/versions/0.1.0"), [409, "duplicateVersionPublish"]);
        assert.deepEqual(await upload("other/versions/0.1.0"), [400, "configFileNameMismatch"]);
        assert.deepEqual(await upload("peer/versions/0.2.0"), [400, "configFileNameMismatch"]);
        assert.equal(registry.packages.get("@olaf/peer")!.version, "0.1.0");
      },
    );

    await t.step("it holds the files deno publish --dry-run lists", async () => {
      const dryRun = await new Deno.Command(Deno.execPath(), {
        args: ["publish", "--dry-run", "--allow-dirty"],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      assert.ok(dryRun.success, decoder.decode(dryRun.stderr));
      const listed = new Map<string, string[]>();
      let files: string[] = [];
      for (const line of decoder.decode(dryRun.stderr).split("\n")) {
        const pkg = line.match(/^Simulating publish of (@[^@]+)@/);
        if (pkg) listed.set(pkg[1], files = []);
        const file = line.match(/^\s+(file:\/\/\S+) \(/);
        // file:///…/repo/peer/room.ts -> /room.ts
        if (file) files.push(file[1].slice(ROOT.href.length).replace(/^[^/]+/, ""));
      }
      assert.equal(listed.size, 4);
      for (const [name, paths] of listed) {
        assert.deepEqual([...registry.packages.get(name)!.files.keys()].sort(), paths.sort(), name);
      }
    });

    await t.step("deno run -A jsr:@olaf/bootstrap --help (and peer, control)", async () => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "jsr:@olaf/bootstrap", "--help"],
        cwd: dir,
        env,
        stdin: "null",
      }).output();
      const text = decoder.decode(output.stdout);
      assert.equal(output.code, 0, text + decoder.decode(output.stderr));
      assert.match(text, /olaf-bootstrap/);
      assert.match(text, /--max-rooms/);
      assert.match(text, /deno run -A jsr:@olaf\/bootstrap/);
      // It came from the local registry: meta, version meta (checksums), then the modules.
      for (const path of ["meta.json", "0.1.0_meta.json", "0.1.0/mod.ts", "0.1.0/cli.ts"]) {
        assert.ok(registry.served.includes(`/@olaf/bootstrap/${path}`), path);
      }
      assert.ok(registry.served.includes("/@olaf/protocol/0.1.0/codec.ts"));
      // The other two command-line entry points start from JSR too.
      const clis: [string, RegExp][] = [["peer", /--room NAME/], ["control", /olaf control plane/]];
      for (const [pkg, usage] of clis) {
        const other = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `jsr:@olaf/${pkg}`, "--help"],
          cwd: dir,
          env,
          stdin: "null",
        }).output();
        assert.equal(other.code, 0, decoder.decode(other.stderr));
        assert.match(decoder.decode(other.stdout), usage);
      }
    });

    await using bootstrap = new Child(
      ["run", "-A", "jsr:@olaf/bootstrap", "--host", "127.0.0.1", "--port", "0", "--http", "0"],
      { cwd: dir, env },
    );
    const [, ip, portText] = await bootstrap.waitForLine(
      /listening.*?(\d+\.\d+\.\d+\.\d+):(\d+)/,
      "listening line from the bootstrap",
    );
    const bootstrapAddress: NetAddress = { hostname: ip, port: Number(portText) };
    const [controlUrl] = await bootstrap.waitForLine(
      /http:\/\/\d+\.\d+\.\d+\.\d+:\d+/,
      "control plane URL from the bootstrap",
    );

    await t.step("a raw JOIN_B to that bootstrap gets a BOOTSTRAP_R", async () => {
      await using socket = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
      const replies = socket[Symbol.asyncIterator]();
      socket.send(encode({ type: "JOIN_B", peers: [], room: "jsr-raw" }), bootstrapAddress);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reply = await Promise.race([
        replies.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no BOOTSTRAP_R")), 10_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.ok(!reply.done);
      const message = decode(reply.value.data);
      assert.equal(message.type, "BOOTSTRAP_R");
      if (message.type !== "BOOTSTRAP_R") return;
      assert.equal(message.self.port, socket.localAddress.port);
      assert.deepEqual(message.peers.toArray(), [message.self]);
      // The control plane (Hono from npm, resolved outside any workspace) sees the room.
      const room = await fetch(new URL("/rooms/jsr-raw", controlUrl));
      assert.equal(room.status, 200);
      const detail = await room.json();
      assert.equal(detail.members.length, 1, JSON.stringify(detail));
    });

    await t.step(
      "a script importing jsr:@olaf/peer joins it and talks to a workspace peer",
      async () => {
        await Deno.writeTextFile(`${dir}/peer.ts`, PEER_SCRIPT);
        const spec = `${ip}:${bootstrapAddress.port}`;
        await using script = new Child(["run", "-A", "peer.ts", spec, "jsr-room"], {
          cwd: dir,
          env,
        });
        const [, udp] = await script.waitForLine(
          /"event":"udp".*"implementation":"(\w+)"/,
          "udp line",
        );
        assert.equal(udp, "node", "outside a workspace there is no --unstable-net");
        const [joinedLine] = await script.waitForLine(/^\{"event":"joined".*$/, "joined line");
        const scriptSelf = JSON.parse(joinedLine).self as PeerRecord;

        await using room = await joinRoom("jsr-room", {
          bootstraps: [spec],
          hostname: "127.0.0.1",
          heartbeatMs: 200,
        });
        const inbox = room.messages()[Symbol.asyncIterator]();
        await until(() => room.peers.some((p) => p.port === scriptSelf.port), "the script's peer");
        const left = new Promise((resolve) => room.onPeerLeave((_peer, why) => resolve(why)));
        room.sendTo(room.peers.find((p) => p.port === scriptSelf.port)!, "ping");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const reply = await Promise.race([
          inbox.next(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no reply:\n${script.output()}`)), 15_000);
          }),
        ]).finally(() => clearTimeout(timer));
        assert.ok(!reply.done);
        assert.equal(reply.value.text(), "pong: ping");
        assert.equal(reply.value.from.port, scriptSelf.port);
        await script.waitForLine(/"event":"message".*"text":"ping"/, "the script's message line");
        assert.equal((await script.process.status).code, 0, script.output());
        assert.equal(await left, "bye");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsr path: in its first day a release needs --minimum-dependency-age=0", async () => {
  // Deno 2.9 skips versions younger than 24 hours by default; jsr.io reports the publish time.
  await using registry = await startJsrRegistry({ createdAt: new Date() });
  const dir = await Deno.makeTempDir({ prefix: "olaf-jsr-fresh-" });
  try {
    const env = {
      ...Deno.env.toObject(),
      JSR_URL: registry.url,
      DENO_DIR: `${dir}/deno_dir`,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };
    const run = (...flags: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", ...flags, "jsr:@olaf/bootstrap", "--help"],
        cwd: dir,
        env,
        stdin: "null",
      }).output();
    const refused = await run();
    assert.equal(refused.success, false);
    assert.match(decoder.decode(refused.stderr), /minimum dependency age/);
    const allowed = await run("--minimum-dependency-age=0");
    assert.ok(allowed.success, decoder.decode(allowed.stderr));
    assert.match(decoder.decode(allowed.stdout), /olaf-bootstrap/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

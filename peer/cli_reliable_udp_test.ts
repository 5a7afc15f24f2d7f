import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { eventually } from "@olaf/protocol/testing";
import { buildLossy, lossySkipReason } from "../tests/_lossy.ts";

const cli = new URL("mod.ts", import.meta.url).pathname;

const skip = lossySkipReason();
if (skip !== undefined) console.warn(`skipping the lossy.c CLI test: ${skip}`);

/** A CLI peer in `--json` mode under lossy.c; its stdout lines parsed as they come. */
function spawnPeer(env: Record<string, string>, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--json", "--hostname", "127.0.0.1", ...args],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        events.push(JSON.parse(buffer.slice(0, i)));
        buffer = buffer.slice(i + 1);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  return { child, events, reading, stderr };
}

function until(condition: () => boolean, what: string, ms = 60_000): Promise<void> {
  return eventually(condition, { what, timeoutMs: ms, intervalMs: 50 });
}

Deno.test({
  name:
    "cli --reliable over real UDP with lossy.c (30% of sends dropped on both peers): 200 lines and a multi-datagram line arrive once, in order, whole",
  ignore: skip !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "olaf-cli-lossy-" });
    await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    try {
      const so = await buildLossy(dir);
      const env = (name: string) => ({
        LD_PRELOAD: so,
        LOSSY_P: "0.3",
        LOSSY_LOG: `${dir}/${name}.log`,
        NO_COLOR: "1",
      });
      const common = [
        "--room",
        "lossy",
        "--bootstrap",
        `127.0.0.1:${bootstrap.localAddress.port}`,
        "--heartbeat",
        "0.5",
        "--timeout",
        "10",
        "--join-timeout",
        "30",
      ];
      const receiver = spawnPeer(env("receiver"), common);
      const sender = spawnPeer(env("sender"), [...common, "--reliable"]);
      const joined = (p: typeof receiver) => p.events.some((e) => e.event === "peer-joined");
      await until(() => joined(receiver) && joined(sender), "both peers to see each other");

      const big = "x".repeat(5000) + "!"; // over 4 datagrams of 1200 bytes
      const lines = [...Array.from({ length: 200 }, (_, i) => `line ${i}`), big];
      const writer = sender.child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
      await writer.close(); // the sender leaves once every line was acknowledged
      const messages = () => receiver.events.filter((e) => e.event === "message");
      await until(() => messages().length >= lines.length, "all lines at the receiver", 120_000);
      const status = await sender.child.status;
      await sender.reading;
      assert.equal(status.code, 0, await sender.stderr);
      assert.deepEqual(sender.events.filter((e) => e.event === "error"), []);

      await new Promise((r) => setTimeout(r, 500)); // late duplicates would show up here
      await receiver.child.stdin.close();
      await receiver.child.status;
      await receiver.reading;
      await receiver.stderr;
      assert.deepEqual(messages().map((m) => m.data), lines);
      assert.ok(messages().every((m) => m.reliable === true));
      for (const name of ["receiver", "sender"]) {
        const log = await Deno.readTextFile(`${dir}/${name}.log`);
        const dropped = [...log.matchAll(/dropped (\d+)/g)].map((m) => Number(m[1]));
        assert.ok(dropped.length > 0 && dropped.every((d) => d > 0), `${name}: ${log}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

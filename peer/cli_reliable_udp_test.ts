import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { eventually } from "@olaf/protocol/testing";
import { buildLossy, lossySkipReason } from "../tests/_lossy.ts";
import { spawnCliPeer } from "../tests/_cli_peer.ts";

const skip = lossySkipReason();
if (skip !== undefined) console.warn(`skipping the lossy.c CLI test: ${skip}`);

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
      const receiver = spawnCliPeer(common, env("receiver"));
      const sender = spawnCliPeer([...common, "--reliable"], env("sender"));
      const joined = (p: typeof receiver) => p.events.some((e) => e.event === "peer-joined");
      await until(() => joined(receiver) && joined(sender), "both peers to see each other");

      const big = "x".repeat(5000) + "!"; // over 4 datagrams of 1200 bytes
      const lines = [...Array.from({ length: 200 }, (_, i) => `line ${i}`), big];
      await sender.type(lines.join("\n"));
      const senderEnd = sender.close(); // the sender leaves once every line was acknowledged
      const messages = () => receiver.events.filter((e) => e.event === "message");
      await until(() => messages().length >= lines.length, "all lines at the receiver", 120_000);
      const { code, stderr } = await senderEnd;
      assert.equal(code, 0, stderr);
      assert.deepEqual(sender.events.filter((e) => e.event === "error"), []);

      await new Promise((r) => setTimeout(r, 500)); // late duplicates would show up here
      await receiver.close();
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

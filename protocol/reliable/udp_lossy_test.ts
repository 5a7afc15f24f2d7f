import assert from "node:assert/strict";
import { buildLossy, lossySkipReason } from "../../tests/_lossy.ts";

const root = new URL("../../", import.meta.url);
Deno.test({
  name:
    "reliable over real UDP: 200 ordered messages through lossy.c at 30% loss on both ends arrive once, in order, intact",
  ignore: lossySkipReason() !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "olaf-lossy-" });
    try {
      const so = await buildLossy(dir);
      const log = `${dir}/lossy.log`;
      const env = { LD_PRELOAD: so, LOSSY_P: "0.3", LOSSY_LOG: log, NO_COLOR: "1" };
      const script = new URL("tests/reliable_udp_peer.ts", root).pathname;
      const run = (args: string[], stdin: "piped" | "null") =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script, ...args],
          cwd: root,
          env,
          stdin,
          stdout: "piped",
          stderr: "inherit",
        }).spawn();

      const receiver = run(["--listen"], "piped");
      const lines: Record<string, unknown>[] = [];
      const reading = (async () => {
        let buffer = "";
        for await (const chunk of receiver.stdout.pipeThrough(new TextDecoderStream())) {
          buffer += chunk;
          for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
            lines.push(JSON.parse(buffer.slice(0, i)));
            buffer = buffer.slice(i + 1);
          }
        }
      })();
      for (let i = 0; i < 600 && lines.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const port = lines[0]?.port;
      assert.equal(typeof port, "number", "the receiver printed its port");

      const sender = run(["--to", String(port), "--count", "200"], "null");
      const senderOut = new TextDecoder().decode((await sender.output()).stdout);
      // The receiver has printed everything it delivered before the sender saw the last ACK.
      for (let i = 0; i < 100 && lines.length < 201; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await receiver.stdin.close(); // it exits, and lossy.c logs its counts
      await receiver.status;
      await reading;

      assert.match(senderOut, /"delivered":200,"failed":0/, senderOut);
      const stats = JSON.parse(senderOut.trim().split("\n").at(-1)!);
      assert.ok(stats.fast + stats.rto > 0, "the sender had to retransmit");
      const got = lines.slice(1);
      assert.deepEqual(got.map((l) => l.n), Array.from({ length: 200 }, (_, n) => n));
      assert.ok(got.every((l) => l.ok === true), "every message intact");
      const drops = [...(await Deno.readTextFile(log)).matchAll(/dropped (\d+)/g)].map((m) =>
        Number(m[1])
      );
      assert.ok(drops.length === 2 && drops.every((d) => d > 0), `lossy.c dropped: ${drops}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

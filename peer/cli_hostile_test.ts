import assert from "node:assert/strict";
import { main } from "./cli.ts";
import { memoryIo } from "../tests/_cli_peer.ts";

Deno.test("cli: --help shows the hostile-input limits with their defaults", async () => {
  const x = memoryIo();
  assert.equal(await main(["--help"], x), 0);
  const help = x.lines.join("\n");
  assert.match(help, /--probe-rate N .*\n.*\(default 100; 0: no limit\)/);
  assert.match(help, /--strangers-per-heartbeat N\n(.*\n)*.*\(default 64; 0: no limit\)/);
});

Deno.test("cli: a bad --probe-rate or --strangers-per-heartbeat is a usage error", async () => {
  for (const [flag, value] of [["--probe-rate", "-1"], ["--strangers-per-heartbeat", "x"]]) {
    const x = memoryIo();
    const status = await main(["--room", "r", "--bootstrap", "127.0.0.1:5000", flag!, value!], x);
    assert.equal(status, 2);
    assert.match(x.errors[0]!, new RegExp(`^olaf-peer: ${flag} must be 0\\.\\.1000000, got`));
  }
});

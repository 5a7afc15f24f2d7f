import assert from "node:assert/strict";
import { type CliIo, main } from "./cli.ts";

function io(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    lines,
    errors,
  };
}

Deno.test("cli: --help shows the hostile-input limits with their defaults", async () => {
  const x = io();
  assert.equal(await main(["--help"], x), 0);
  const help = x.lines.join("\n");
  assert.match(help, /--probe-rate N .*\n.*\(default 100; 0: no limit\)/);
  assert.match(help, /--strangers-per-heartbeat N\n(.*\n)*.*\(default 64; 0: no limit\)/);
});

Deno.test("cli: a bad --probe-rate or --strangers-per-heartbeat is a usage error", async () => {
  for (const [flag, value] of [["--probe-rate", "-1"], ["--strangers-per-heartbeat", "x"]]) {
    const x = io();
    const status = await main(["--room", "r", "--bootstrap", "127.0.0.1:5000", flag!, value!], x);
    assert.equal(status, 2);
    assert.match(x.errors[0]!, new RegExp(`^olaf-peer: ${flag} must be 0\\.\\.1000000, got`));
  }
});

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

Deno.test("cli: --help prints the usage and exits 0", async () => {
  const x = io();
  assert.equal(await main(["--help"], x), 0);
  assert.match(x.lines.join("\n"), /--bootstrap HOST:PORT/);
  assert.match(x.lines.join("\n"), /--json/);
});

Deno.test("cli: bad arguments exit 2 with a message saying what is wrong", async () => {
  const cases: [string[], RegExp][] = [
    [["--room", "x"], /--bootstrap HOST:PORT is required/],
    [["--bootstrap", "127.0.0.1:5000"], /--room NAME is required/],
    [["--room", "x", "--bootstrap", "nowhere"], /bad address "nowhere"/],
    [["--room", "x", "--bootstrap", "127.0.0.1:5000", "--port", "70000"], /--port/],
    [["--room", "x", "--bootstrap", "127.0.0.1:5000", "--timeout", "-1"], /--timeout/],
    [["--room", "x", "--bootstrap", "127.0.0.1:5000", "--log-level", "loud"], /log-level/],
    [["--frobnicate"], /frobnicate/],
    [["--room", "x".repeat(1001), "--bootstrap", "127.0.0.1:5000"], /over 1000 UTF-8 bytes/],
    [
      ["--room", "x", "--bootstrap", "127.0.0.1:5000", "--heartbeat", "3", "--timeout", "2.5"],
      /peerTimeoutMs \(2500\) must be longer than heartbeatMs \(3000\)/,
    ],
  ];
  for (const [args, why] of cases) {
    const x = io();
    assert.equal(await main(args, x), 2, args.join(" "));
    assert.match(x.errors.join("\n"), why);
  }
});

Deno.test("cli: --json reports an argument the peer machine refuses as an error event", async () => {
  const x = io();
  const status = await main([
    "--json",
    "--room",
    "x",
    "--bootstrap",
    "127.0.0.1:5000",
    "--timeout",
    "1",
  ], x);
  assert.equal(status, 2);
  assert.equal(x.lines.length, 1);
  const event = JSON.parse(x.lines[0]!);
  assert.equal(event.event, "error");
  assert.match(event.message, /peerTimeoutMs \(1000\) must be longer than heartbeatMs \(3000\)/);
});

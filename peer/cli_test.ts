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
  ];
  for (const [args, why] of cases) {
    const x = io();
    assert.equal(await main(args, x), 2, args.join(" "));
    assert.match(x.errors.join("\n"), why);
  }
});

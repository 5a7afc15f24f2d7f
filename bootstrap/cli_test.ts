import assert from "node:assert/strict";
import { decode, encode } from "@olaf/protocol";
import { bindDatagram } from "@olaf/protocol/net";

const root = new URL("..", import.meta.url);

function command(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bootstrap/mod.ts", ...args],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await command(args).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** Asserts a failed run printed one clear line (plus the usage hint), no stack trace. */
function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.match(lines[0]!, pattern);
  assert.ok(lines.length <= 2, stderr);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
}

/** Spawns the CLI and waits for its start-up line. */
async function spawn(args: string[]) {
  const child = command(args).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    buffered += value;
  }
  return {
    child,
    line: buffered.split("\n")[0]!,
    /** Sends `signal`; resolves with the exit status and what was printed after the first line. */
    async stop(signal: Deno.Signal = "SIGTERM") {
      child.kill(signal);
      let stdout = buffered.slice(buffered.indexOf("\n") + 1);
      for (let r = await lines.read(); !r.done; r = await lines.read()) stdout += r.value;
      const status = await child.status;
      const stderr = await new Response(child.stderr).text();
      return { status, stdout, stderr };
    },
  };
}

Deno.test("CLI --help prints usage, flags and examples", async () => {
  const { code, stdout } = await run(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--host",
      "--port",
      "--timeout",
      "--max-rooms",
      "--max-members",
      "--http",
      "--config",
      "--log-level",
    ]
  ) {
    assert.match(stdout, new RegExp(flag));
  }
  assert.match(stdout, /Examples:/);
});

Deno.test("CLI: bad flags and bad config give one line and exit code 2", async () => {
  let result = await run(["--port", "70000"]);
  assert.equal(result.code, 2);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: --port must be 0\.\.65535, got 70000$/,
  );

  result = await run(["--nope"]);
  assert.equal(result.code, 2);
  assertOneLineError(result.stderr, /^olaf-bootstrap: unknown option --nope$/);
  assert.equal(result.stderr.trim().split("\n")[1], "Run with --help for usage.");

  // A negative number is a value out of range, not an "ambiguous" flag.
  result = await run(["--port", "-5"]);
  assert.equal(result.code, 2);
  assertOneLineError(result.stderr, /^olaf-bootstrap: --port must be 0\.\.65535, got -5$/);
  result = await run(["--timeout", "-1"]);
  assert.equal(result.code, 2);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: --timeout must be a positive number of seconds, got -1$/,
  );

  result = await run(["--config", "/does/not/exist.json"]);
  assert.equal(result.code, 2);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: cannot read config file \/does\/not\/exist.json/,
  );

  const bad = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(bad, "{ port: 1");
    result = await run(["--config", bad]);
    assert.equal(result.code, 2);
    assertOneLineError(result.stderr, /is not valid JSON/);
    await Deno.writeTextFile(bad, JSON.stringify({ "max-rooms": 0 }));
    result = await run(["--config", bad]);
    assert.equal(result.code, 2);
    assertOneLineError(result.stderr, /--max-rooms must be 1\.\./);
    await Deno.writeTextFile(bad, JSON.stringify({ rooms: 5 }));
    result = await run(["--config", bad]);
    assertOneLineError(result.stderr, /unknown key "rooms"/);
  } finally {
    await Deno.remove(bad);
  }
});

Deno.test("CLI: an address in use gives one line and exit code 1", async () => {
  await using taken = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
  const result = await run(["--host", "127.0.0.1", "--port", String(taken.localAddress.port)]);
  assert.equal(result.code, 1);
  assertOneLineError(
    result.stderr,
    new RegExp(
      `^olaf-bootstrap: cannot listen on UDP 127.0.0.1:${taken.localAddress.port}: address already in use$`,
    ),
  );
});

Deno.test("CLI: an address it cannot bind or a malformed host is one line and exit 1", async () => {
  // 192.0.2.1 (TEST-NET-1) is on no interface of a test machine.
  let result = await run(["--host", "192.0.2.1", "--port", "0"]);
  assert.equal(result.code, 1);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: cannot listen on UDP 192\.0\.2\.1:0: address not available on this machine$/,
  );
  // .invalid never resolves (RFC 6761): the resolver's words, not its internals.
  result = await run(["--host", "boot.invalid", "--port", "0"]);
  assert.equal(result.code, 1);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: cannot listen on UDP boot\.invalid:0: (no such host|DNS look-up failed)$/,
  );
  result = await run(["--host", "bad..name", "--port", "0"]);
  assert.equal(result.code, 1);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: cannot listen on UDP bad\.\.name:0: not a valid host name$/,
  );
});

Deno.test("CLI: --version prints the program and package version", async () => {
  const { code, stdout } = await run(["--version"]);
  assert.equal(code, 0);
  const { version } = JSON.parse(await Deno.readTextFile(new URL("deno.json", import.meta.url)));
  assert.equal(stdout, `olaf-bootstrap ${version}\n`);
});

Deno.test("CLI: an HTTP port in use gives one line and exit code 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await run([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    String(taken.addr.port),
  ]);
  assert.equal(result.code, 1);
  assertOneLineError(
    result.stderr,
    new RegExp(
      `^olaf-bootstrap: cannot listen on HTTP 127.0.0.1:${taken.addr.port}: address already in use$`,
    ),
  );
});

Deno.test("CLI: start-up line, serves UDP and the control plane, stops cleanly on SIGTERM", async () => {
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(config, JSON.stringify({ host: "127.0.0.1", port: 0, "max-rooms": 3 }));
  const server = await spawn([
    "--config",
    config,
    "--max-rooms",
    "7",
    "--max-members",
    "9",
    "--timeout",
    "2.5",
    "--http",
    "0",
    "--log-level",
    "warning",
  ]);
  try {
    const match = server.line.match(
      /^olaf bootstrap listening on udp:\/\/127\.0\.0\.1:(\d+) \(control plane (http:\/\/127\.0\.0\.1:\d+\/)\) rooms<=7 members<=9 timeout=2.5s$/,
    );
    assert.ok(match, server.line);
    const udpPort = Number(match[1]);

    await using client = await bindDatagram({ hostname: "127.0.0.1" });
    client.send(encode({ type: "JOIN_B", peers: [], room: "cli" }), {
      hostname: "127.0.0.1",
      port: udpPort,
    });
    for await (const { data } of client) {
      assert.equal(decode(data).type, "BOOTSTRAP_R");
      break;
    }
    const response = await fetch(new URL("/stats", match[2]));
    const stats = await response.json();
    assert.equal(stats.rooms, 1);
    assert.equal(stats.members, 1);
  } finally {
    const { status, stdout, stderr } = await server.stop("SIGTERM");
    await Deno.remove(config);
    assert.equal(status.code, 0, stderr);
    assert.equal(stderr, "");
    assert.equal(stdout, "", "--log-level warning keeps the info lines out");
  }
});

Deno.test("CLI: SIGINT stops it too", async () => {
  const server = await spawn(["--host", "127.0.0.1", "--port", "0"]);
  assert.match(
    server.line,
    /^olaf bootstrap listening on udp:\/\/127\.0\.0\.1:\d+ rooms<=10 members<=1000 timeout=15s$/,
  );
  const { status, stdout } = await server.stop("SIGINT");
  assert.equal(status.code, 130, "Ctrl-C exits 130, as shells expect");
  // The default log level (info) shows the stop through LogTape.
  assert.match(stdout, /stopping on "SIGINT"/);
  assert.match(stdout, /stopped after \d+ s: 0 datagrams in, 0 out/);
});

Deno.test("main() runs in-process and stops on its abort signal", async () => {
  const { main } = await import("./cli.ts");
  const stop = new AbortController();
  let port = 0;
  const code = await main(["--host", "127.0.0.1", "--port", "0", "--log-level", "error"], {
    signal: stop.signal,
    handleSignals: false,
    onListening: (server) => {
      port = server.localAddress.port;
      stop.abort();
    },
  });
  assert.equal(code, 0);
  assert.notEqual(port, 0);
});

/** Runs `deno task start` the way `npx deno task start` does: under npm's `sh -c`, npm's env. */
async function startTask(viaShell: boolean) {
  const task = [
    Deno.execPath(),
    "task",
    "start",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "0",
  ];
  // `; true` keeps sh from exec-ing deno, as npm's sh does not either.
  const args = viaShell ? ["sh", "-c", `"$@"; true`, "sh", ...task] : task;
  const child = new Deno.Command(args[0]!, {
    args: args.slice(1),
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1", npm_command: "exec" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let match;
  while (!(match = out.match(/udp:\/\/127\.0\.0\.1:(\d+)/))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`task ended before listening: ${out}`);
    out += value;
  }
  return { child, reader, port: Number(match[1]) };
}

/** True once nothing holds the UDP port (bounded polling: a loaded machine is slow, not stuck). */
async function portFreed(port: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    try {
      const socket = await bindDatagram({ hostname: "127.0.0.1", port });
      await socket.close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return false;
}

for (const viaShell of [false, true]) {
  const how = viaShell ? "npx's sh -c, which does not pass it on" : "deno task directly";
  Deno.test(`CLI: SIGTERM through ${how} stops the bootstrap`, async () => {
    const { child, reader, port } = await startTask(viaShell);
    child.kill("SIGTERM");
    assert.ok(await portFreed(port), `UDP port ${port} still in use: the bootstrap kept running`);
    // Every process holding the pipe (sh, deno task, the bootstrap) has exited: EOF.
    for (let r = await reader.read(); !r.done; r = await reader.read());
    await child.status;
  });
}

// --- issue 12: every bootstrap limit is a flag and a config key, shown in /metrics ---
Deno.test("CLI: --requests-per-second 0 switches the rate limit off: 60 JOIN_B from one source, 60 replies", async () => {
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    config,
    JSON.stringify({ "request-burst": 0, "reply-budget": 512, "session-quota": 5 }),
  );
  const server = await spawn([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "0",
    "--config",
    config,
    "--requests-per-second",
    "0",
    "--member-timeout",
    "7",
    "--max-event-streams",
    "3",
    "--log-level",
    "warning",
  ]);
  try {
    const match = server.line.match(/udp:\/\/127\.0\.0\.1:(\d+) \(control plane (http:\S+\/)\)/);
    assert.ok(match, server.line);
    const target = { hostname: "127.0.0.1", port: Number(match[1]) };
    await using client = await bindDatagram({ hostname: "127.0.0.1" });
    const sent = 60; // past the default burst of 40
    for (let i = 0; i < sent; i++) {
      client.send(encode({ type: "JOIN_B", peers: [], room: `burst-${i % 5}` }), target);
    }
    let answered = 0;
    const deadline = setTimeout(() => void client.close(), 20_000);
    try {
      for await (const { data } of client) {
        if (decode(data).type === "BOOTSTRAP_R") answered++;
        if (answered === sent) break;
      }
    } finally {
      clearTimeout(deadline);
    }
    assert.equal(answered, sent);

    const metrics = await (await fetch(new URL("/metrics", match[2]))).text();
    assert.match(metrics, /^olaf_bootstrap_limit\{name="requestsPerSecond"\} \+Inf$/m);
    assert.match(metrics, /^olaf_bootstrap_limit\{name="requestBurst"\} \+Inf$/m);
    assert.match(metrics, /^olaf_bootstrap_limit\{name="replyBudgetBytes"\} 512$/m);
    assert.match(metrics, /^olaf_bootstrap_limit\{name="memberTimeoutMs"\} 7000$/m);
    assert.match(metrics, /^olaf_bootstrap_limit\{name="maxRooms"\} 10$/m);
    assert.match(metrics, /^olaf_control_limit\{name="max-event-streams"\} 3$/m);
    assert.match(metrics, /^olaf_control_limit\{name="session-quota"\} 5$/m);
    assert.doesNotMatch(metrics, /^olaf_drops_total\{reason="rate-limited"\} [1-9]/m);
  } finally {
    const { status, stderr } = await server.stop("SIGTERM");
    await Deno.remove(config);
    assert.equal(status.code, 0, stderr);
  }
});

Deno.test("CLI: every limit flag is in --help; bad limit values are one line and exit 2", async () => {
  const { stdout } = await run(["--help"]);
  for (
    const flag of [
      "--requests-per-second",
      "--request-burst",
      "--reply-bytes-per-second",
      "--reply-bytes-burst",
      "--max-tracked-sources",
      "--max-room-name-bytes",
      "--max-datagram-bytes",
      "--reply-budget",
      "--member-timeout",
      "--max-event-streams",
      "--session-quota",
      "--rate-limit-refill",
    ]
  ) {
    assert.match(stdout, new RegExp(`^  ${flag} `, "m"));
  }
  let result = await run(["--requests-per-second", "-5"]);
  assert.equal(result.code, 2);
  result = await run(["--request-burst", "lots"]);
  assert.equal(result.code, 2);
  assertOneLineError(
    result.stderr,
    /^olaf-bootstrap: --request-burst must be a number >= 0 \(0 = off\)/,
  );
  result = await run(["--reply-budget", "0"]);
  assert.equal(result.code, 2);
  assertOneLineError(result.stderr, /^olaf-bootstrap: --reply-budget must be 1\.\.\d+, got 0/);
  result = await run(["--session-quota", "0"]);
  assert.equal(result.code, 2);
  assertOneLineError(result.stderr, /^olaf-bootstrap: --session-quota must be an integer >= 1/);
});

// The command line, run as a user would: `deno run -A control/mod.ts ...`.
import assert from "node:assert/strict";
import { parseConfig, parseDuration } from "./_cli.ts";

const MOD = new URL("./mod.ts", import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

const decoder = new TextDecoder();

Deno.test("cli: --help prints usage and exits 0", async () => {
  const out = await run(["--help"]).output();
  assert.equal(out.code, 0);
  const text = decoder.decode(out.stdout);
  for (
    const flag of ["--host", "--port", "--kv", "--operator-token", "--session-ttl", "--log-level"]
  ) {
    assert.ok(text.includes(flag), flag);
  }
});

Deno.test("cli: configuration errors give one clear line and a non-zero exit", async () => {
  for (
    const [args, pattern] of [
      [["--port", "70000"], /--port must be 0\.\.65535, got 70000$/],
      [["--port", "-5"], /--port must be 0\.\.65535, got -5$/],
      [["--bogus"], /bogus/],
      [["--session-ttl", "soon"], /--session-ttl: not a duration/],
      [["--log-level", "loud"], /--log-level must be one of/],
      [["extra"], /extra/],
    ] as const
  ) {
    const out = await run([...args]).output();
    assert.equal(out.code, 2, args.join(" "));
    const lines = decoder.decode(out.stderr).trimEnd().split("\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /^olaf-control: /);
    assert.match(lines[0]!, pattern);
    assert.equal(lines[1], "Run with --help for usage.");
  }
});

Deno.test("cli: serves with --kv and the operator token from the environment, stops on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "olaf-control-cli-" });
  const child = run(
    ["--host", "127.0.0.1", "--port", "0", "--kv", `${dir}/db.kv`, "--session-ttl", "5m"],
    { OLAF_OPERATOR_TOKEN: "op-secret" },
  ).spawn();
  try {
    // The one start-up line names the URL.
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/listening on (http:\S+)/.test(text)) {
      const { done, value } = await lines.read();
      if (done) break;
      text += value;
    }
    const url = text.match(/listening on (http:\S+)/)?.[1];
    assert.ok(url, text);
    assert.match(text, /sessions: kv .*db\.kv, operator token: on/);

    const registered = await fetch(new URL("/games/register", url), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "g", peerId: 1 }),
    });
    const { ttlMs } = await registered.json();
    assert.equal(ttlMs, 300_000);
    const deleted = await fetch(new URL("/games/g", url), {
      method: "DELETE",
      headers: { Authorization: "Bearer op-secret" },
    });
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();

    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0);
    lines.releaseLock();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a busy port is one clear line and exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const out = await run(["--host", "127.0.0.1", "--port", String(listener.addr.port)]).output();
  assert.equal(out.code, 1);
  assert.match(
    decoder.decode(out.stderr),
    /^olaf-control: cannot listen on 127\.0\.0\.1:\d+: address already in use\n$/,
  );
});

Deno.test("cli: --version prints the program and package version", async () => {
  const out = await run(["--version"]).output();
  assert.equal(out.code, 0);
  const { version } = JSON.parse(await Deno.readTextFile(new URL("deno.json", import.meta.url)));
  assert.equal(decoder.decode(out.stdout), `olaf-control ${version}\n`);
});

/** Spawns the CLI, returns its first stdout line, then stops it with `signal`. */
async function startAndStop(args: string[], signal: Deno.Signal) {
  const child = run(args).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  child.kill(signal);
  const status = await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  await child.stderr.cancel();
  return { line: text.split("\n")[0]!, code: status.code };
}

Deno.test("cli: the start-up line names the address really bound; Ctrl-C exits 130", async () => {
  const { line, code } = await startAndStop(["--host", "0.0.0.0", "--port", "0"], "SIGINT");
  assert.match(
    line,
    /listening on http:\/\/0\.0\.0\.0:\d+\/ \(all interfaces; locally http:\/\/127\.0\.0\.1:\d+\/\)/,
  );
  assert.equal(code, 130);
});

Deno.test("cli: --kv without --unstable-kv names the flag", async () => {
  // Outside the workspace nothing turns KV on: run with no config, imports mapped by hand.
  const dir = await Deno.makeTempDir({ prefix: "olaf-control-nokv-" });
  try {
    const root = new URL("..", import.meta.url);
    const { imports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
    const protocol = JSON.parse(await Deno.readTextFile(new URL("protocol/deno.json", root)));
    for (const [entry, path] of Object.entries(protocol.exports as Record<string, string>)) {
      imports[`@olaf/protocol${entry.slice(1)}`] = new URL(path, new URL("protocol/", root)).href;
    }
    await Deno.writeTextFile(`${dir}/import_map.json`, JSON.stringify({ imports }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-config",
        "--no-lock",
        "--unstable-net",
        `--import-map=${dir}/import_map.json`,
        MOD,
        "--port",
        "0",
        "--kv",
        `${dir}/db.kv`,
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    assert.equal(
      decoder.decode(out.stderr),
      "olaf-control: --kv needs Deno KV, which is behind a flag: run deno with --unstable-kv " +
        "(deno run -A --unstable-kv ...)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: parseDuration and parseConfig", () => {
  assert.equal(parseDuration("90"), 90_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.throws(() => parseDuration("0"), /at least 1ms/);
  assert.throws(() => parseDuration("-1s"));
  assert.throws(() => parseDuration("5 minutes"));
  const noEnv = () => undefined;
  assert.deepEqual(parseConfig([], noEnv), {
    hostname: "0.0.0.0",
    port: 8080,
    kvPath: undefined,
    operatorToken: undefined,
    sessionTtlMs: 600_000,
    logLevel: "info",
    limits: {},
  });
  assert.equal(parseConfig(["-h"], noEnv), "help");
  const env = (name: string) => (name === "OLAF_OPERATOR_TOKEN" ? "from-env" : undefined);
  assert.equal((parseConfig([], env) as { operatorToken?: string }).operatorToken, "from-env");
  const flag = parseConfig(["--operator-token", "from-flag"], env) as { operatorToken?: string };
  assert.equal(flag.operatorToken, "from-flag");
});

// --- issue 12: every limit is a flag and a config key, shown in /metrics ---
Deno.test("cli: every limit has a flag in --help, a config key, and a gauge in /metrics", async () => {
  const { CONTROL_LIMITS } = await import("./limits.ts");
  const help = decoder.decode((await run(["--help"]).output()).stdout);
  for (const limit of CONTROL_LIMITS) assert.ok(help.includes(`--${limit.flag} `), limit.flag);

  const dir = await Deno.makeTempDir({ prefix: "olaf-control-limits-" });
  await Deno.writeTextFile(
    `${dir}/limits.json`,
    JSON.stringify({ "session-quota": 3, "session-ttl": "2m", "max-event-streams": 99 }),
  );
  const child = run([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--config",
    `${dir}/limits.json`,
    "--max-event-streams",
    "7",
    "--rate-limit-refill",
    "0",
  ]).spawn();
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/listening on (http:\S+)/.test(text)) {
      const { done, value } = await lines.read();
      if (done) break;
      text += value;
    }
    const url = text.match(/listening on (http:\S+)/)?.[1];
    assert.ok(url, text);
    const metrics = await (await fetch(new URL("/metrics", url))).text();
    assert.match(metrics, /^olaf_control_limit\{name="session-quota"\} 3$/m); // config file
    assert.match(metrics, /^olaf_control_limit\{name="session-ttl"\} 120000$/m);
    assert.match(metrics, /^olaf_control_limit\{name="max-event-streams"\} 7$/m); // flag wins
    assert.match(metrics, /^olaf_control_limit\{name="rate-limit-refill"\} 0$/m); // off
    assert.match(metrics, /^olaf_control_limit\{name="body-timeout"\} 10000$/m); // default
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    lines.releaseLock();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: bad limits are one clear line and exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "olaf-control-limits-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ "stream-cap": 1 }));
    for (
      const [args, pattern] of [
        [["--session-quota", "0"], /--session-quota must be an integer >= 1/],
        [["--max-event-streams", "many"], /--max-event-streams must be an integer/],
        [["--body-timeout", "soon"], /--body-timeout: not a duration/],
        [["--config", `${dir}/bad.json`], /unknown key "stream-cap"/],
      ] as const
    ) {
      const out = await run([...args]).output();
      assert.equal(out.code, 2, args.join(" "));
      const stderr = decoder.decode(out.stderr).trimEnd();
      // One error line, then the usage hint (the CLIs' one error style).
      assert.deepEqual(stderr.split("\n").slice(1), ["Run with --help for usage."], stderr);
      assert.match(stderr.split("\n")[0]!, pattern);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

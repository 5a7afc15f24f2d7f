import assert from "node:assert/strict";
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket } from "@olaf/protocol/net";
import { main } from "./cli.ts";
import { memoryIo } from "../tests/_cli_peer.ts";
import { eventually } from "@olaf/protocol/testing";

Deno.test("cli: --help prints the usage and exits 0", async () => {
  const x = memoryIo();
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
    [
      ["--room", "x".repeat(256), "--bootstrap", "127.0.0.1:5000"],
      /^olaf-peer: --room is 256 UTF-8 bytes; bootstraps accept at most 255$/,
    ],
    [
      ["--room", "x", "--bootstrap", "127.0.0.1:5000", "--port", "-5"],
      /^olaf-peer: --port must be 0\.\.65535, got -5$/,
    ],
    [
      ["--room", "x", "--bootstrap", "127.0.0.1:5000", "--heartbeat", "3", "--timeout", "2.5"],
      /peerTimeoutMs \(2500\) must be longer than heartbeatMs \(3000\)/,
    ],
  ];
  for (const [args, why] of cases) {
    const x = memoryIo();
    assert.equal(await main(args, x), 2, args.join(" "));
    assert.match(x.errors[0]!, why);
    // One style: the program's name, the message, the hint; no usage dump.
    assert.equal(x.errors.length, 2, x.errors.join("\n"));
    assert.match(x.errors[0]!, /^olaf-peer: \S/);
    assert.equal(x.errors[1], "Run with --help for usage.");
  }
});

Deno.test("cli: --json reports an argument the peer machine refuses as an error event", async () => {
  const x = memoryIo();
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

Deno.test("cli: --version prints the program and package version", async () => {
  const x = memoryIo();
  assert.equal(await main(["--version"], x), 0);
  const { version } = JSON.parse(await Deno.readTextFile(new URL("deno.json", import.meta.url)));
  assert.deepEqual(x.lines, [`olaf-peer ${version}`]);
});

Deno.test("cli: a --hostname it cannot bind is one line and exit 1, no stack trace", async () => {
  const cases: [string, RegExp][] = [
    // 192.0.2.1 (TEST-NET-1) is on no interface of a test machine.
    [
      "192.0.2.1",
      /^olaf-peer: cannot bind UDP 192\.0\.2\.1:0: address not available on this machine$/,
    ],
    ["bad..name", /^olaf-peer: cannot bind UDP bad\.\.name:0: not a valid host name$/],
  ];
  for (const [hostname, why] of cases) {
    const x = memoryIo();
    const status = await main([
      "--room",
      "x",
      "--bootstrap",
      "127.0.0.1:5000",
      "--hostname",
      hostname,
    ], x);
    assert.equal(status, 1, hostname);
    assert.equal(x.errors.length, 1, x.errors.join("\n"));
    assert.match(x.errors[0]!, why);
  }
});

Deno.test("cli: an unresolvable bootstrap is one plain line", async () => {
  const x = memoryIo();
  // .invalid never resolves (RFC 6761); without a resolver the look-up fails instead.
  assert.equal(await main(["--room", "x", "--bootstrap", "boot.invalid:5000"], x), 1);
  assert.equal(x.errors.length, 1, x.errors.join("\n"));
  assert.match(
    x.errors[0]!,
    /^olaf-peer: cannot resolve boot\.invalid: (no such host|DNS look-up failed|DNS look-up timed out)$/,
  );
});

/** A bootstrap on loopback that answers every JOIN_B with everyone it has seen in the room. */
async function fakeBootstrap(): Promise<DatagramSocket> {
  const members: PeerRecord[] = [];
  const socket: DatagramSocket = await bindDatagram({
    hostname: "127.0.0.1",
    port: 0,
    onDatagram(data, from) {
      if (decode(data).type !== "JOIN_B") return;
      let me = members.find((m) => m.ip === from.hostname && m.port === from.port);
      if (!me) members.push(me = { ip: from.hostname, port: from.port, id: members.length + 1 });
      socket.send(encode({ type: "BOOTSTRAP_R", peers: members, self: me }), from);
    },
  });
  return socket;
}

/** A CLI run whose stdin the test controls. */
function interactive() {
  const x = memoryIo();
  let input!: ReadableStreamDefaultController<Uint8Array>;
  const interrupt = new AbortController();
  x.stdin = new ReadableStream({ start: (c) => void (input = c) });
  x.interrupt = interrupt.signal;
  return { ...x, x, close: () => input.close(), interrupt: () => interrupt.abort() };
}

function until(condition: () => boolean, what: string): Promise<void> {
  return eventually(condition, { what, timeoutMs: 10_000, intervalMs: 20 });
}

Deno.test("cli: text mode says it is joining, prints leave reasons, exits 130 on Ctrl-C", async () => {
  await using boot = await fakeBootstrap();
  const bootstrap = `127.0.0.1:${boot.localAddress.port}`;
  const args = ["--room", "lobby", "--bootstrap", bootstrap, "--hostname", "127.0.0.1"];
  const alice = interactive();
  const bob = interactive();
  const aliceDone = main([...args, "--heartbeat", "0.2", "--timeout", "1"], alice.x);
  await until(() => alice.lines.some((l) => l.startsWith("* joined")), "alice joined");
  assert.equal(alice.lines[0], `* joining "lobby" via ${bootstrap}...`);
  const bobDone = main(args, bob.x);
  await until(() => alice.lines.some((l) => / joined$/.test(l)), "alice sees bob");
  bob.close(); // Ctrl-D: bob says bye
  assert.equal(await bobDone, 0);
  await until(() => alice.lines.some((l) => / left \(bye\)$/.test(l)), alice.lines.join("\n"));
  alice.interrupt(); // Ctrl-C
  assert.equal(await aliceDone, 130);
  assert.deepEqual(alice.errors, []);
});

Deno.test("cli: Ctrl-C while joining exits 130 with one line", async () => {
  // A bound socket that never answers: the join waits until interrupted.
  await using silent = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
  const x = interactive();
  const done = main(["--room", "x", "--bootstrap", `127.0.0.1:${silent.localAddress.port}`], x.x);
  await until(() => x.lines.length > 0, "joining line");
  x.interrupt();
  assert.equal(await done, 130);
  assert.deepEqual(x.errors, ["olaf-peer: interrupted before joining"]);
});

Deno.test("cli: SIGINT to the process before joining exits 130", async () => {
  await using silent = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("mod.ts", import.meta.url).pathname,
      "--room",
      "x",
      "--bootstrap",
      `127.0.0.1:${silent.localAddress.port}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("joining")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  assert.match(out, /^\* joining "x" via 127\.0\.0\.1:\d+\.\.\.$/m);
  child.kill("SIGINT");
  const status = await child.status;
  // Cancel through the reader: pipeThrough keeps child.stdout locked until the pipe ends.
  await reader.cancel();
  await child.stdin.close().catch(() => {});
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 130, stderr);
  assert.equal(stderr, "olaf-peer: interrupted before joining\n");
});

Deno.test("cli: a refused join is printed once (no log line before the final line)", async () => {
  const boot: DatagramSocket = await bindDatagram({
    hostname: "127.0.0.1",
    port: 0,
    onDatagram: (data, from) => {
      if (decode(data).type === "JOIN_B") {
        boot.send(encode({ type: "ROOM_FULL", peers: [], payload: new Uint8Array() }), from);
      }
    },
  });
  await using _boot = boot;
  const x = memoryIo();
  const status = await main(
    ["--room", "x", "--bootstrap", `127.0.0.1:${boot.localAddress.port}`],
    x,
  );
  assert.equal(status, 1);
  assert.equal(x.errors.length, 1, x.errors.join("\n"));
  assert.match(x.errors[0]!, /^olaf-peer: .*full/i);
});

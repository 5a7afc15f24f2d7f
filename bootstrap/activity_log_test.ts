import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket, type NetAddress } from "@olaf/protocol/net";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { ActivityLog } from "./_activity_log.ts";
import { startBootstrap } from "./server.ts";

const root = new URL("..", import.meta.url);

/** The CLI as a child process, its stdout collected as it comes. */
function spawnCli(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bootstrap/mod.ts", ...args],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stdout = "";
  const pumped = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) stdout += chunk;
  })();
  const stderr = new Response(child.stderr).text();
  return {
    get stdout() {
      return stdout;
    },
    /** Waits (bounded) until stdout matches `pattern`; returns the match. */
    async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = stdout.match(pattern);
        if (match) return match;
        if (Date.now() > deadline) assert.fail(`no ${pattern} in stdout:\n${stdout}`);
        await delay(20);
      }
    },
    async stop(): Promise<{ code: number; stdout: string; stderr: string }> {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await pumped;
      return { code: status.code, stdout, stderr: await stderr };
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function join(room: string): Uint8Array {
  return encode({ type: "JOIN_B", peers: [], room });
}

async function udpClient(): Promise<DatagramSocket> {
  return await bindDatagram({ hostname: "127.0.0.1", port: 0, onDatagram: () => {} });
}

/** Lines LogTape's console sink wrote at info (`INF`). */
function infoLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => / INF /.test(line));
}

Deno.test("CLI logs rooms created and expired, refusals and limits at info, and summarises a flood", async () => {
  const cli = spawnCli([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "0",
    "--max-rooms",
    "1",
    "--max-members",
    "1",
    "--timeout",
    "3",
  ]);
  let stopped = false;
  try {
    const [, port, http] = await cli.waitFor(
      /listening on udp:\/\/127\.0\.0\.1:(\d+) \(control plane (http:\S+\/)\)/,
    );
    const server: NetAddress = { hostname: "127.0.0.1", port: Number(port) };
    await using alice = await udpClient();
    await using bob = await udpClient();
    await using flooder = await udpClient();

    alice.send(join("alpha"), server);
    await cli.waitFor(/ INF olaf·bootstrap·activity room "alpha" created \(1 room now\)/);

    // One room allowed: a second room is refused; one member allowed: so is a second member.
    // (Both sent at once: the room must still exist, 3 s after its creation at most.)
    bob.send(join("beta"), server);
    bob.send(join("alpha"), server);
    await cli.waitFor(/refusing new rooms: the room limit \(1\) is reached, joins get ROOM_FULL/);
    await cli.waitFor(/refusing members: a room is at the member limit \(1\)/);

    // A flood from one source: 2,000 datagrams, in bounded batches.
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 100; i++) flooder.send(new Uint8Array([0]), server);
      await delay(2);
    }
    await cli.waitFor(/rate limiting: sources over their request rate have datagrams dropped/);

    // Alice never refreshes, so the room expires after the 3 s timeout.
    await cli.waitFor(
      / INF olaf·bootstrap·activity room "alpha" expired after \d+ s \(0 rooms now\)/,
    );

    // Wait until the server has read everything that reached it, then read its totals.
    let stats = await (await fetch(new URL("/stats", http))).json();
    for (let i = 0; i < 100; i++) {
      await delay(50);
      const again = await (await fetch(new URL("/stats", http))).json();
      if (again.datagramsIn === stats.datagramsIn) break;
      stats = again;
    }
    assert.ok(stats.datagramsIn >= 1000, `only ${stats.datagramsIn} datagrams arrived`);

    const result = await cli.stop();
    stopped = true;
    assert.equal(result.code, 0, result.stderr);
    // The summary on stop counts the whole flood (with the minute's summary too, should this
    // run have taken over a minute on a loaded machine)...
    const summaries = [
      ...result.stdout.matchAll(
        /INF olaf·bootstrap·activity last \d+ s: (\d+) datagrams in \(\d+ B\), (\d+) out .*/g,
      ),
    ];
    assert.ok(summaries.length >= 1 && summaries.length <= 2, result.stdout);
    const counted = summaries.reduce((sum, match) => sum + Number(match[1]), 0);
    assert.equal(counted, stats.datagramsIn);
    if (summaries.length === 1) {
      const summary = summaries[0]![0];
      assert.match(summary, /rooms 0 \(\+1 -1\); members 0 \(\+1 -1\)/);
      assert.match(summary, /refused ROOM_FULL: 1 room-limit, 1 member-limit/);
      assert.match(summary, /limits hit: \d+ rate-limited/);
    }
    // ...in a handful of lines, not one per datagram.
    const lines = infoLines(result.stdout);
    assert.ok(lines.length <= 12, `${lines.length} info lines:\n${result.stdout}`);
    assert.equal(lines.filter((line) => /rate limiting/.test(line)).length, 1);
  } finally {
    if (!stopped) await cli.stop();
  }
});

Deno.test("CLI at --log-level debug logs each datagram in and out", async () => {
  const cli = spawnCli(["--host", "127.0.0.1", "--port", "0", "--log-level", "debug"]);
  try {
    const [, port] = await cli.waitFor(/listening on udp:\/\/127\.0\.0\.1:(\d+)/);
    await using peer = await udpClient();
    const from = `127.0.0.1:${peer.localAddress.port}`;
    peer.send(join("lobby"), { hostname: "127.0.0.1", port: Number(port) });
    await cli.waitFor(
      new RegExp(`DBG olaf·bootstrap·datagram in from ${from}: JOIN_B room "lobby", 0 peers, 12 B`),
    );
    await cli.waitFor(
      new RegExp(`DBG olaf·bootstrap·datagram out to ${from}: BOOTSTRAP_R with 1 peer, 23 B`),
    );
    await cli.waitFor(new RegExp(`member ${from} \\(id \\d+\\) joined room "lobby"`));
    peer.send(new Uint8Array([1, 0]), { hostname: "127.0.0.1", port: Number(port) });
    await cli.waitFor(/in from \S+: JOIN_B, 2 B, malformed \("truncated-header"\)/);
    await cli.waitFor(new RegExp(`dropped from ${from}: truncated-header`));
  } finally {
    const result = await cli.stop();
    assert.equal(result.code, 0, result.stderr);
  }
});

/** Runs `body` with LogTape capturing the `test-activity` category. */
async function capturing(body: (records: LogRecord[]) => Promise<void>): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["test-activity"], lowestLevel: "info", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await body(records);
  } finally {
    await reset();
  }
}

function text(record: LogRecord): string {
  // Odd indexes are the values, which the console sink shows quoted like this.
  return record.message.map((part, i) => i % 2 === 1 ? JSON.stringify(part) : part).join("");
}

Deno.test("activity log on the in-memory network: one summary per busy interval, none when idle, limits re-announced after a quiet interval", async () => {
  await capturing(async (records) => {
    const net = new MemoryNetwork({ startTime: 1_763_700_000_000 });
    await using server = await startBootstrap({
      bind: net.bind,
      clock: net.clock,
      port: 5000,
      maxRooms: 2,
      roomTimeoutMs: 5_000,
    });
    const activity = new ActivityLog({
      clock: net.clock,
      summaryMs: 10_000,
      checkMs: 1_000,
      maxRoomLinesPerCheck: 3,
      category: ["test-activity"],
    });
    activity.start(server);
    await using peer = await net.bind({ hostname: "10.0.0.7", onDatagram: () => {} });
    const lines = () => records.map(text);

    // Five rooms asked for, two allowed: two "created" lines, one refusal line (not three).
    for (const room of ["a", "b", "c", "d", "e"]) peer.send(join(room), server.localAddress);
    await net.advance(1_000);
    assert.deepEqual(lines(), [
      'room "a" created (1 room now)',
      'room "b" created (2 rooms now)',
      "refusing new rooms: the room limit (2) is reached, joins get ROOM_FULL " +
      "(3 so far, the summary line counts the rest)",
    ]);
    // The same limit hit again within the interval: counted, not logged.
    peer.send(join("f"), server.localAddress);
    await net.advance(5_000);
    assert.deepEqual(lines().slice(3), [
      'room "a" expired after 5 s (1 room now)',
      'room "b" expired after 5 s (0 rooms now)',
    ]);
    await net.advance(4_000);
    assert.equal(lines().length, 6);
    assert.equal(
      lines()[5],
      "last 10 s: 6 datagrams in (48 B), 6 out (74 B); rooms 0 (+2 -2); members 0 (+2 -2); " +
        "refused ROOM_FULL: 4 room-limit",
    );
    assert.equal(records[5]!.properties.datagramsIn, 6);

    // An idle interval logs nothing.
    await net.advance(10_000);
    assert.equal(lines().length, 6);

    // Quiet for a whole interval, the limit is announced again when it comes back.
    for (const room of ["g", "h", "i"]) peer.send(join(room), server.localAddress);
    await net.advance(1_000);
    assert.deepEqual(lines().slice(6), [
      'room "g" created (1 room now)',
      'room "h" created (2 rooms now)',
      "refusing new rooms: the room limit (2) is reached, joins get ROOM_FULL " +
      "(1 so far, the summary line counts the rest)",
    ]);

    // Stopping logs the partial interval.
    activity.stop();
    assert.match(lines().at(-1)!, /^last \d+ s: 3 datagrams in .*refused ROOM_FULL: 1 room-limit$/);
    const count = lines().length;
    await net.advance(30_000);
    assert.equal(lines().length, count, "nothing after stop");
  });
});

Deno.test("activity log caps room lines per check and counts the rest in the summary", async () => {
  await capturing(async (records) => {
    const net = new MemoryNetwork({ startTime: 1_763_700_000_000 });
    await using server = await startBootstrap({
      bind: net.bind,
      clock: net.clock,
      port: 5000,
      maxRooms: 1000,
    });
    const activity = new ActivityLog({
      clock: net.clock,
      maxRoomLinesPerCheck: 5,
      category: ["test-activity"],
    });
    activity.start(server);
    // 50 sources (so no per-source rate limit), one new room each.
    const peers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => net.bind({ hostname: `10.0.1.${i + 1}` })),
    );
    peers.forEach((peer, i) => peer.send(join(`room-${i}`), server.localAddress));
    await net.advance(500);
    assert.equal(records.length, 5);
    activity.stop();
    assert.equal(records.length, 6);
    assert.match(text(records[5]!), /rooms 50 \(\+50 -0\).*45 room changes not logged one by one$/);
    for (const peer of peers) await peer.close();
  });
});

/**
 * Many real-UDP peers in one process: `deno task bench:udp-room --peers 1000`.
 *
 * Starts a real bootstrap and N real peers (`joinRoom`, one UDP socket each)
 * on 127.0.0.1 in this one process, then prints the time until every peer
 * sees every other one, and the `peer-left` events (flaps) over a window of
 * stable running. Bounded in time (`--max-seconds`, default 180). Baseline in
 * the same run: the same room with partial views off (`--baseline N`, the
 * v1 heartbeat: everyone pings everyone), at a size it can still hold.
 *
 * Every peer shares 127.0.0.1, so the bootstrap's per-source limits are off
 * here (`requestsPerSecond` and `replyBytesPerSecond` Infinity): with the
 * defaults (20 requests/s, 16 KiB of replies/s per IP) one address cannot
 * join 1000 peers, and peers that wait for their join are not flapping.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { startBootstrap } from "@olaf/bootstrap";
import { encode } from "@olaf/protocol";
import { joinRoom, type Room } from "@olaf/peer";

/** Options of {@linkcode runUdpRoom}. */
export interface UdpRoomOptions {
  peers: number;
  /** Partial views above this many Olaf members (Infinity: the v1 heartbeat). */
  largeRoomThreshold?: number;
  /** Stable window after convergence, in ms (flaps are counted over it). Default 30 000. */
  windowMs?: number;
  /** Give up converging after this long. Default 120 000 ms. */
  convergeTimeoutMs?: number;
  /** Peers started per 100 ms while joining (a paced arrival, not one burst). Default 10. */
  joinBatch?: number;
  /** Run the bootstrap in this process too (default: a child process running the CLI). */
  inProcessBootstrap?: boolean;
  log?: (line: string) => void;
}

/** What one run measured. */
export interface UdpRoomResult {
  peers: number;
  /** Peers whose `joinRoom` gave up (no `BOOTSTRAP_R` within 60 s). */
  failedJoins: number;
  /** Ms from the first join until every peer saw every other (undefined: it did not). */
  convergedMs: number | undefined;
  /** Peers that saw everyone at the end of the convergence wait. */
  complete: number;
  /** `peer-left` events over the stable window (a stable room has none). */
  flaps: number;
  windowMs: number;
  /** Peers that saw everyone at the end of the window. */
  completeAfter: number;
  /** Process CPU time over the window, in ms per second (1000 = one core busy). */
  cpuMsPerSecond: number;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * The bootstrap: a child process running the CLI (default), or in this
 * process. Per-source limits are off either way (every peer is 127.0.0.1).
 */
async function bootstrapFor(
  n: number,
  inProcess: boolean,
): Promise<{ spec: string; [Symbol.asyncDispose](): Promise<void> }> {
  if (inProcess) {
    const server = await startBootstrap({
      hostname: "127.0.0.1",
      port: 0,
      requestsPerSecond: Infinity,
      requestBurst: Infinity,
      replyBytesPerSecond: Infinity,
      replyBytesBurst: Infinity,
      maxMembersPerRoom: Math.max(1000, n + 10),
    });
    return {
      spec: `127.0.0.1:${server.localAddress.port}`,
      [Symbol.asyncDispose]: () => server.close(),
    };
  }
  const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const cli = new URL("../bootstrap/mod.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      cli,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--max-members",
      String(Math.max(1000, n + 10)),
      "--requests-per-second",
      "0",
      "--request-burst",
      "0",
      "--reply-bytes-per-second",
      "0",
      "--reply-bytes-burst",
      "0",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Ready when it answers a JOIN_B.
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const join = encode({ type: "JOIN_B", peers: [], room: "ready-check" });
  for (let i = 0; i < 100; i++) {
    await socket.send(join, { transport: "udp", hostname: "127.0.0.1", port });
    const got = await Promise.race([
      socket.receive().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 200)),
    ]);
    if (got) break;
  }
  socket.close();
  return {
    spec: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Runs one room of real-UDP peers in this process and measures it. */
export async function runUdpRoom(options: UdpRoomOptions): Promise<UdpRoomResult> {
  const n = options.peers;
  const log = options.log ?? (() => {});
  const windowMs = options.windowMs ?? 30_000;
  await using bootstrap = await bootstrapFor(n, options.inProcessBootstrap ?? false);
  const spec = bootstrap.spec;
  const rooms: Room[] = [];
  const counts: number[] = [];
  let complete = 0;
  let flaps = 0;
  let counting = false;
  const leftReasons: Record<string, number> = {};
  let failedJoins = 0;
  const started = performance.now();
  const joining: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    joining.push(
      joinRoom("udp-room", {
        bootstraps: [spec],
        hostname: "127.0.0.1",
        joinTimeoutMs: 60_000,
        maxPeers: 2 * n + 100,
        largeRoomThreshold: options.largeRoomThreshold,
      }).then((room) => {
        rooms.push(room);
        counts[i] = 0;
        const bump = (d: number) => {
          if (counts[i] === n - 1) complete--;
          counts[i]! += d;
          if (counts[i] === n - 1) complete++;
        };
        room.onPeerJoin(() => bump(1));
        room.onPeerLeave((_, reason) => {
          bump(-1);
          if (counting) flaps++;
          leftReasons[reason] = (leftReasons[reason] ?? 0) + 1;
        });
      }, () => void failedJoins++), // counted and reported: the run goes on
    );
    if ((i + 1) % (options.joinBatch ?? 10) === 0) await new Promise((r) => setTimeout(r, 100));
  }
  let joinedCount = 0;
  for (const j of joining) j.then(() => joinedCount++);
  const progress = setInterval(() => log(`  ... ${joinedCount}/${n} joined`), 5000);
  await Promise.all(joining).finally(() => clearInterval(progress));
  log(`  ${n} peers joined after ${(performance.now() - started).toFixed(0)} ms`);
  const deadline = started + (options.convergeTimeoutMs ?? 120_000);
  while (complete < n && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const convergedMs = complete === n ? performance.now() - started : undefined;
  const completeAtEnd = complete;
  log(`  converged: ${convergedMs?.toFixed(0) ?? "no"} (${complete}/${n} see everyone)`);
  counting = true;
  const cpu0 = cpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const cpuMsPerSecond = (cpuMs() - cpu0) / ((performance.now() - t0) / 1000);
  counting = false;
  const completeAfter = complete;
  log(`  peer-left by reason (whole run): ${JSON.stringify(leftReasons)}`);
  await Promise.all(rooms.map((r) => r.leave()));
  return {
    peers: n,
    failedJoins,
    convergedMs,
    complete: completeAtEnd,
    flaps,
    windowMs,
    completeAfter,
    cpuMsPerSecond,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      peers: { type: "string", default: "1000" },
      baseline: { type: "string", default: "200" },
      window: { type: "string", default: "30000" },
      "max-seconds": { type: "string", default: "180" },
    },
  });
  const limit = setTimeout(() => {
    console.error(`udp-room: over --max-seconds ${values["max-seconds"]}, stopping`);
    Deno.exit(2);
  }, Number(values["max-seconds"]) * 1000);
  const windowMs = Number(values.window);
  const rows: [string, UdpRoomResult][] = [];
  const baseline = Number(values.baseline);
  if (baseline > 0) {
    console.error(`v1 heartbeat (partial views off), ${baseline} peers:`);
    rows.push([
      "v1 heartbeat",
      await runUdpRoom({
        peers: baseline,
        largeRoomThreshold: Infinity,
        windowMs,
        log: console.error,
      }),
    ]);
  }
  const peers = Number(values.peers);
  console.error(`partial views (default threshold), ${peers} peers:`);
  rows.push(["partial views", await runUdpRoom({ peers, windowMs, log: console.error })]);
  clearTimeout(limit);
  console.log(
    "| mode | peers | joins failed | converged (s) | see everyone | peer-left over window | window (s) | CPU ms/s |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [mode, r] of rows) {
    console.log(
      `| ${mode} | ${r.peers} | ${r.failedJoins} | ${
        r.convergedMs === undefined ? "no" : (r.convergedMs / 1000).toFixed(1)
      } | ${r.completeAfter}/${r.peers} | ${r.flaps} | ${r.windowMs / 1000} | ${
        r.cpuMsPerSecond.toFixed(0)
      } |`,
    );
  }
}

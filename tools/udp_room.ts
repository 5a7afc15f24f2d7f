/**
 * Many real-UDP peers in one process: `deno task bench:udp-room --peers 1000`.
 *
 * Starts a real bootstrap and N real peers (`joinRoom`, one UDP socket each)
 * on 127.0.0.1 in this one process, then prints the time until every peer
 * sees every other one, and the `peer-left` events (flaps) over a window of
 * stable running. Bounded in time (`--max-seconds`, default 900). Baselines in
 * the same run: rooms of 100 and 300 first (`--sizes`), and optionally the v1
 * heartbeat (`--baseline N`: partial views off, everyone pings everyone).
 * Per-socket send/receive counters (a counting binder), kernel drops from
 * /proc/net/udp, event-loop lag and datagrams by type say where a room that
 * does not converge loses its datagrams (`--verbose`).
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
import { loadAverage } from "./_bench.ts";
import { startBootstrap } from "@olaf/bootstrap";
import { decode, encode } from "@olaf/protocol";
import { joinRoom, type Room } from "@olaf/peer";
import {
  bindDatagram,
  type DatagramBinder,
  type DatagramSocket,
  type UdpImplementation,
} from "@olaf/protocol/net";

/** Per-socket counters the bench keeps (a wrapper around the real UDP socket). */
export interface SocketCounters {
  sent: number;
  received: number;
  /** Datagrams sent to / received from the bootstrap. */
  toBootstrap: number;
  fromBootstrap: number;
  sendErrors: number;
  port: number;
}

const traceIndex = new Set(
  (Deno.env.get("UDP_ROOM_TRACE") ?? "").split(",").filter(Boolean).map(Number),
);
/** Datagrams sent by every counted socket, by their first byte (the message type). */
export const sentByType: Record<number, number> = {};

/** A binder that counts what each socket sends and receives, into `counters`. */
export function countingBinder(
  bootstrapPort: number,
  counters: SocketCounters[],
  implementation: "auto" | UdpImplementation = "auto",
): DatagramBinder {
  return async (options) => {
    const c: SocketCounters = {
      sent: 0,
      received: 0,
      toBootstrap: 0,
      fromBootstrap: 0,
      sendErrors: 0,
      port: 0,
    };
    counters.push(c);
    const index = counters.length - 1;
    const traced = traceIndex.has(index);
    const born = performance.now();
    const trace = (dir: string, data: Uint8Array, peer: { port: number }) => {
      const t = performance.now() - born;
      if (!traced || t > 8000) return;
      let what = `type ${data[0]}`;
      try {
        const m = decode(data) as { type: string; peers?: { length: number }; code?: number };
        what = `${m.type}${m.code !== undefined ? "/" + m.code : ""} peers ${
          m.peers?.length ?? "-"
        }`;
      } catch { /* not v1 */ }
      console.error(
        `trace #${index} ${t.toFixed(0).padStart(5)} ms ${dir} ${
          peer.port === bootstrapPort ? "bootstrap" : peer.port
        } ${what} ${data.length} B`,
      );
    };
    const onDatagram = options.onDatagram;
    const onError = options.onError;
    const socket: DatagramSocket = await bindDatagram({
      ...options,
      implementation,
      onDatagram: (data, from) => {
        c.received++;
        trace("<-", data, from);
        if (from.port === bootstrapPort) c.fromBootstrap++;
        onDatagram?.(data, from);
      },
      onError: (error) => {
        c.sendErrors++;
        onError?.(error);
      },
    });
    c.port = socket.localAddress.port;
    const send = socket.send.bind(socket);
    socket.send = (data, to) => {
      c.sent++;
      trace("->", data, to);
      sentByType[data[0]!] = (sentByType[data[0]!] ?? 0) + 1;
      if (to.port === bootstrapPort) c.toBootstrap++;
      send(data, to);
    };
    return socket;
  };
}

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
  /**
   * Arrivals wait while this process's event loop runs more than this late
   * (ms; 0: never wait): users start peers over some seconds, not faster than
   * the machine takes them. Default 50; each wait is at most 5 s.
   */
  joinLagMs?: number;
  /**
   * Arrivals also wait while this process uses more CPU than this (ms per
   * second, 1000 = one core; 0: never). Default 600.
   */
  joinCpu?: number;
  /** The peers' UDP implementation (`bindDatagram`'s), default `"auto"` (Deno's own). */
  udp?: "auto" | UdpImplementation;
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
  /** Datagrams all peers sent, per second, over the window (from `Room.stats`). */
  sentPerSecond: number;
  /** Datagrams all peers received, per second, over the window. */
  receivedPerSecond: number;
  /** Datagrams the kernel dropped on the peers' sockets (full receive buffers), whole run. */
  kernelDrops: number;
  /** Datagrams the peers' machines dropped, by reason, whole run. */
  peerDrops: Record<string, number>;
}

/**
 * Kernel receive-buffer drops on the sockets bound to `ports` (the `drops`
 * column of /proc/net/udp); 0 where that file does not exist.
 */
export function kernelDrops(ports: ReadonlySet<number>): number {
  let drops = 0;
  for (const d of kernelDropsByPort(ports).values()) drops += d;
  return drops;
}

/** Kernel receive-buffer drops per port, for the sockets bound to `ports`. */
export function kernelDropsByPort(ports: ReadonlySet<number>): Map<number, number> {
  const byPort = new Map<number, number>();
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/net/udp");
  } catch {
    return byPort;
  }
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const port = parseInt(fields[1]!.split(":")[1]!, 16);
    if (ports.has(port)) byPort.set(port, (byPort.get(port) ?? 0) + Number(fields[12]));
  }
  return byPort;
}

/** Host-wide UDP counters from /proc/net/snmp (other processes count too): `{}` elsewhere. */
export function udpSnmp(): Record<string, number> {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Udp:")
    );
    const names = lines[0]!.split(/\s+/).slice(1);
    const values = lines[1]!.split(/\s+/).slice(1).map(Number);
    return Object.fromEntries(names.map((name, i) => [name, values[i]!]));
  } catch {
    return {};
  }
}

function totals(rooms: readonly Room[]): { sent: number; received: number } {
  let sent = 0;
  let received = 0;
  for (const room of rooms) {
    const stats = room.stats;
    sent += stats.datagramsOut;
    received += stats.datagramsIn;
  }
  return { sent, received };
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
): Promise<{
  spec: string;
  port: number;
  drops?: () => Record<string, number>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
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
      port: server.localAddress.port,
      drops: () => {
        const st = server.stats();
        return { ...st.drops, in: st.datagramsIn, out: st.datagramsOut, members: st.members };
      },
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
    port,
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
  const joinedRooms: Room[] = [];
  const counters: SocketCounters[] = [];
  const bind = countingBinder(bootstrap.port, counters, options.udp);
  const pending = new Set<number>();
  const counts: number[] = [];
  let complete = 0;
  let flaps = 0;
  let counting = false;
  const leftReasons: Record<string, number> = {};
  let failedJoins = 0;
  const started = performance.now();
  const joining: Promise<void>[] = [];
  let lagWaits = 0;
  for (let i = 0; i < n; i++) {
    joining.push(
      joinRoom("udp-room", {
        bootstraps: [spec],
        hostname: "127.0.0.1",
        bind,
        joinTimeoutMs: 60_000,
        maxPeers: 2 * n + 100,
        largeRoomThreshold: options.largeRoomThreshold,
      }).then((room) => {
        pending.delete(i);
        rooms.push(room);
        joinedRooms[i] = room;
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
    pending.add(i);
    if ((i + 1) % (options.joinBatch ?? 10) === 0) {
      // Paced by the event loop's lag: the next batch waits (bounded) while timers run late.
      // And by CPU: a process at one full core reads its sockets late without its timers
      // running late (the work waits in the kernel's queues, not in the event loop).
      const lagLimit = options.joinLagMs ?? 50;
      const cpuLimit = options.joinCpu ?? 600;
      const waitUntil = performance.now() + 5000;
      for (;;) {
        const t = performance.now();
        const cpu = cpuMs();
        await new Promise((r) => setTimeout(r, 100));
        const elapsed = performance.now() - t;
        const late = elapsed - 100;
        const busy = (cpuMs() - cpu) / elapsed * 1000;
        const calm = (lagLimit <= 0 || late <= lagLimit) && (cpuLimit <= 0 || busy <= cpuLimit);
        if (calm || performance.now() > waitUntil) break;
        lagWaits++;
      }
    }
  }
  const joinsStartedMs = performance.now() - started;
  log(
    `  ${n} joins started over ${(joinsStartedMs / 1000).toFixed(1)} s (${
      (n / (joinsStartedMs / 1000)).toFixed(0)
    } joins/s; ${lagWaits} waits of 100 ms for event-loop lag or CPU)`,
  );
  let joinedCount = 0;
  for (const j of joining) j.then(() => joinedCount++);
  // Event-loop lag: how late a 100 ms timer fires (a CPU-bound process reads its sockets late).
  let lagMax = 0;
  let lagAt = performance.now();
  const lagTimer = setInterval(() => {
    const t = performance.now();
    lagMax = Math.max(lagMax, t - lagAt - 100);
    lagAt = t;
  }, 100);
  let snmp = udpSnmp();
  const typesBefore: Record<string, number> = {};
  let cpuAt = cpuMs();
  const progress = setInterval(() => {
    const t = totals(rooms);
    const cpuNow = cpuMs();
    const cpuInterval = (cpuNow - cpuAt) / 2;
    cpuAt = cpuNow;
    const now = udpSnmp();
    const delta = (k: string) => (now[k] ?? 0) - (snmp[k] ?? 0);
    snmp = now;
    log(
      `  ... ${joinedCount}/${n} joined, ${complete} see everyone, sent ${t.sent}, CPU ${
        cpuInterval.toFixed(0)
      } ms/s, max lag ${lagMax.toFixed(0)} ms; host UDP in 2 s: rcvbuf errors ${
        delta("RcvbufErrors")
      }, no port ${delta("NoPorts")}${
        bootstrap.drops ? `; bootstrap drops ${JSON.stringify(bootstrap.drops())}` : ""
      }`,
    );
    lagMax = 0;
    const types = Object.entries(sentByType).map(([k, v]) => `${k}:${v - (typesBefore[k] ?? 0)}`);
    Object.assign(typesBefore, sentByType);
    const drops: Record<string, number> = {};
    for (const room of rooms) {
      for (const [reason, count] of Object.entries(room.stats.drops)) {
        drops[reason] = (drops[reason] ?? 0) + (count ?? 0);
      }
    }
    const swimNow: Record<string, number> = {};
    for (const room of rooms) {
      const sw = room.stats.swim ?? {};
      for (const [k, v] of Object.entries(sw)) swimNow[k] = (swimNow[k] ?? 0) + v;
    }
    log(
      `    sent by type in 2 s: ${types.join(" ")}; peer drops ${JSON.stringify(drops)}; swim ${
        JSON.stringify(swimNow)
      }; kernel drops ${kernelDrops(new Set(counters.map((c) => c.port)))}`,
    );
    let toB = 0;
    let fromB = 0;
    for (const c of counters) {
      toB += c.toBootstrap;
      fromB += c.fromBootstrap;
    }
    log(
      `    peers -> bootstrap ${toB}, bootstrap -> peers ${fromB}, bootstrap kernel drops ${
        kernelDrops(new Set([bootstrap.port]))
      }`,
    );
    if (pending.size > 0) {
      const waiting = [...pending].slice(0, 5).map((i) => {
        const c = counters[i]!;
        return `#${i}:${c.port} sent ${c.sent} (bootstrap ${c.toBootstrap}) received ${c.received} (bootstrap ${c.fromBootstrap}) errors ${c.sendErrors}`;
      });
      log(`    waiting: ${waiting.join("; ")}`);
    }
  }, 2000);
  await Promise.all(joining);
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
  const before = totals(rooms);
  const typesAtWindow: Record<string, number> = { ...sentByType };
  await new Promise((r) => setTimeout(r, windowMs));
  const seconds = (performance.now() - t0) / 1000;
  const cpuMsPerSecond = (cpuMs() - cpu0) / seconds;
  clearInterval(progress);
  clearInterval(lagTimer);
  const after = totals(rooms);
  counting = false;
  const completeAfter = complete;
  const ports = new Set(rooms.map((r) => r.localAddress.port));
  const peerDrops: Record<string, number> = {};
  for (const room of rooms) {
    for (const [reason, count] of Object.entries(room.stats.drops)) {
      peerDrops[reason] = (peerDrops[reason] ?? 0) + (count ?? 0);
    }
  }
  const dropped = kernelDrops(ports);
  const swim: Record<string, number> = {};
  for (const room of rooms) {
    for (const [k, v] of Object.entries(room.stats.swim ?? {})) {
      swim[k] = (swim[k] ?? 0) + v;
    }
  }
  const byPort = kernelDropsByPort(ports);
  const order = new Map<number, number>();
  joinedRooms.forEach((r, i) => order.set(r.localAddress.port, i));
  const worst = [...byPort].filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]);
  log(
    `  sockets with kernel drops: ${worst.length}; worst (join index:drops) ${
      worst.slice(0, 8).map(([p, d]) => `${order.get(p)}:${d}`).join(" ")
    }`,
  );
  log(`  swim (whole run): ${JSON.stringify(swim)}`);
  // Who does not see whom (join indices), for the rooms that do not see everyone.
  const incomplete: string[] = [];
  joinedRooms.forEach((r, i) => {
    if (counts[i] === n - 1 || incomplete.length >= 10) return;
    const seen = new Set(r.peers.map((p) => order.get(p.port)));
    const missing = [...order.values()].filter((j) => j !== i && !seen.has(j));
    incomplete.push(`#${i} misses ${missing.length} (${missing.slice(0, 5).join(" ")})`);
  });
  if (incomplete.length > 0) log(`  not seeing everyone: ${incomplete.join("; ")}`);
  log(
    `  sent by type over the window, per second: ${
      Object.entries(sentByType).map(([k, v]) =>
        `${k}:${((v - (typesAtWindow[k] ?? 0)) / seconds).toFixed(0)}`
      ).join(" ")
    }`,
  );
  log(`  peer-left by reason (whole run): ${JSON.stringify(leftReasons)}`);
  log(
    `  window: ${((after.sent - before.sent) / seconds).toFixed(0)} datagrams/s sent, ${
      ((after.received - before.received) / seconds).toFixed(0)
    } received, CPU ${cpuMsPerSecond.toFixed(0)} ms/s`,
  );
  log(`  peer drops (whole run): ${JSON.stringify(peerDrops)}; kernel drops: ${dropped}`);
  log(
    `  bootstrap: kernel drops ${kernelDrops(new Set([bootstrap.port]))}, drops ${
      JSON.stringify(bootstrap.drops?.() ?? "(child process)")
    }`,
  );
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
    sentPerSecond: (after.sent - before.sent) / seconds,
    receivedPerSecond: (after.received - before.received) / seconds,
    kernelDrops: dropped,
    peerDrops,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      peers: { type: "string", default: "1000" },
      /** Smaller rooms run first in the same invocation, as the baseline figures. */
      sizes: { type: "string", default: "100,300" },
      baseline: { type: "string", default: "0" },
      window: { type: "string", default: "30000" },
      "max-seconds": { type: "string", default: "900" },
      "in-process": { type: "boolean", default: false },
      "join-batch": { type: "string", default: "10" },
      "join-lag": { type: "string", default: "50" },
      "join-cpu": { type: "string", default: "600" },
      "converge-seconds": { type: "string", default: "300" },
      udp: { type: "string", default: "auto" },
      verbose: { type: "boolean", default: false },
    },
  });
  const limit = setTimeout(() => {
    console.error(`udp-room: over --max-seconds ${values["max-seconds"]}, stopping`);
    Deno.exit(2);
  }, Number(values["max-seconds"]) * 1000);
  const windowMs = Number(values.window);
  const rows: [string, UdpRoomResult][] = [];
  const log = (line: string) => {
    if (values.verbose || !line.startsWith("    ")) console.error(line);
  };
  const common = {
    windowMs,
    log,
    inProcessBootstrap: values["in-process"],
    joinBatch: Number(values["join-batch"]),
    joinLagMs: Number(values["join-lag"]),
    joinCpu: Number(values["join-cpu"]),
    convergeTimeoutMs: Number(values["converge-seconds"]) * 1000,
    udp: values.udp as "auto" | UdpImplementation,
  };
  const baseline = Number(values.baseline);
  if (baseline > 0) {
    console.error(`v1 heartbeat (partial views off), ${baseline} peers:`);
    rows.push([
      "v1 heartbeat",
      await runUdpRoom({ ...common, peers: baseline, largeRoomThreshold: Infinity }),
    ]);
  }
  const sizes = values.sizes.split(",").filter((x) => x !== "").map(Number);
  for (const peers of [...sizes, Number(values.peers)]) {
    console.error(`partial views (default threshold), ${peers} peers:`);
    rows.push(["partial views", await runUdpRoom({ ...common, peers })]);
  }
  clearTimeout(limit);
  console.log(`load average before/after: ${loadAverage()}`);
  console.log(
    "| mode | peers | joins failed | converged (s) | see everyone | peer-left over window | window (s) | CPU ms/s | datagrams/s sent | per peer | kernel drops |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [mode, r] of rows) {
    console.log(
      `| ${mode} | ${r.peers} | ${r.failedJoins} | ${
        r.convergedMs === undefined ? "no" : (r.convergedMs / 1000).toFixed(1)
      } | ${r.completeAfter}/${r.peers} | ${r.flaps} | ${r.windowMs / 1000} | ${
        r.cpuMsPerSecond.toFixed(0)
      } | ${r.sentPerSecond.toFixed(0)} | ${
        (r.sentPerSecond / r.peers).toFixed(2)
      } | ${r.kernelDrops} |`,
    );
  }
}

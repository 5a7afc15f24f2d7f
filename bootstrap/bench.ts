/**
 * Bootstrap benchmark (`deno task bench:bootstrap`, i.e.
 * `deno run -A --v8-flags=--expose-gc bootstrap/bench.ts`).
 *
 * 1. Memory: 100,000 rooms x 10 members driven through the sans-IO core
 *    (no sockets); heap + external bytes per member after GC. Target <= 300.
 *    Also the core's own handling rate (joins/s without sockets), and the
 *    cost of a member report that replaces a whole room, at 250 and 1000
 *    members: the ratio shows it grows linearly (4x), not quadratically (16x).
 *    And the cost of one JOIN_B (a member re-joining, reply included) in a
 *    10-member and in a 1000-member room: replies stop at 101 records and
 *    pick their members without sorting the room, so the ratio stays <= 3.
 * 2. Throughput: a closed-loop load generator (a separate process, many UDP
 *    sockets, each a member, spread over many rooms) against the bootstrap,
 *    and against a bare UDP echo server in the same runtime and adapter.
 *    Prints joins/s for both and the ratio. Target >= 0.8.
 *
 * Flags: --sockets N (128), --rooms N (32), --seconds S (2), --rounds N (5),
 * --skip-memory, --skip-udp. Internal: --load HOST:PORT runs the generator.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket, type NetAddress } from "@olaf/protocol/net";
import { BootstrapCore } from "./bootstrap_core.ts";
import { startBootstrap } from "./server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sockets: { type: "string", default: "128" },
    rooms: { type: "string", default: "32" },
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "5" },
    "skip-memory": { type: "boolean", default: false },
    "skip-udp": { type: "boolean", default: false },
    load: { type: "string" },
  },
});
const sockets = Number(values.sockets);
const roomCount = Number(values.rooms);
const seconds = Number(values.seconds);

if (values.load !== undefined) {
  await loadGenerator(values.load);
} else {
  if (!values["skip-memory"]) memoryBench();
  reportBench();
  joinBench();
  if (!values["skip-udp"]) await udpBench();
}

// ------------------------------------------------------------------ memory

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

function used(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

function memoryBench(): void {
  const rooms = 100_000;
  const perRoom = 10;
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    console.log("note: run with --v8-flags=--expose-gc for exact memory figures");
  }
  gc();
  const before = used();
  const core = new BootstrapCore({
    maxRooms: rooms,
    maxMembersPerRoom: perRoom,
    requestsPerSecond: Infinity,
    replyBytesPerSecond: Infinity,
    emitEvents: false,
    startedAt: 1_763_700_000_000,
  });
  const t0 = 1_763_700_000_000;
  const start = performance.now();
  let handled = 0;
  for (let r = 0; r < rooms; r++) {
    const join = encode({ type: "JOIN_B", peers: [], room: `room-${r}` });
    for (let m = 0; m < perRoom; m++) {
      // A distinct public address per member: 10.x.y.z, port 40000 + m.
      core.handleDatagram(join, { ipv4: 0x0a000000 + r, port: 40000 + m }, t0 + handled / 1000);
      handled++;
      while (core.pollTransmit() !== undefined);
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  const stats = core.stats();
  if (stats.rooms !== rooms || stats.members !== rooms * perRoom) {
    throw new Error(
      `expected ${rooms} rooms / ${rooms * perRoom} members, got ${stats.rooms} / ${stats.members}`,
    );
  }
  gc();
  const after = used();
  const perMember = (after - before) / (rooms * perRoom);
  console.log(
    `memory: ${rooms} rooms x ${perRoom} members: ${
      ((after - before) / 2 ** 20).toFixed(1)
    } MiB, ` +
      `${perMember.toFixed(1)} bytes/member (target <= 300) ${perMember <= 300 ? "OK" : "OVER"}`,
  );
  console.log(
    `core only: ${Math.round(handled / elapsed).toLocaleString("en-US")} joins/s ` +
      `(${handled.toLocaleString("en-US")} JOIN_B, no sockets)`,
  );
  // Keep the core alive until after the measurement.
  if (core.stats().rooms === 0) console.log("unreachable");
}

/** Time per PEER_COLLECTOR report that swaps a room's whole membership. */
function reportCost(members: number): number {
  const core = new BootstrapCore({
    maxMembersPerRoom: members,
    requestsPerSecond: Infinity,
    replyBytesPerSecond: Infinity,
    emitEvents: false,
  });
  const sender = { ipv4: 0x0a000001, port: 1 };
  const make = (generation: number, selfId: number) =>
    encode({
      type: "PEER_COLLECTOR",
      room: "r",
      peers: Array.from({ length: members }, (_, i) => ({
        ip: i === 0 ? "10.0.0.1" : `10.${1 + generation}.${i >> 8}.${i & 255}`,
        port: i === 0 ? 1 : 2000 + i,
        id: i === 0 ? selfId : 0,
      })),
    });
  // The first report creates the room; later ones carry the sender's id (issue 12: only the
  // validated collector's report counts, and echoing its id is what validates it).
  core.handleDatagram(make(0, 0), sender, 1_763_700_000_000);
  while (core.pollTransmit() !== undefined);
  const selfId = core.room("r")!.members.find((m) => m.port === 1)!.id;
  const reports = [0, 1].map((generation) => make(generation, selfId));
  const report = (i: number) => {
    core.handleDatagram(reports[i % 2]!, sender, 1_763_700_000_000);
    while (core.pollTransmit() !== undefined);
  };
  // Steady state: the JIT needs about a thousand reports before the figure stops moving
  // (200 cold reports measured warm-up, not the reconcile pass).
  const rounds = 1000;
  for (let i = 0; i < rounds; i++) report(i);
  const start = performance.now();
  for (let i = 0; i < rounds; i++) report(i);
  return (performance.now() - start) / rounds;
}

function reportBench(): void {
  const small = reportCost(250);
  const big = reportCost(1000);
  console.log(
    `member report replacing a room: ${(small * 1000).toFixed(0)} µs at 250 members, ` +
      `${(big * 1000).toFixed(0)} µs at 1000 (ratio ${
        (big / small).toFixed(1)
      }; linear 4, quadratic 16)`,
  );
}

/**
 * A room of `members` members and a function that times `rounds` JOIN_Bs from
 * them (each a member re-joining with its own record, as a deployed peer
 * does, the reply built and taken), in µs per JOIN_B.
 */
function joinRoomBench(members: number): (rounds: number) => number {
  const core = new BootstrapCore({
    maxMembersPerRoom: members,
    requestsPerSecond: Infinity,
    replyBytesPerSecond: Infinity,
    emitEvents: false,
  });
  let now = 1_763_700_000_000;
  const sources = Array.from(
    { length: members },
    (_, i) => ({ ipv4: 0x0a000000 + i, port: 40000 }),
  );
  const first = encode({ type: "JOIN_B", peers: [], room: "r" });
  for (const source of sources) {
    core.handleDatagram(first, source, now++);
    while (core.pollTransmit() !== undefined);
  }
  const joins = core.room("r")!.members.map((m) =>
    encode({ type: "JOIN_B", peers: [{ ip: m.ip, port: m.port, id: m.id }], room: "r" })
  );
  let next = 0;
  return (rounds) => {
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      const m = next++ % members;
      core.handleDatagram(joins[m]!, sources[m]!, now++);
      core.pollTransmit();
    }
    const elapsed = performance.now() - start;
    if (core.stats().members !== members) throw new Error("members changed during the bench");
    return (elapsed * 1000) / rounds;
  };
}

/** JOIN_B cost at 10 and 1000 members: paired, alternating rounds; medians. */
function joinBench(): void {
  const small = joinRoomBench(10);
  const big = joinRoomBench(1000);
  small(50_000); // warm-up
  big(50_000);
  const smalls: number[] = [];
  const bigs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < 15; round++) {
    const [s, b] = round % 2 === 0 ? [small(20_000), big(20_000)] : [0, big(20_000)];
    const s2 = round % 2 === 0 ? s : small(20_000);
    smalls.push(s2);
    bigs.push(b);
    ratios.push(b / s2);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const ratio = median(ratios);
  console.log(
    `JOIN_B in a room (15 paired rounds, medians): ${
      median(smalls).toFixed(2)
    } µs at 10 members, ` +
      `${median(bigs).toFixed(2)} µs at 1000 (ratio ${ratio.toFixed(2)}; target <= 3) ${
        ratio <= 3 ? "OK" : "OVER"
      }`,
  );
}

// -------------------------------------------------------------------- udp

interface LoadResult {
  completed: number;
  seconds: number;
  resent: number;
}

async function measure(target: NetAddress): Promise<LoadResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--load",
      `${target.hostname}:${target.port}`,
      "--sockets",
      String(sockets),
      "--rooms",
      String(roomCount),
      "--seconds",
      String(seconds),
    ],
    stdout: "piped",
    stderr: "inherit",
  });
  const output = await child.output();
  if (!output.success) throw new Error("load generator failed");
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** Runs the load generator against `target`, also measuring this process's CPU time per request. */
async function measureWithCpu(target: NetAddress): Promise<{ rate: number; cpuMicros: number }> {
  const before = process.cpuUsage();
  const result = await measure(target);
  const used = process.cpuUsage(before);
  // The generator's warm-up and tail are included in the CPU time but not in `completed`,
  // alike for both servers; the figure is for comparing them, not absolute.
  return {
    rate: result.completed / result.seconds,
    cpuMicros: (used.user + used.system) / result.completed,
  };
}

async function runEcho(): Promise<{ rate: number; cpuMicros: number; implementation: string }> {
  let echo: DatagramSocket | undefined = undefined;
  echo = await bindDatagram({
    hostname: "127.0.0.1",
    port: 0,
    onDatagram: (data, from) => echo!.send(data, from),
  });
  const result = await measureWithCpu(echo.localAddress);
  await echo.close();
  return { ...result, implementation: echo.implementation };
}

async function runBootstrap(): Promise<{ rate: number; cpuMicros: number }> {
  await using server = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    maxRooms: roomCount * 2,
    requestsPerSecond: Infinity, // every client shares 127.0.0.1
    replyBytesPerSecond: Infinity,
    roomsPerSource: Infinity, // (issue 12's guards too)
    amplificationFactor: Infinity,
    unvalidatedBytesPerSecond: Infinity,
  });
  const result = await measureWithCpu(server.localAddress);
  const stats = server.stats();
  if (stats.members !== sockets) {
    throw new Error(`expected ${sockets} members, got ${stats.members}`);
  }
  return result;
}

async function udpBench(): Promise<void> {
  const rounds = Number(values.rounds);
  const echoRates: number[] = [];
  const bootstrapRates: number[] = [];
  const ratios: number[] = [];
  const echoCpu: number[] = [];
  const bootstrapCpu: number[] = [];
  let implementation = "";
  for (let round = 0; round < rounds; round++) {
    // Paired runs, back to back and in alternating order, so that load from
    // other processes on the machine hits both sides of each ratio alike.
    let echo: { rate: number; cpuMicros: number; implementation: string };
    let bootstrap: { rate: number; cpuMicros: number };
    if (round % 2 === 0) {
      echo = await runEcho();
      bootstrap = await runBootstrap();
    } else {
      bootstrap = await runBootstrap();
      echo = await runEcho();
    }
    implementation = echo.implementation;
    const echoRate = echo.rate;
    const bootstrapRate = bootstrap.rate;
    echoCpu.push(echo.cpuMicros);
    bootstrapCpu.push(bootstrap.cpuMicros);
    echoRates.push(echoRate);
    bootstrapRates.push(bootstrapRate);
    ratios.push(bootstrapRate / echoRate);
  }
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(
    `udp (${implementation} adapter, ${sockets} client sockets in ${roomCount} rooms, closed loop, ` +
      `${rounds} paired rounds x ${seconds} s, medians):`,
  );
  console.log(
    `  bare echo:  ${fmt(median(echoRates))} round trips/s  (runs: ${
      echoRates.map(fmt).join(", ")
    })`,
  );
  console.log(
    `  bootstrap:  ${fmt(median(bootstrapRates))} joins/s        (runs: ${
      bootstrapRates.map(fmt).join(", ")
    })`,
  );
  console.log(
    `  server CPU per request: echo ${median(echoCpu).toFixed(1)} µs, bootstrap ${
      median(bootstrapCpu).toFixed(1)
    } µs (CPU-bound ratio ${(median(echoCpu) / median(bootstrapCpu)).toFixed(2)})`,
  );
  const ratio = median(ratios);
  console.log(
    `  ratio:      ${ratio.toFixed(2)} (median of per-round ratios ${
      ratios.map((r) => r.toFixed(2)).join(", ")
    }; target >= 0.8) ${ratio >= 0.8 ? "OK" : "BELOW"}`,
  );
}

/** Closed loop: each socket sends a JOIN_B, and the next one as soon as the reply arrives. */
async function loadGenerator(target: string): Promise<void> {
  const [hostname, port] = [
    target.slice(0, target.lastIndexOf(":")),
    Number(target.slice(target.lastIndexOf(":") + 1)),
  ];
  const to = { hostname, port };
  const joins = Array.from(
    { length: roomCount },
    (_, r) => encode({ type: "JOIN_B", peers: [], room: `bench-${r}` }),
  );
  let completed = 0;
  let counting = false;
  let running = true;
  let resent = 0;
  const clients: { socket: DatagramSocket; join: Uint8Array; sentAt: number }[] = [];
  for (let i = 0; i < sockets; i++) {
    const join = joins[i % roomCount]!;
    const client = { socket: undefined as unknown as DatagramSocket, join, sentAt: 0 };
    client.socket = await bindDatagram({
      hostname: "127.0.0.1",
      port: 0,
      onDatagram: () => {
        if (counting) completed++;
        if (!running) return;
        client.sentAt = performance.now();
        client.socket.send(client.join.slice(), to);
      },
    });
    clients.push(client);
  }
  // A lost datagram would stall its socket: resend after 200 ms of silence.
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const c of clients) {
      if (running && now - c.sentAt > 200) {
        resent++;
        c.sentAt = now;
        c.socket.send(c.join.slice(), to);
      }
    }
  }, 50);
  const now = performance.now();
  for (const c of clients) {
    c.sentAt = now;
    c.socket.send(c.join.slice(), to);
  }
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
  counting = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  clearInterval(watchdog);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await Promise.all(clients.map((c) => c.socket.close()));
  const result: LoadResult = { completed, seconds: elapsed, resent };
  console.log(JSON.stringify(result));
}

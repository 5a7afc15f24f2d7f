/**
 * Room benchmark on the in-memory network (virtual time, deterministic):
 * for rooms of 10, 50 and 200 members joining at once, the virtual time
 * until every member sees every other, and the steady-state traffic per
 * member. Baseline, measured in the same run: the same room of peers that
 * behave like the deployed v1 peers (through a model of the deployed
 * bootstrap). Run with `deno task bench:peer` (or `deno run -A peer/bench.ts`).
 *
 * @module
 */
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { joinRoom, type Room } from "./room.ts";
import { drive, type DrivenNode } from "../tests/peer_sim_driver.ts";
import { LegacyV1Peer } from "../tests/legacy_v1_peer.ts";
import { LegacyV1Bootstrap } from "../tests/legacy_v1_bootstrap.ts";

const T0 = 1_763_700_000_000;
const SIZES = [10, 50, 200];
const STEADY_MS = 30_000;
const GIVE_UP_MS = 60_000;

interface Result {
  convergedMs: number | undefined;
  bytesPerPeerPerSecond: number;
  datagramsPerPeerPerSecond: number;
  wallMs: number;
}

function host(i: number): string {
  return `10.0.${i >> 8}.${i & 255}`;
}

/** The same network for both implementations: seeded by the room size, 2-20 ms of delay. */
function benchNetwork(n: number): MemoryNetwork {
  return new MemoryNetwork({
    seed: n,
    startTime: T0,
    delayMs: { min: 2, max: 20 },
    microtaskTurns: 4,
  });
}

async function olaf(n: number): Promise<Result> {
  const started = performance.now();
  const net = benchNetwork(n);
  const server = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.1",
    port: 5000,
    requestsPerSecond: Infinity,
  });
  const t0 = net.now();
  let complete = 0; // members that see everyone else
  const counts: number[] = [];
  const joining = Array.from({ length: n }, (_, i) => {
    counts.push(0);
    return joinRoom("bench", {
      bootstraps: ["10.9.0.1:5000"],
      bind: net.bind,
      clock: net.clock,
      hostname: host(i + 1),
      port: 4000,
      joinTimeoutMs: GIVE_UP_MS,
    }).then((room) => {
      // Every member gets one peer-joined event (those already known at join included).
      const bump = (delta: number) => {
        if (counts[i] === n - 1) complete--;
        counts[i]! += delta;
        if (counts[i] === n - 1) complete++;
      };
      room.onPeerJoin(() => bump(1));
      room.onPeerLeave(() => bump(-1));
      return room;
    });
  });
  let rooms: Room[] = [];
  Promise.all(joining).then((r) => (rooms = r));
  const ok = await net.runUntil(() => complete === n, { timeoutMs: GIVE_UP_MS });
  const convergedMs = ok ? net.now() - t0 : undefined;
  const result = { convergedMs, ...await steadyTraffic(net, n), wallMs: 0 };
  await Promise.all(rooms.map((r) => r.leave()));
  await server.close();
  result.wallMs = performance.now() - started;
  return result;
}

/** Traffic per peer per second over STEADY_MS of virtual time, once the room has settled. */
async function steadyTraffic(net: MemoryNetwork, n: number) {
  const bytes0 = net.stats.bytesSent;
  const datagrams0 = net.stats.sent;
  await net.advance(STEADY_MS);
  const seconds = STEADY_MS / 1000;
  return {
    bytesPerPeerPerSecond: (net.stats.bytesSent - bytes0) / n / seconds,
    datagramsPerPeerPerSecond: (net.stats.sent - datagrams0) / n / seconds,
  };
}

async function deployed(n: number): Promise<Result> {
  const started = performance.now();
  const net = benchNetwork(n);
  const model = new LegacyV1Bootstrap({ now: net.now() });
  const boot = await drive(model, {
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.1",
    port: 5000,
  });
  const t0 = net.now();
  const peers: LegacyV1Peer[] = [];
  const nodes: DrivenNode[] = [];
  for (let i = 0; i < n; i++) {
    const peer = new LegacyV1Peer({ room: "bench", bootstraps: [boot.address], now: t0 });
    peers.push(peer);
    nodes.push(await drive(peer, { bind: net.bind, clock: net.clock, hostname: host(i + 1) }));
  }
  let complete = 0;
  // Checked once per virtual 100 ms: the deployed peer has no events to count.
  let convergedMs: number | undefined;
  for (let t = 0; t < GIVE_UP_MS; t += 100) {
    await net.advance(100);
    complete = peers.filter((p) => p.known.size === n - 1).length;
    if (complete === n) {
      convergedMs = net.now() - t0;
      break;
    }
  }
  const result = { convergedMs, ...await steadyTraffic(net, n), wallMs: 0 };
  await Promise.all([...nodes, boot].map((node) => node.stop()));
  result.wallMs = performance.now() - started;
  return result;
}

function ms(value: number | undefined): string {
  return value === undefined ? `> ${GIVE_UP_MS / 1000} s` : `${value} ms`;
}

function row(n: number, impl: string, r: Result, convergence: string, bytes: string): string[] {
  return [
    String(n),
    impl,
    ms(r.convergedMs),
    r.bytesPerPeerPerSecond.toFixed(0),
    r.datagramsPerPeerPerSecond.toFixed(1),
    `${r.wallMs.toFixed(0)} ms`,
    convergence,
    bytes,
  ];
}

if (import.meta.main) {
  console.log(
    "Olaf peers vs deployed-v1 peers, rooms joining all at once on the in-memory network\n" +
      "(delay 2-20 ms, no loss; traffic = all datagrams in the room incl. bootstrap, per member,\n" +
      `steady state over ${STEADY_MS / 1000} s after convergence)\n`,
  );
  const header = [
    "members",
    "impl",
    "converged after (virtual)",
    "bytes/peer/s",
    "datagrams/peer/s",
    "wall clock",
    "convergence vs v1",
    "bytes vs v1",
  ];
  const rows: string[][] = [header];
  for (const n of SIZES) {
    const a = await olaf(n);
    const b = await deployed(n);
    const ratio = a.convergedMs !== undefined && b.convergedMs !== undefined
      ? `${(b.convergedMs / Math.max(1, a.convergedMs)).toFixed(1)}x faster`
      : a.convergedMs !== undefined
      ? "v1 never converges"
      : "-";
    const bytesRatio = `${(a.bytesPerPeerPerSecond / b.bytesPerPeerPerSecond).toFixed(2)}x`;
    rows.push(row(n, "olaf", a, ratio, bytesRatio));
    rows.push(row(n, "v1 (deployed)", b, "baseline", "baseline"));
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

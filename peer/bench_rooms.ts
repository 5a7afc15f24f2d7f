/**
 * Large-room benchmark on the in-memory network (virtual time, deterministic):
 * `deno task bench:rooms [--sizes 50,1000]`. For each size: time until every
 * member sees every other, steady traffic per member, heartbeats until every
 * member knows a newcomer, and time until every member dropped a crashed
 * member. Baseline in the same run: the 50-member room, and the same rooms
 * with partial views off (everyone pings everyone, the v1 heartbeat).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import type { DatagramBinder } from "@olaf/protocol/net";
import { joinRoom, type Room } from "./room.ts";

const T0 = 1_763_700_000_000;
const HEARTBEAT = 3000;
const TIMEOUT = 15_000;
const STEADY_MS = 30_000;
const SETTLE_MS = 60_000; // a 1000-member join wave's gossip takes ~45 s to drain

/** One room's figures. */
export interface RoomFigures {
  members: number;
  mode: "swim" | "v1";
  convergedMs: number | undefined;
  bytesPerPeerPerSecond: number;
  datagramsPerPeerPerSecond: number;
  /** Virtual ms until every member saw the newcomer. */
  joinKnownMs: number | undefined;
  /** Virtual ms from the crash until every member dropped it. */
  crashDroppedMs: number | undefined;
  /** peer-left events of live members during the steady window (should be 0). */
  falseRemovals: number;
  wallMs: number;
}

function host(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function key(p: { ip: string; port: number }): string {
  return `${p.ip}:${p.port}`;
}

/** Runs one room of `n` members; `threshold` Infinity turns partial views off. */
export async function runRoom(
  n: number,
  threshold: number,
  log = (_: string) => {},
): Promise<RoomFigures> {
  const started = performance.now();
  const net = new MemoryNetwork({ seed: n, startTime: T0, delayMs: { min: 2, max: 20 } });
  const server = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "10.255.0.1",
    port: 5000,
    requestsPerSecond: Infinity,
  });
  // Steady-window bytes by message type code (first byte), to see what the traffic is.
  const byType = new Map<number, number>();
  const bind: DatagramBinder = async (o) => {
    const socket = await net.bind(o);
    const send = socket.send.bind(socket);
    socket.send = (data, to) => {
      if (steady) byType.set(data[0]!, (byType.get(data[0]!) ?? 0) + data.length);
      return send(data, to);
    };
    return socket;
  };
  const options = (i: number) => ({
    bootstraps: ["10.255.0.1:5000"],
    bind,
    clock: net.clock,
    hostname: host(i + 1),
    port: 4000,
    joinTimeoutMs: 120_000,
    maxPeers: 4 * n + 100,
    largeRoomThreshold: threshold,
  });
  let steady = false;
  const rooms: Room[] = [];
  // Counted from events: predicates run after every simulated event, so they must be O(1).
  let complete = 0; // members that see every other one
  const count: number[] = [];
  let watched = ""; // a member whose arrival or departure we wait for
  let watchedJoins = 0;
  let watchedLeaves = 0;
  let falseRemovals = 0;
  const t0 = net.now();
  // Joins spread over a few heartbeats (a thundering herd is the bootstrap's bench).
  const spacing = Math.max(1, Math.floor(10_000 / n));
  const watch = (room: Room, i: number) => {
    count[i] = 0; // every member, known at the join or later, gets one peer-joined event
    const bump = (d: number) => {
      if (count[i] === n - 1) complete--;
      count[i]! += d;
      if (count[i] === n - 1) complete++;
    };
    room.onPeerJoin((p) => {
      bump(1);
      if (key(p) === watched) watchedJoins++;
    });
    room.onPeerLeave((p) => {
      bump(-1);
      if (key(p) === watched) watchedLeaves++;
      else if (steady) falseRemovals++;
    });
  };
  for (let i = 0; i < n; i++) {
    joinRoom("bench", options(i)).then((room) => {
      rooms[i] = room;
      watch(room, i);
    });
    await net.advance(spacing);
  }
  const ok = await net.runUntil(() => complete === n, { timeoutMs: 120_000 });
  const convergedMs = ok ? net.now() - t0 : undefined;
  if (!ok) {
    const short = rooms.filter((r) => r.peers.length !== n - 1).map((r) => r.peers.length);
    log(`  not converged: ${short.length} members see fewer/more (${short.slice(0, 10)})`);
  }
  log(`  ${n} (${threshold === Infinity ? "v1" : "swim"}): converged ${convergedMs} ms`);
  await net.advance(SETTLE_MS); // the joins' gossip has drained: measure the steady state
  steady = true;
  const bytes0 = net.stats.bytesSent;
  const datagrams0 = net.stats.sent;
  await net.advance(STEADY_MS);
  const seconds = STEADY_MS / 1000;
  const bytesPerPeerPerSecond = (net.stats.bytesSent - bytes0) / n / seconds;
  const datagramsPerPeerPerSecond = (net.stats.sent - datagrams0) / n / seconds;
  steady = false;
  const types = [...byType].sort((a, b) => b[1] - a[1]).map(([t, b]) =>
    `${t}: ${(b / n / seconds).toFixed(0)}`
  );
  log(`  ${n}: steady bytes/s per member by type code: ${types.join(", ")}`);

  // A newcomer: how long until every member lists it.
  watched = `${host(n + 1)}:4000`;
  const joinAt = net.now();
  let newcomer: Room | undefined;
  joinRoom("bench", options(n)).then((r) => (newcomer = r));
  const known = await net.runUntil(() => watchedJoins >= n, { timeoutMs: 10 * HEARTBEAT });
  const joinKnownMs = known ? net.now() - joinAt : undefined;
  await net.runUntil(() => newcomer !== undefined);
  rooms.push(newcomer!);
  await net.advance(2 * HEARTBEAT);

  // A crash: how long until every other member dropped it.
  const crashed = rooms[Math.floor(n / 2)]!;
  watched = key(crashed.self);
  watchedLeaves = 0;
  const rest = rooms.filter((r) => r !== crashed);
  net.partition([crashed.self.ip], [...rest.map((r) => r.self.ip), "10.255.0.1"]);
  const crashAt = net.now();
  const dropped = await net.runUntil(() => watchedLeaves >= n - 1, { timeoutMs: 3 * TIMEOUT });
  const crashDroppedMs = dropped ? net.now() - crashAt : undefined;
  net.heal();
  await Promise.all(rooms.map((r) => r.leave()));
  await server.close();
  return {
    members: n,
    mode: threshold === Infinity ? "v1" : "swim",
    convergedMs,
    bytesPerPeerPerSecond,
    datagramsPerPeerPerSecond,
    joinKnownMs,
    crashDroppedMs,
    falseRemovals,
    wallMs: performance.now() - started,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sizes: { type: "string", default: "50,200,1000" },
      v1: { type: "string", default: "50,200" },
    },
  });
  const sizes = values.sizes.split(",").map(Number);
  const v1 = values.v1 ? values.v1.split(",").map(Number) : [];
  const results: RoomFigures[] = [];
  for (const n of v1) results.push(await runRoom(n, Infinity, console.error));
  for (const n of sizes) results.push(await runRoom(n, 32, console.error));
  const base = results.find((r) => r.mode === "swim" && r.members === 50) ?? results[0]!;
  const hb = (ms: number | undefined) => ms === undefined ? "never" : (ms / HEARTBEAT).toFixed(2);
  console.log(
    "| members | mode | converged (s) | bytes/s per member | x 50-member | datagrams/s | join known by all (heartbeats) | crash dropped by all (s) | false removals |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.members} | ${r.mode} | ${
        r.convergedMs === undefined ? "no" : (r.convergedMs / 1000).toFixed(1)
      } | ` +
        `${r.bytesPerPeerPerSecond.toFixed(0)} | ${
          (r.bytesPerPeerPerSecond / base.bytesPerPeerPerSecond).toFixed(2)
        } | ` +
        `${r.datagramsPerPeerPerSecond.toFixed(2)} | ${hb(r.joinKnownMs)} | ` +
        `${
          r.crashDroppedMs === undefined ? "never" : (r.crashDroppedMs / 1000).toFixed(1)
        } | ${r.falseRemovals} |`,
    );
  }
  console.log(
    `(peer timeout ${TIMEOUT / 1000} s, heartbeat ${
      HEARTBEAT / 1000
    } s; swim = partial views (threshold 32 here, so 50 is a SWIM room too), v1 = everyone pings everyone; traffic measured over 30 s after 60 s of settling)`,
  );
}

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
 * 2. Throughput: the external rounds of `tools/bench_udp.ts` (`deno task
 *    bench:udp`): olafload.c (C, closed loop, one socket per member) when gcc
 *    is there, else an in-Deno generator; the bootstrap beside a bare C echo
 *    and a bare Deno echo of the same run, replies/s and CPU per reply.
 *    Targets (issue 15): >= 0.85x the Deno echo, >= 0.35x the C echo.
 *
 * Flags: --sockets N (128), --rooms N (32), --seconds S (2), --rounds N (3),
 * --skip-memory, --skip-udp.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encode } from "@olaf/protocol";
import { BootstrapCore } from "./bootstrap_core.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sockets: { type: "string", default: "128" },
    rooms: { type: "string", default: "32" },
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    "skip-memory": { type: "boolean", default: false },
    "skip-udp": { type: "boolean", default: false },
  },
});

if (!values["skip-memory"]) memoryBench();
reportBench();
joinBench();
if (!values["skip-udp"]) await udpBench();

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

/**
 * The UDP figures come from `tools/bench_udp.ts` (one bench, not two): external load from
 * `olafload.c` built with gcc (the in-Deno generator without gcc), every server in its own
 * process, the bootstrap beside a bare C echo and a bare `Deno.listenDatagram` echo of the same
 * run, and Olaf's adapter echo to separate the adapter's cost.
 */
async function udpBench(): Promise<void> {
  const script = new URL("../tools/bench_udp.ts", import.meta.url).pathname;
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      script,
      "--servers",
      "c-echo,deno-echo,olaf-echo,bootstrap",
      "--rounds",
      values.rounds,
      "--seconds",
      values.seconds,
      "--peers",
      values.sockets,
      "--rooms",
      values.rooms,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`tools/bench_udp.ts failed (code ${status.code})`);
}

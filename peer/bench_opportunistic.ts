/**
 * Opportunistic encryption's cost in an open room (issue 10), on the in-memory network (virtual
 * time, deterministic traffic): `deno task bench:opportunistic [--members 50] [--rounds 2]`.
 * The same 50-member room runs with it off (the baseline: plaintext v1) and on, in one run.
 * Phases: a quiet minute after convergence (background upgrades only: rooms of at most 16
 * members, so none here), then every member sends one line per round to everyone (lazy
 * upgrades), then a quiet minute. Per member: handshakes started and answered, links sealed,
 * bytes and datagrams sent, and the CPU the whole run took (process utime + stime).
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Room } from "./room.ts";
import { converged, simWorld } from "../tests/_sim_world.ts";
import { cpuSeconds } from "../tools/_bench.ts";

const HEARTBEAT = 3000;

interface Figures {
  opportunistic: boolean;
  convergedMs: number;
  started: number;
  answered: number;
  sealed: number;
  bytesOut: number;
  datagramsOut: number;
  heard: number;
  cpuS: number;
}

async function run(members: number, rounds: number, opportunistic: boolean): Promise<Figures> {
  const cpu0 = cpuSeconds(Deno.pid) ?? 0;
  const world = await simWorld({
    seed: members,
    bootstrapHost: "10.9.0.1",
    room: "bench",
    bootstrap: { requestsPerSecond: Infinity },
  });
  const { net, boot: server } = world;
  const rooms = await world.joinMany(members, { joinTimeoutMs: 60_000, opportunistic });
  const start = net.now();
  await net.runUntil(() => converged(rooms), { timeoutMs: 60_000 });
  const convergedMs = net.now() - start;
  await net.advance(60_000);
  let heard = 0;
  for (const r of rooms) r.onMessage(() => heard++);
  for (let round = 0; round < rounds; round++) {
    rooms.forEach((r, i) => r.send(`line ${round} from ${i}`));
    await net.advance(HEARTBEAT);
  }
  await net.advance(60_000);
  const sum = (f: (r: Room) => number) => rooms.reduce((n, r) => n + f(r), 0) / members;
  const figures: Figures = {
    opportunistic,
    convergedMs,
    started: sum((r) => r.stats.opportunistic.started),
    answered: sum((r) => r.stats.opportunistic.answered),
    sealed: sum((r) => r.stats.opportunistic.sealed),
    bytesOut: sum((r) => r.stats.bytesOut),
    datagramsOut: sum((r) => r.stats.datagramsOut),
    heard: heard / (members * (members - 1) * rounds),
    cpuS: 0,
  };
  await Promise.all(rooms.map((r) => r.leave()));
  await server.close();
  figures.cpuS = (cpuSeconds(Deno.pid) ?? 0) - cpu0;
  return figures;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      members: { type: "string", default: "50" },
      rounds: { type: "string", default: "2" },
    },
  });
  const members = Number(values.members);
  const rounds = Number(values.rounds);
  const load = Deno.loadavg()[0].toFixed(2);
  console.log(
    `open room of ${members}, ${rounds} line(s) from every member to everyone; load ${load}`,
  );
  const off = await run(members, rounds, false);
  const on = await run(members, rounds, true);
  console.log(
    "| opportunistic | converged (virtual ms) | handshakes started / answered per member | " +
      "links sealed per member | KiB sent per member | datagrams per member | lines heard | CPU s |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const f of [off, on]) {
    console.log(
      `| ${f.opportunistic ? "on" : "off (baseline)"} | ${f.convergedMs} | ` +
        `${f.started.toFixed(1)} / ${f.answered.toFixed(1)} | ${f.sealed.toFixed(1)} | ` +
        `${(f.bytesOut / 1024).toFixed(1)} | ${f.datagramsOut.toFixed(0)} | ` +
        `${(f.heard * 100).toFixed(1)}% | ${f.cpuS.toFixed(2)} |`,
    );
  }
  console.log(
    `on/off: bytes ${(on.bytesOut / off.bytesOut).toFixed(3)}x, datagrams ` +
      `${(on.datagramsOut / off.datagramsOut).toFixed(3)}x, CPU ${
        (on.cpuS / off.cpuS).toFixed(2)
      }x`,
  );
}

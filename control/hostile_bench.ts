// Issue 12, control-plane attacks measured against a bootstrap with --http,
// for a baseline tree and this tree in the same run (figures, not asserts):
//
//   deno run -A control/hostile_bench.ts [--baseline /work/baseline] [--streams 2000]
//
// 1. /events flood: open N streams that never read, then a burst of JOIN_B
//    from 200 loopback sources (each event goes to every stream) while a probe
//    source sends 30 paced JOIN_B; report streams accepted, the server's RSS at
//    the peak and 3 s after the streams closed, and the probe's answers and
//    worst latency.
// 2. Session store: one address registers 200 sessions as fast as the rate
//    limit lets it; report how many it holds.
// 3. Partial headers: 500 connections that send half a request; report the
//    server's RSS growth and whether /health still answers.
// Every loop is bounded in count and time; traffic stays on 127.0.0.0/8.
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { decode, encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket } from "@olaf/protocol/net";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    baseline: { type: "string", default: "/work/baseline" },
    streams: { type: "string", default: "2000" },
  },
});
const STREAMS = Number(values.streams);
const here = new URL("..", import.meta.url).pathname;

interface Figures {
  streamsAccepted: number;
  rssPeakMb: number;
  rssAfterMb: number;
  probeAnswered: number;
  probeWorstMs: number;
  datagramsIn: number;
  datagramsOut: number;
  sessionsHeld: number;
  partialRssMb: number;
  healthOk: boolean;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startTree(root: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "bootstrap/mod.ts",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--http",
      "0",
      "--max-rooms",
      "1000",
      "--log-level",
      "error",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`no start-up line from ${root}`);
    text += value;
  }
  const match = /udp:\/\/127\.0\.0\.1:(\d+) \(control plane (http:\S+\/)\)/.exec(text);
  if (!match) throw new Error(text);
  // Keep draining stdout so the child never blocks on it.
  (async () => {
    while (!(await lines.read()).done);
  })().catch(() => {});
  return { child, udpPort: Number(match[1]), http: new URL(match[2]) };
}

async function measure(root: string): Promise<Figures> {
  const { child, udpPort, http } = await startTree(root);
  const target = { hostname: "127.0.0.1", port: udpPort };
  try {
    // 1. /events flood: raw HTTP from 20 streams per loopback address (under
    // the HTTP rate limit's burst), each read once for its status and then
    // never again.
    const streams: Socket[] = [];
    let accepted = 0;
    for (let i = 0; i < STREAMS; i++) {
      const localAddress = `127.0.3.${1 + Math.floor(i / 20)}`;
      const status = await new Promise<string>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port: Number(http.port), localAddress });
        streams.push(socket);
        const timer = setTimeout(() => resolve("timeout"), 10_000);
        socket.once("data", (chunk: Uint8Array) => {
          clearTimeout(timer);
          socket.pause();
          resolve(new TextDecoder().decode(chunk).slice(9, 12));
        });
        socket.once("error", () => resolve("error"));
        socket.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
      });
      if (status === "200") accepted++;
    }
    const sources: DatagramSocket[] = [];
    for (let i = 0; i < 200; i++) {
      sources.push(await bindDatagram({ hostname: `127.0.1.${i + 1}`, port: 0 }));
    }
    const probe = await bindDatagram({ hostname: "127.0.2.1", port: 0 });
    // Replies carry no room name: the probe's answers come back in order.
    const sentAt: number[] = [];
    let answered = 0;
    let worst = 0;
    const probeDone = (async () => {
      for await (const { data } of probe) {
        if (decode(data).type !== "BOOTSTRAP_R") continue;
        const at = sentAt[answered++];
        if (at !== undefined) worst = Math.max(worst, performance.now() - at);
      }
    })().catch(() => {});
    let peak = rssMb(child.pid);
    for (let round = 0; round < 30; round++) {
      // The probe goes first: a full socket buffer would drop whatever comes last.
      const room = `probe-${round}`;
      sentAt.push(performance.now());
      probe.send(encode({ type: "JOIN_B", peers: [], room }), target);
      // 200 sources x 1 new room each per round: 400 events per round.
      for (const [s, socket] of sources.entries()) {
        socket.send(
          encode({ type: "JOIN_B", peers: [], room: `flood-${round}-${s % 20}` }),
          target,
        );
      }
      await sleep(100);
      peak = Math.max(peak, rssMb(child.pid));
    }
    await sleep(5000); // late answers count, with their real latency
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, rssMb(child.pid));
      await sleep(100);
    }
    await probe.close();
    await probeDone;
    const metrics = await (await fetch(new URL("/metrics", http))).text();
    const count = (direction: string) =>
      Number(
        new RegExp(`^olaf_datagrams_total\\{direction="${direction}"\\} (\\d+)$`, "m")
          .exec(metrics)?.[1] ?? 0,
      );
    const datagramsIn = count("in");
    const datagramsOut = count("out");
    for (const socket of sources) await socket.close();
    for (const socket of streams) socket.destroy();
    await sleep(3000);
    const after = rssMb(child.pid);

    // 2. One address fills the session store.
    let held = 0;
    const started = performance.now();
    for (let i = 0; i < 200 && performance.now() - started < 30_000; i++) {
      const res = await fetch(new URL("/games/register", http), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: `squat-${i}`, peerId: 1 }),
      });
      const body = await res.json();
      if (res.status === 201) held++;
      else if (body.error === "rate-limited") {
        await sleep(1000); // the rate limit, not a quota: wait for tokens
        i--;
      }
    }

    // 3. Partial headers.
    const before = rssMb(child.pid);
    const conns: Deno.Conn[] = [];
    for (let i = 0; i < 500; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(http.port) });
      await conn.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "));
      conns.push(conn);
    }
    await sleep(1000);
    const partialRss = rssMb(child.pid) - before;
    const health = await fetch(new URL("/health", http)).catch(() => undefined);
    const healthOk = health?.status === 200;
    await health?.body?.cancel();
    for (const conn of conns) conn.close();

    return {
      streamsAccepted: accepted,
      rssPeakMb: peak,
      rssAfterMb: after,
      probeAnswered: answered,
      probeWorstMs: worst,
      datagramsIn,
      datagramsOut,
      sessionsHeld: held,
      partialRssMb: partialRss,
      healthOk,
    };
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

const baseline = await measure(values.baseline!);
const ours = await measure(here);
const rows: [string, (f: Figures) => string][] = [
  [`/events streams accepted of ${STREAMS}`, (f) => String(f.streamsAccepted)],
  ["RSS at peak (MB)", (f) => f.rssPeakMb.toFixed(0)],
  ["RSS 3 s after the streams closed (MB)", (f) => f.rssAfterMb.toFixed(0)],
  [
    "JOIN_B the server received / answered of 6030 sent",
    (f) => `${f.datagramsIn} / ${f.datagramsOut}`,
  ],
  ["probe JOIN_B answered of 30", (f) => String(f.probeAnswered)],
  ["probe worst latency (ms)", (f) => f.probeWorstMs.toFixed(0)],
  ["sessions one address holds after 200 registers", (f) => String(f.sessionsHeld)],
  ["RSS growth for 500 partial-header connections (MB)", (f) => f.partialRssMb.toFixed(1)],
  ["/health answers meanwhile", (f) => (f.healthOk ? "yes" : "no")],
];
console.log(`| measure | before (${values.baseline}) | after (this tree) |`);
console.log("| --- | ---: | ---: |");
for (const [label, get] of rows) console.log(`| ${label} | ${get(baseline)} | ${get(ours)} |`);

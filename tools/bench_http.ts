/**
 * Control plane over real HTTP (`deno task bench:http`): `GET /stats` of the
 * control app beside a bare Hono hello and a bare `Deno.serve` hello, each
 * server in a process of its own, measured in the same run. Load: `wrk`
 * when installed (`apt-get install wrk`), else a Deno fetch loop in a
 * separate process. Prints requests/s and the server's CPU per request
 * (`/proc/<pid>/stat`), with ratios. Target (issue 15): `/stats` >= 0.6x Hono.
 *
 * Flags: --seconds S (2), --rounds N (3), --connections N (32),
 * --servers a,b,... (all), --json (medians as JSON, for `bench:table`), --before DIR (also runs `control-stats` from the checkout in DIR, which
 * must hold this file too: before/after in one run). Internal: --serve KIND, --load URL.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { createControlApp } from "../control/app.ts";
import { MemoryBootstrapView } from "../control/memory_bootstrap_view.ts";
import { cpuSeconds, median } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    servers: { type: "string" },
    before: { type: "string" },
    json: { type: "boolean", default: false },
    serve: { type: "string" },
    load: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
if (!(seconds > 0 && seconds <= 30) || !(connections >= 1 && connections <= 1024)) {
  throw new RangeError("need 0 < --seconds <= 30 and 1 <= --connections <= 1024");
}

const SERVERS = {
  "deno-hello": "/",
  "hono-hello": "/",
  "control-health": "/health",
  "control-stats": "/stats",
  "control-stats-before": "/stats",
} as const;
type ServerKind = keyof typeof SERVERS;

if (values.serve !== undefined) serve(values.serve as ServerKind);
else if (values.load !== undefined) await fetchLoad(values.load);
else await main();

function serve(kind: ServerKind): void {
  let handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  if (kind === "deno-hello") {
    handler = () => new Response("hello");
  } else if (kind === "hono-hello") {
    const app = new Hono();
    app.get("/", (c) => c.text("hello"));
    handler = app.fetch;
  } else {
    const view = new MemoryBootstrapView();
    for (let i = 0; i < 100; i++) {
      for (let m = 0; m < 10; m++) {
        view.join(`room-${i}`, { ip: "203.0.113.7", port: 1000 + i * 10 + m, id: m });
      }
    }
    // The rate limiter runs (its cost is part of the figure) but never refuses.
    const app = createControlApp({
      bootstrap: view,
      rateLimit: { capacity: 1e12, refillPerSecond: 1e12 },
    });
    handler = (request, info) => app.fetch(request, info);
  }
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(`PORT ${port}`),
  }, handler);
}

/** Fallback load: `connections` fetch loops for `seconds`; prints `requests=N`. */
async function fetchLoad(url: string): Promise<void> {
  let requests = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) requests++;
    }
  }));
  console.log(`requests=${requests}`);
}

async function hasWrk(): Promise<boolean> {
  try {
    return (await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" })
      .output()).code <= 1;
  } catch {
    return false;
  }
}

/** Requests served, and over how many seconds (wrk's own measure of its run). */
async function load(
  wrk: boolean,
  url: string,
  secs: number,
): Promise<{ requests: number; seconds: number }> {
  const command = wrk
    ? new Deno.Command("wrk", {
      // wrk takes whole seconds only ("-d0.5s" is an error): round up, rate over wrk's own time.
      args: ["-t1", `-c${connections}`, `-d${Math.max(1, Math.ceil(secs))}s`, url],
      stdout: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--load",
        url,
        "--seconds",
        String(secs),
        "--connections",
        String(connections),
      ],
      stdout: "piped",
    });
  const out = await command.output();
  const text = new TextDecoder().decode(out.stdout);
  if (wrk) {
    const m = /(\d+) requests in ([\d.]+)(ms|s|m)\b/.exec(text);
    if (!m || /Non-2xx/.test(text)) throw new Error(`wrk failed or got errors: ${text}`);
    const scale = m[3] === "ms" ? 1e-3 : m[3] === "m" ? 60 : 1;
    return { requests: Number(m[1]), seconds: Number(m[2]) * scale };
  }
  const m = /requests=(\d+)/.exec(text);
  if (!m) throw new Error(`fetch load failed: ${text}`);
  return { requests: Number(m[1]), seconds: secs };
}

interface Sample {
  rate: number;
  cpuMicros: number;
}

async function measure(wrk: boolean, kind: ServerKind): Promise<Sample> {
  const child = new Deno.Command(Deno.execPath(), {
    args: kind.endsWith("-before")
      ? ["run", "-A", `${values.before}/tools/bench_http.ts`, "--serve", "control-stats"]
      : ["run", "-A", new URL(import.meta.url).pathname, "--serve", kind],
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/PORT (\d+)\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${kind} exited before listening`);
      text += value;
    }
    reader.releaseLock();
    const url = `http://127.0.0.1:${/PORT (\d+)/.exec(text)![1]}${SERVERS[kind]}`;
    await load(wrk, url, 1); // warm-up (JIT)
    const cpu0 = cpuSeconds(child.pid) ?? NaN;
    const run = await load(wrk, url, seconds);
    const cpu = (cpuSeconds(child.pid) ?? NaN) - cpu0;
    return { rate: run.requests / run.seconds, cpuMicros: (cpu * 1e6) / run.requests };
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

async function main(): Promise<void> {
  const wrk = await hasWrk();
  const rounds = Number(values.rounds);
  const kinds = (values.servers?.split(",") ??
    Object.keys(SERVERS).filter((k) => !k.endsWith("-before"))) as ServerKind[];
  if (values.before !== undefined) kinds.push("control-stats-before");
  for (const k of kinds) if (!(k in SERVERS)) throw new Error(`unknown server ${k}`);
  const samples = new Map<ServerKind, Sample[]>(kinds.map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
    for (const kind of order) samples.get(kind)!.push(await measure(wrk, kind));
  }
  const result = new Map([...samples].map(([kind, list]) => [kind, {
    rate: median(list.map((s) => s.rate)),
    cpuMicros: median(list.map((s) => s.cpuMicros)),
  }]));
  if (values.json) {
    console.log(JSON.stringify({ load: wrk ? "wrk" : "fetch", ...Object.fromEntries(result) }));
    return;
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const hono = result.get("hono-hello");
  const deno = result.get("deno-hello");
  const ratio = (a: number, b: number | undefined) =>
    b === undefined ? "  -  " : `${(a / b).toFixed(2)}x`;
  console.log(
    `http bench: load ${wrk ? "wrk" : "Deno fetch loop"}, ${connections} connections, ` +
      `${rounds} rounds x ${seconds} s, medians; Deno ${Deno.version.deno}`,
  );
  console.log("server           path       req/s   vs Hono  vs Deno   CPU µs/req  CPU vs Hono");
  for (const [kind, s] of result) {
    console.log(
      `${kind.padEnd(15)}  ${SERVERS[kind].padEnd(8)} ${fmt(s.rate).padStart(8)}  ` +
        `${ratio(s.rate, hono?.rate).padStart(7)}  ${ratio(s.rate, deno?.rate).padStart(7)}   ` +
        `${s.cpuMicros.toFixed(1).padStart(10)}  ${
          ratio(hono?.cpuMicros ?? NaN, s.cpuMicros).padStart(11)
        }`,
    );
  }
  const stats = result.get("control-stats");
  if (stats && hono) {
    const r = stats.rate / hono.rate;
    console.log(
      `target: GET /stats ${r.toFixed(2)}x a bare Hono hello (>= 0.6 ${
        r >= 0.6 ? "OK" : "BELOW"
      })` +
        `; CPU-bound ${(hono.cpuMicros / stats.cpuMicros).toFixed(2)}x`,
    );
  }
}

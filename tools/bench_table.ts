/**
 * The root README's benchmark table from one run (`deno task bench:table`).
 *
 * Runs, one after another and each once: the codec micro-benchmarks (`deno bench --json`), the
 * bootstrap's memory and JOIN_B cost (`bootstrap/bench.ts --skip-udp`), `bench:udp`,
 * `bench:shards` and `bench:http` (`--json`). Prints a markdown table with every figure beside the
 * baseline of the same run and the ratio, CPU per reply or request beside the rate (the steadier
 * of the two on a shared machine), and the load average before and after (say it beside the
 * table). The peer, reliable, rooms and secure rows come from their own tasks and are not here.
 *
 * Flags: --seconds S (2), --rounds N (3): passed to bench:udp, bench:shards and bench:http;
 * --skip-shards.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadAverage } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    "skip-shards": { type: "boolean", default: false },
  },
});

const root = new URL("..", import.meta.url).pathname;

interface Sample {
  rate: number;
  cpuMicros: number;
}

/** Runs `deno <args>` in the repository root; its stdout, or throws with its stderr. */
async function deno(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** The last line of `text` that parses as a JSON object. */
function lastJson(text: string): Record<string, unknown> {
  const lines = text.trim().split("\n").reverse();
  for (const line of lines) {
    if (line.startsWith("{")) return JSON.parse(line);
  }
  throw new Error(`no JSON in:\n${text}`);
}

const k = (n: number) => `${(n / 1000).toFixed(1)} k/s`;
const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const us = (n: number) => `${n.toFixed(1)} µs`;

const rows: [string, string, string][] = [];
const before = loadAverage();
const timed = ["--seconds", values.seconds!, "--rounds", values.rounds!];

// Codec: nanoseconds per iteration from `deno bench --json`.
{
  const report = JSON.parse(await deno(["bench", "--json", "protocol/codec_bench.ts"])) as {
    benches: { name: string; group?: string; results: { ok?: { avg: number } }[] }[];
  };
  const avg = (group: string, name: string) => {
    const bench = report.benches.find((b) => b.group === group && b.name === name);
    const ns = bench?.results[0]?.ok?.avg;
    if (ns === undefined) throw new Error(`codec bench ${group} / ${name} missing`);
    return ns;
  };
  const group = "decode BOOTSTRAP_R, 10 peers";
  const olaf = 1e9 / avg(group, "olaf decode");
  const eager = 1e9 / avg(group, "eager object-per-record decoder (baseline)");
  rows.push([
    "decode a 10-peer `BOOTSTRAP_R` (`deno bench protocol/codec_bench.ts`)",
    `${(olaf / 1e6).toFixed(1)} M decodes/s`,
    `eager object-per-record decoder ${(eager / 1e6).toFixed(2)} M/s: ${x(olaf, eager)}`,
  ]);
}

// Bootstrap memory per member and JOIN_B cost (sans-IO core, no sockets).
{
  const text = await deno([
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    "bootstrap/bench.ts",
    "--skip-udp",
  ]);
  const memory = /([\d.]+) bytes\/member/.exec(text);
  const join = /([\d.]+) µs at 10 members, ([\d.]+) µs at 1000 \(ratio ([\d.]+)/.exec(text);
  if (memory) {
    rows.push([
      "bootstrap memory, 100,000 rooms x 10 members (`deno task bench:bootstrap`)",
      `${memory[1]} bytes per member`,
      "target 300",
    ]);
  }
  if (join) {
    rows.push([
      "JOIN_B cost in a 1000- vs a 10-member room (`deno task bench:bootstrap`)",
      `${join[2]} µs vs ${join[1]} µs`,
      `ratio ${join[3]} (target 3)`,
    ]);
  }
}

// The UDP path under external load.
{
  const servers = "c-echo,deno-echo,olaf-echo,bootstrap,bootstrap-opsend,bootstrap-node";
  const udp = lastJson(
    await deno(["run", "-A", "tools/bench_udp.ts", "--json", "--servers", servers, ...timed]),
  ) as Record<string, Sample> & { load: string };
  const c = udp["c-echo"];
  const d = udp["deno-echo"];
  const line = (what: string, s: Sample | undefined) => {
    if (!s || !c || !d) return;
    rows.push([
      what,
      `${k(s.rate)}, ${us(s.cpuMicros)} CPU per reply`,
      `Deno echo ${k(d.rate)}, ${us(d.cpuMicros)}: ${x(s.rate, d.rate)} by rate, ` +
      `${x(d.cpuMicros, s.cpuMicros)} by CPU; C echo ${x(s.rate, c.rate)} / ` +
      `${x(c.cpuMicros, s.cpuMicros)} (targets 0.85x, 0.35x)`,
    ]);
  };
  const load = udp.load === "olafload" ? "olafload" : "an in-Deno load";
  line(`bootstrap replies under ${load} (\`deno task bench:udp\`)`, udp["bootstrap"]);
  line("the same with Deno's send op (no `directSend`)", udp["bootstrap-opsend"]);
  line("the same on `node:dgram` (what `deno run -A jsr:` gets)", udp["bootstrap-node"]);
  line("an echo through Olaf's deno adapter", udp["olaf-echo"]);
  if (c && d) {
    rows.push([
      "bare C echo / bare `Deno.listenDatagram` echo (the baselines above)",
      `${k(c.rate)}, ${us(c.cpuMicros)} / ${k(d.rate)}, ${us(d.cpuMicros)}`,
      `Deno echo ${x(d.rate, c.rate)} the C echo by rate, ${x(c.cpuMicros, d.cpuMicros)} by CPU`,
    ]);
  }
}

// Shards: one process vs two, under the same two load generators.
if (!values["skip-shards"]) {
  const shards = lastJson(
    await deno(["run", "-A", "tools/bench_udp.ts", "--shards", "2", "--json", ...timed]),
  ) as Record<string, Sample>;
  const one = shards["bootstrap x1"];
  const two = shards["bootstrap x2"];
  if (one && two) {
    rows.push([
      "bootstrap as 2 shards (`deno task bench:shards`)",
      `${k(two.rate)}, ${us(two.cpuMicros)} CPU per reply`,
      `1 process ${k(one.rate)}, ${us(one.cpuMicros)}: ${x(two.rate, one.rate)} by rate`,
    ]);
  }
}

// The control plane over real HTTP.
{
  const http = lastJson(
    await deno(["run", "-A", "tools/bench_http.ts", "--json", ...timed]),
  ) as Record<string, Sample> & { load: string };
  const hono = http["hono-hello"];
  for (const [kind, what] of [["control-stats", "GET /stats"], ["control-health", "GET /health"]]) {
    const s = http[kind!];
    if (!s || !hono) continue;
    rows.push([
      `control \`${what}\` over HTTP (\`deno task bench:http\`, ${http.load})`,
      `${k(s.rate)}, ${us(s.cpuMicros)} CPU per request`,
      `bare Hono hello ${k(hono.rate)}, ${us(hono.cpuMicros)}: ${x(s.rate, hono.rate)} by rate, ` +
      `${x(hono.cpuMicros, s.cpuMicros)} by CPU (target 0.6x)`,
    ]);
  }
}

const after = loadAverage();
const header: [string, string, string] = ["what (command)", "figure", "baseline, ratio"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${values.rounds} rounds x ` +
    `${values.seconds} s (medians); load average ${before} before, ${after} after.\n`,
);
console.log(row(header));
console.log(row(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(row(r));

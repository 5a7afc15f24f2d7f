/**
 * External-load UDP benchmark (`deno task bench:udp`).
 *
 * Every server runs in a process of its own and the load comes from another
 * one, so the server's CPU accounting (`/proc/<pid>/stat`) is its own:
 *
 * - load: `../shared/tools/olafload.c` (a C closed-loop JOIN_B generator, one
 *   socket per simulated peer), built with `gcc -O2` into a temp dir; without
 *   gcc or that file, an in-Deno closed-loop generator (`--load`).
 * - servers, measured in the same run, rounds in rotating order:
 *   - `c-echo`: a bare C `recvfrom`/`sendto` echo (source below, built with gcc);
 *   - `deno-echo`: a bare `Deno.listenDatagram` echo (not Olaf's adapter);
 *   - `olaf-echo`: an echo through Olaf's `bindDatagram` (deno adapter), to
 *     separate the adapter's cost from the bootstrap's;
 *   - `bootstrap`: `startBootstrap` on the deno adapter, with `directSend` (its default);
 *   - `bootstrap-node`: `startBootstrap` on the `node:dgram` adapter, with `directSend`.
 *
 * Prints replies/s and server CPU per reply, each beside the C and Deno echo
 * of the same run (medians over the rounds). Targets (issue 15): bootstrap
 * >= 0.85x the Deno echo and >= 0.35x the C echo.
 *
 * Shards (`deno task bench:shards`, i.e. `--shards 2`): `bootstrap` as 1 process and as N
 * processes (the `--shards N` layout), under the same N olafload processes (PEERS/N peers each,
 * load i on shard i mod the server count), medians of rotating rounds; replies/s summed and CPU
 * per reply over every server process, beside the C echo.
 *
 * `deno task bench:bootstrap` runs the external rounds of this file for its UDP figures.
 *
 * Flags: --seconds S (2), --rounds N (3), --peers N (128), --rooms N (32),
 * --window N (1), --servers a,b,... (all), --deno-load (skip olafload), --json, --shards N,
 * --before DIR (also runs `bootstrap` and `olaf-echo` from the checkout in DIR, which must hold
 * this file too, e.g. a `git worktree` of an older commit: before/after figures in one run).
 * Internal: --serve KIND, --load PORT.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bindDatagram, type DatagramSocket } from "@olaf/protocol/net";
import { encode } from "@olaf/protocol";
import { startBootstrap } from "../bootstrap/server.ts";
import { cpuSeconds, median } from "./_bench.ts";
import { openDirectSender } from "../protocol/net/_direct_send.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    peers: { type: "string", default: "128" },
    rooms: { type: "string", default: "32" },
    window: { type: "string", default: "1" },
    servers: { type: "string" },
    "deno-load": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    before: { type: "string" },
    shards: { type: "string" },
    serve: { type: "string" },
    load: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const PEERS = Number(values.peers);
const peers = PEERS;
const rooms = Number(values.rooms);
const window = Number(values.window);
if (!(seconds > 0 && seconds <= 30) || !(peers >= 1 && peers <= 4096) || !(rooms >= 1)) {
  throw new RangeError("need 0 < --seconds <= 30, 1 <= --peers <= 4096, --rooms >= 1");
}

const C_ECHO = `#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  socklen_t l = sizeof a;
  int rcv = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  getsockname(fd, (struct sockaddr *)&a, &l);
  printf("PORT %d\\n", ntohs(a.sin_port));
  fflush(stdout);
  unsigned char buf[65536];
  for (;;) {
    struct sockaddr_in from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n >= 0) sendto(fd, buf, n, 0, (struct sockaddr *)&from, fl);
  }
}
`;

const SERVERS = ["c-echo", "deno-echo", "olaf-echo", "bootstrap", "bootstrap-node"] as const;
/**
 * Receive-path options, measured on request (`--servers deno-echo,deno-echo-2loops,...`):
 * `deno-echo-2loops` runs two receive loops on one socket (two receives in flight), and
 * `deno-echo-nowait` does not await its send before the next receive (what Olaf's adapter does).
 * Send-path options (issue 15): `deno-echo-direct` is the bare Deno echo with its send replaced by
 * a synchronous `sendto(2)` through FFI (`protocol/net/_direct_send.ts`), `olaf-echo-direct` the
 * adapter echo with `directSend`, and `bootstrap-opsend` the bootstrap on Deno's send op (what it
 * used before `directSend`; `bootstrap` is the default binder, with it).
 */
const OPTIONS = [
  "deno-echo-2loops",
  "deno-echo-nowait",
  "deno-echo-direct",
  "olaf-echo-direct",
  "bootstrap-opsend",
] as const;
type ServerKind =
  | typeof SERVERS[number]
  | typeof OPTIONS[number]
  | "bootstrap-before"
  | "olaf-echo-before";

if (values.serve !== undefined) {
  await serve(values.serve as ServerKind);
} else if (values.load !== undefined) {
  await denoLoad(Number(values.load));
} else {
  await main();
}

// ------------------------------------------------------------------ servers

/** Runs one server in this process; prints `PORT n` and serves until killed. */
async function serve(kind: ServerKind): Promise<void> {
  const hostname = "127.0.0.1";
  let port: number;
  if (kind === "deno-echo" || kind === "deno-echo-2loops" || kind === "deno-echo-nowait") {
    const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    port = (conn.addr as Deno.NetAddr).port;
    const nowait = kind === "deno-echo-nowait";
    for (let loop = 0; loop < (kind === "deno-echo-2loops" ? 2 : 1); loop++) {
      (async () => {
        const buffer = new Uint8Array(65536);
        for (;;) {
          const [data, from] = await conn.receive(buffer);
          if (nowait) conn.send(data.slice(), from).catch(() => {});
          else await conn.send(data, from);
        }
      })();
    }
  } else if (kind === "deno-echo-direct") {
    // Deno's receive op, and a synchronous sendto(2) through FFI instead of Deno's send op.
    const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    port = (conn.addr as Deno.NetAddr).port;
    const direct = openDirectSender(hostname, port);
    if (!direct) throw new Error("deno-echo-direct needs Linux, glibc and --allow-ffi");
    const buffer = new Uint8Array(65536);
    (async () => {
      for (;;) {
        const [data, from] = await conn.receive(buffer);
        const { hostname, port } = from as Deno.NetAddr;
        direct.send(data, hostname, port);
      }
    })();
  } else if (kind === "olaf-echo" || kind === "olaf-echo-direct") {
    let socket: DatagramSocket | undefined = undefined;
    socket = await bindDatagram({
      hostname,
      implementation: "deno",
      directSend: kind === "olaf-echo-direct",
      onDatagram: (data, from) => socket!.send(data, from),
    });
    port = socket.localAddress.port;
  } else if (kind.startsWith("bootstrap")) {
    const implementation = kind === "bootstrap-node" ? "node" : "deno";
    // `bootstrap` is the default binder's choice (bootstrap/_udp.ts).
    const directSend = kind !== "bootstrap-opsend";
    const server = await startBootstrap({
      hostname,
      port: 0,
      bind: (options) => bindDatagram({ ...options, implementation, directSend }),
      maxRooms: rooms * 2,
      requestsPerSecond: Infinity, // every simulated peer shares 127.0.0.1
      replyBytesPerSecond: Infinity,
      roomsPerSource: Infinity, // (issue 12's guards too)
      amplificationFactor: Infinity,
      unvalidatedBytesPerSecond: Infinity,
    });
    port = server.localAddress.port;
  } else {
    throw new Error(`unknown server ${kind}`);
  }
  console.log(`PORT ${port}`);
  await new Promise(() => {}); // until killed
}

// ------------------------------------------------------------------ load

/** The in-Deno fallback generator: same closed loop and output as olafload. */
async function denoLoad(port: number): Promise<void> {
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  let got = 0;
  let sent = 0;
  let running = true;
  const start = performance.now();
  const loops = Array.from({ length: peers }, async (_, i) => {
    const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const join = encode({ type: "JOIN_B", peers: [], room: `r${i % rooms}` });
    const buffer = new Uint8Array(65536);
    for (let w = 0; w < window; w++, sent++) await conn.send(join, to);
    // A lost datagram would stall this peer: resend after 200 ms of silence.
    while (running) {
      const timer = setTimeout(() => conn.send(join, to).then(() => sent++, () => {}), 200);
      try {
        await conn.receive(buffer);
      } catch {
        break;
      } finally {
        clearTimeout(timer);
      }
      got++;
      if (running) {
        await conn.send(join, to);
        sent++;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  const elapsed = (performance.now() - start) / 1000;
  const replies = got;
  console.log(`sent=${sent} replies=${replies}`);
  console.log(`replies_per_s=${Math.round(replies / elapsed)}`);
  Deno.exit(0); // the receive loops never end on their own
  await Promise.all(loops);
}

interface Tools {
  dir: string;
  cEcho: string | undefined;
  olafload: string | undefined;
}

async function gcc(dir: string, name: string, source: string): Promise<string | undefined> {
  const src = `${dir}/${name}.c`;
  const out = `${dir}/${name}`;
  await Deno.writeTextFile(src, source);
  try {
    const result = await new Deno.Command("gcc", { args: ["-O2", "-o", out, src], stderr: "piped" })
      .output();
    if (!result.success) {
      console.error(`gcc ${name}: ${new TextDecoder().decode(result.stderr)}`);
      return undefined;
    }
    return out;
  } catch {
    return undefined; // no gcc
  }
}

async function buildTools(): Promise<Tools> {
  const dir = await Deno.makeTempDir({ prefix: "olaf-udp-bench-" });
  const cEcho = await gcc(dir, "echo", C_ECHO);
  let olafload: string | undefined = undefined;
  if (!values["deno-load"]) {
    const path = new URL("../../shared/tools/olafload.c", import.meta.url);
    const source = await Deno.readTextFile(path).catch(() => undefined);
    if (source !== undefined) olafload = await gcc(dir, "olafload", source);
  }
  return { dir, cEcho, olafload };
}

async function runLoad(
  tools: Tools,
  port: number,
  secs: number,
  peers: number = PEERS,
): Promise<number> {
  const command = tools.olafload
    ? new Deno.Command(tools.olafload, {
      args: [String(port), String(peers), String(rooms), String(secs), String(window)],
      stdout: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--load",
        String(port),
        "--peers",
        String(peers),
        "--rooms",
        String(rooms),
        "--seconds",
        String(secs),
        "--window",
        String(window),
      ],
      stdout: "piped",
    });
  const output = await command.output();
  const text = new TextDecoder().decode(output.stdout);
  const replies = /(?:^|\s)replies=(\d+)/.exec(text);
  if (!output.success || !replies) throw new Error(`load generator failed: ${text}`);
  return Number(replies[1]);
}

interface Sample {
  rate: number;
  cpuMicros: number;
}

/** Starts one server process of `kind`; resolves with it and its port once it listens. */
async function startServer(
  tools: Tools,
  kind: ServerKind,
): Promise<{ child: Deno.ChildProcess; port: number } | undefined> {
  let command: Deno.Command;
  if (kind === "c-echo") {
    if (!tools.cEcho) return undefined;
    command = new Deno.Command(tools.cEcho, { stdout: "piped" });
  } else {
    const before = kind.endsWith("-before");
    const script = before
      ? `${values.before}/tools/bench_udp.ts`
      : new URL(import.meta.url).pathname;
    command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        script,
        "--serve",
        kind.replace("-before", ""),
        "--rooms",
        String(rooms),
      ],
      stdout: "piped",
    });
  }
  const child = command.spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/PORT (\d+)\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`${kind} exited before listening`);
    }
    text += value;
  }
  reader.releaseLock();
  return { child, port: Number(/PORT (\d+)/.exec(text)![1]) };
}

/**
 * `servers` processes of `kind` under `loads` load generators (PEERS/loads peers each, load i
 * on server i mod servers): replies/s summed, CPU per reply over every server process.
 */
async function measure(
  tools: Tools,
  kind: ServerKind,
  servers = 1,
  loads = 1,
): Promise<Sample | undefined> {
  const children: Deno.ChildProcess[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < servers; i++) {
      const started = await startServer(tools, kind);
      if (!started) return undefined;
      children.push(started.child);
      ports.push(started.port);
    }
    const each = Math.max(1, Math.floor(PEERS / loads));
    const run = (secs: number) =>
      Promise.all(
        Array.from({ length: loads }, (_, i) => runLoad(tools, ports[i % servers]!, secs, each)),
      ).then((counts) => counts.reduce((a, b) => a + b, 0));
    await run(0.5); // warm-up: JIT, rooms filled
    const cpu = () => children.reduce((sum, c) => sum + (cpuSeconds(c.pid) ?? NaN), 0);
    const cpu0 = cpu();
    const t0 = performance.now();
    const replies = await run(seconds);
    const elapsed = (performance.now() - t0) / 1000;
    const used = cpu() - cpu0;
    // Rate over the generator's own window; CPU over the whole load run (same replies).
    return { rate: replies / Math.min(elapsed, seconds), cpuMicros: (used * 1e6) / replies };
  } finally {
    for (const child of children) {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  }
}

async function main(): Promise<void> {
  const tools = await buildTools();
  if (values.shards !== undefined) return await shardBench(tools, Number(values.shards));
  const rounds = Number(values.rounds);
  const kinds = (values.servers?.split(",") ?? [...SERVERS]) as ServerKind[];
  for (const k of kinds) {
    if (![...SERVERS, ...OPTIONS].includes(k as typeof SERVERS[number])) {
      throw new Error(`unknown server ${k}`);
    }
  }
  if (values.before !== undefined) kinds.push("olaf-echo-before", "bootstrap-before");
  const samples = new Map<ServerKind, Sample[]>(kinds.map((k) => [k, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotate the order, so slow drifts in the machine's load hit every server alike.
      const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
      for (const kind of order) {
        const sample = await measure(tools, kind);
        if (sample) samples.get(kind)!.push(sample);
      }
    }
  } finally {
    await Deno.remove(tools.dir, { recursive: true });
  }
  const result = new Map<ServerKind, Sample>();
  for (const [kind, list] of samples) {
    if (list.length === 0) continue;
    result.set(kind, {
      rate: median(list.map((s) => s.rate)),
      cpuMicros: median(list.map((s) => s.cpuMicros)),
    });
  }
  if (values.json) {
    const load = tools.olafload ? "olafload" : "deno";
    console.log(JSON.stringify({ load, ...Object.fromEntries(result) }));
    return;
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const ratio = (a: number, b: number | undefined) =>
    b === undefined || !Number.isFinite(a) || !Number.isFinite(b)
      ? "   -  "
      : `${(a / b).toFixed(2)}x`;
  const c = result.get("c-echo");
  const d = result.get("deno-echo");
  console.log(
    `udp bench: load ${tools.olafload ? "olafload (C)" : "in-Deno generator"}, ${peers} peers ` +
      `in ${rooms} rooms, window ${window}, ${rounds} rounds x ${seconds} s, medians; ` +
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
  );
  console.log(
    "server             replies/s   vs C echo  vs Deno echo   CPU µs/reply  CPU vs C  CPU vs Deno",
  );
  for (const [kind, s] of result) {
    console.log(
      `${kind.padEnd(17)} ${fmt(s.rate).padStart(10)}   ${ratio(s.rate, c?.rate).padStart(8)}  ` +
        `${ratio(s.rate, d?.rate).padStart(12)}   ${s.cpuMicros.toFixed(1).padStart(12)}  ` +
        `${ratio(c?.cpuMicros ?? NaN, s.cpuMicros).padStart(8)}  ` +
        `${ratio(d?.cpuMicros ?? NaN, s.cpuMicros).padStart(11)}`,
    );
  }
  const b = result.get("bootstrap");
  if (b && c && d) {
    const vsDeno = b.rate / d.rate;
    const vsC = b.rate / c.rate;
    console.log(
      `targets: bootstrap ${vsDeno.toFixed(2)}x Deno echo (>= 0.85 ${
        vsDeno >= 0.85 ? "OK" : "BELOW"
      }), ${vsC.toFixed(2)}x C echo (>= 0.35 ${vsC >= 0.35 ? "OK" : "BELOW"}); ` +
        `CPU-bound: ${(d.cpuMicros / b.cpuMicros).toFixed(2)}x / ${
          (c.cpuMicros / b.cpuMicros).toFixed(2)
        }x`,
    );
  }
}

/** `--shards N`: the bootstrap as 1 process and as N, under the same N load generators. */
async function shardBench(tools: Tools, n: number): Promise<void> {
  if (!(Number.isInteger(n) && n >= 2 && n <= 16)) throw new RangeError("--shards must be 2..16");
  const rounds = Number(values.rounds);
  const layouts = [
    { name: "c-echo", kind: "c-echo", servers: 1 },
    { name: "bootstrap x1", kind: "bootstrap", servers: 1 },
    { name: `bootstrap x${n}`, kind: "bootstrap", servers: n },
  ] as const;
  const samples = layouts.map(() => [] as Sample[]);
  try {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < layouts.length; k++) {
        const i = (k + round) % layouts.length;
        const { kind, servers } = layouts[i]!;
        const sample = await measure(tools, kind, servers, n);
        if (sample) samples[i]!.push(sample);
      }
    }
  } finally {
    await Deno.remove(tools.dir, { recursive: true });
  }
  const result = samples.map((list) => ({
    rate: median(list.map((s) => s.rate)),
    cpuMicros: median(list.map((s) => s.cpuMicros)),
    rates: list.map((s) => Math.round(s.rate)),
  }));
  if (values.json) {
    console.log(JSON.stringify(Object.fromEntries(layouts.map((l, i) => [l.name, result[i]]))));
    return;
  }
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `shard bench: ${n} load generators (${tools.olafload ? "olafload, C" : "in-Deno"}) x ` +
      `${Math.floor(PEERS / n)} peers in ${rooms} rooms, ${rounds} rounds x ${seconds} s, ` +
      `medians; Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
  );
  console.log("layout            replies/s   vs C echo  vs 1 shard   CPU µs/reply   (rounds)");
  const c = result[0]!;
  const one = result[1]!;
  layouts.forEach((layout, i) => {
    const r = result[i]!;
    console.log(
      `${layout.name.padEnd(15)} ${fmt(r.rate).padStart(11)}   ${
        (r.rate / c.rate).toFixed(2).padStart(8)
      }x  ${(r.rate / one.rate).toFixed(2).padStart(9)}x   ${
        r.cpuMicros.toFixed(1).padStart(12)
      }   (${r.rates.map(fmt).join(", ")})`,
    );
  });
}

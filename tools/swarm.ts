/**
 * Swarm harness: `deno task swarm --nodes 50 --pattern all --messages 20`.
 *
 * Starts a real bootstrap and N real nodes in this one process (real UDP and
 * real HTTP on 127.0.0.1, each node its own UDP socket and HTTP server),
 * drives each traffic pattern through the nodes' HTTP APIs, sends forged
 * datagrams (raw UDP from a non-member, and members claiming another node's
 * name), and prints per pattern: delivered/sent, duplicates, p50/p99 latency,
 * forgeries rejected, wall time. Exits 1 when a legitimate message is lost or
 * a forgery is delivered.
 *
 * Every node shares 127.0.0.1, so the bootstrap's per-source rate limit
 * (`requestsPerSecond`, `requestBurst`) is raised to 100 000 here.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startBootstrap } from "@olaf/bootstrap";
import { encode } from "@olaf/protocol";
import { mulberry32 } from "@olaf/protocol/internal";
import { bindDatagram } from "@olaf/protocol/net";
import { type OlafNode, startNode } from "@olaf/peer/node";
import { encodeEnvelope } from "../peer/_envelope.ts";

/** The traffic patterns. */
export const PATTERNS = ["chain", "broadcast", "random", "group"] as const;
/** One traffic pattern. */
export type Pattern = typeof PATTERNS[number];

/** Options of {@linkcode runSwarm}. */
export interface SwarmOptions {
  /** Number of nodes (at least 3). */
  nodes: number;
  /** Patterns to run, in order. */
  patterns: readonly Pattern[];
  /** Messages per pattern (chain: relayed messages; broadcast/random/group: sends). */
  messages: number;
  /** Forged datagrams per pattern (half from a non-member, half name claims). Default 6. */
  forgeries?: number;
  /** Give up waiting for deliveries after this long per pattern. Default 60 000 ms. */
  timeoutMs?: number;
  /** Group size of the group pattern. Default 5. */
  groupSize?: number;
  /** Seed of the pseudo-random choices. Default 13. */
  seed?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** What one pattern did. */
export interface PatternResult {
  pattern: Pattern;
  /** Deliveries expected (one per recipient of each message). */
  sent: number;
  /** Distinct deliveries seen in recipients' inboxes. */
  delivered: number;
  /** Deliveries seen more than once (should be 0: receivers dedup). */
  duplicates: number;
  p50Ms: number;
  p99Ms: number;
  forged: number;
  /** Forged datagrams the nodes counted as rejected. */
  forgeriesRejected: number;
  /** Forged messages that showed up in an inbox (must be 0). */
  forgeriesDelivered: number;
  /** App-level re-sends during the pattern (UDP loss or an ack not yet back). */
  resent: number;
  wallMs: number;
}

/** The whole run. */
export interface SwarmReport {
  nodes: number;
  /** Time to start every node and have every node verify every other. */
  setupMs: number;
  /** Baseline, same run: one bare `Room.sendTo` datagram, one hop, no envelope, no HTTP. */
  baseline: { p50Ms: number; p99Ms: number };
  results: PatternResult[];
  /** No legitimate message lost and no forgery delivered. */
  ok: boolean;
}

interface Delivery {
  seq: number;
  msg: string;
  sent_at: number;
  received_at: number;
  from: { node_id: string };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return await res.json() as T;
}

async function postMessage(node: OlafNode, msg: string, to?: string): Promise<void> {
  const res = await fetch(`${node.url}/message`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(to === undefined ? { msg } : { msg, to }),
  });
  if (!res.ok) throw new Error(`POST ${node.url}/message: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the swarm and returns the figures (see the module doc).
 *
 * @param options Nodes, patterns, messages.
 * @returns The report.
 */
export async function runSwarm(options: SwarmOptions): Promise<SwarmReport> {
  const n = options.nodes;
  if (!Number.isInteger(n) || n < 3) throw new RangeError("--nodes must be at least 3");
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 60_000;
  const random = mulberry32(options.seed ?? 13);
  const pick = (k: number) => Math.floor(random() * k);
  const t0 = performance.now();
  await using bootstrap = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    // One process, one source address: the default per-source limit would refuse most joins.
    requestsPerSecond: 100_000,
    requestBurst: 100_000,
  });
  const at = `127.0.0.1:${bootstrap.localAddress.port}`;
  const nodes: OlafNode[] = [];
  await using stranger = await bindDatagram({ hostname: "127.0.0.1" });
  try {
    for (let i = 0; i < n; i++) {
      nodes.push(
        await startNode({
          bootstraps: [at],
          room: "swarm",
          name: `n${String(i).padStart(3, "0")}`,
          retryMs: 200,
          maxAttempts: 100,
          join: { hostname: "127.0.0.1" },
        }),
      );
    }
    const setupDeadline = performance.now() + timeoutMs;
    for (;;) {
      const views = await Promise.all(
        nodes.map((node) => getJson<{ peers: { verified: boolean }[] }>(`${node.url}/peers`)),
      );
      const ready = views.filter((v) => v.peers.filter((p) => p.verified).length === n - 1);
      if (ready.length === n) break;
      if (performance.now() > setupDeadline) {
        throw new Error(`only ${ready.length}/${n} nodes verified every other node in time`);
      }
      await sleep(100);
    }
    const setupMs = Math.round(performance.now() - t0);
    log(`${n} nodes up and verified in ${setupMs} ms`);

    // Baseline: bare datagrams between two members, timed from send to the receiver's event.
    const base: number[] = [];
    for (let k = 0; k < 50; k++) {
      const a = nodes[k % n], b = nodes[(k + 1) % n];
      const t = performance.now();
      const got = new Promise<void>((resolve) => {
        const off = b.room.onMessage(() => {
          off();
          resolve();
        });
      });
      a.room.sendTo(b.room.self, "baseline"); // not an envelope: counted as malformed, no more
      await Promise.race([got, sleep(1000)]);
      base.push(performance.now() - t);
    }
    base.sort((x, y) => x - y);
    const baseline = {
      p50Ms: Math.round(percentile(base, 0.5) * 100) / 100,
      p99Ms: Math.round(percentile(base, 0.99) * 100) / 100,
    };
    log(
      `baseline: a bare Room.sendTo datagram, one hop: p50 ${baseline.p50Ms} ms, ` +
        `p99 ${baseline.p99Ms} ms`,
    );

    const cursors = nodes.map((node) => node.lastSeq);
    const results: PatternResult[] = [];
    for (const pattern of options.patterns) {
      const start = performance.now();
      const resentBefore = nodes.reduce((s, x) => s + x.stats.resent, 0);
      const rejectedBefore = nodes.reduce(
        (s, x) => s + x.stats.rejected.non_member + x.stats.rejected.name_claim,
        0,
      );
      // Expected deliveries: `${recipient}|${text}`; seen: how often each showed up.
      const expected = new Set<string>();
      const seen = new Map<string, number>();
      const latencies: number[] = [];
      let forgeriesDelivered = 0;
      const send = async (from: number, to: number | "all", text: string) => {
        if (to === "all") {
          for (let j = 0; j < n; j++) if (j !== from) expected.add(`${j}|${text}`);
          await postMessage(nodes[from], text);
        } else {
          expected.add(`${to}|${text}`);
          await postMessage(nodes[from], text, nodes[to].nodeId);
        }
      };
      /** Reads every inbox past its cursor; calls `onNew` per new legit delivery. */
      const collect = async (onNew?: (recipient: number, text: string) => Promise<void>) => {
        await Promise.all(nodes.map(async (node, i) => {
          const { messages } = await getJson<{ messages: Delivery[] }>(
            `${node.url}/messages?after=${cursors[i]}`,
          );
          for (const m of messages) {
            cursors[i] = m.seq;
            if (m.msg.startsWith("FORGED")) {
              forgeriesDelivered++;
              continue;
            }
            const k = `${i}|${m.msg}`;
            const count = (seen.get(k) ?? 0) + 1;
            seen.set(k, count);
            if (count === 1) {
              latencies.push(m.received_at - m.sent_at);
              if (onNew) await onNew(i, m.msg);
            }
          }
        }));
      };

      const m = options.messages;
      let relay: ((recipient: number, text: string) => Promise<void>) | undefined;
      const sends: Promise<void>[] = [];
      switch (pattern) {
        case "chain": {
          // Message k starts at node k % n and is relayed hop by hop along the chain, through
          // each node's HTTP API once it shows up in that node's inbox.
          const hops = n - 1;
          for (let k = 0; k < m; k++) sends.push(send(k % n, (k + 1) % n, `chain#${k}@1`));
          relay = async (recipient, text) => {
            const [, k, hop] = text.match(/^chain#(\d+)@(\d+)$/)!;
            if (Number(hop) >= hops) return;
            await send(recipient, (recipient + 1) % n, `chain#${k}@${Number(hop) + 1}`);
          };
          // The relayed hops are expected too: register them up front so nothing is missed.
          for (let k = 0; k < m; k++) {
            for (let hop = 1; hop <= hops; hop++) {
              expected.add(`${(k + hop) % n}|chain#${k}@${hop}`);
            }
          }
          break;
        }
        case "broadcast":
          for (let k = 0; k < m; k++) sends.push(send(k % n, "all", `broadcast#${k}`));
          break;
        case "random":
          for (let k = 0; k < m; k++) {
            const from = pick(n);
            const to = (from + 1 + pick(n - 1)) % n;
            sends.push(send(from, to, `random#${k}`));
          }
          break;
        case "group": {
          const size = Math.max(2, Math.min(options.groupSize ?? 5, n));
          for (let k = 0; k < m; k++) {
            const from = pick(n);
            const base = from - (from % size);
            for (let j = base; j < Math.min(base + size, n); j++) {
              if (j !== from) sends.push(send(from, j, `group#${k}`));
            }
          }
          break;
        }
      }
      await Promise.all(sends);

      // Forgeries: raw UDP from a socket that never joined, claiming a random node; and a
      // member sending an envelope that claims another member's node id and name.
      const forged = options.forgeries ?? 6;
      for (let f = 0; f < forged; f++) {
        const target = pick(n);
        const victim = (target + 1 + pick(n - 1)) % n;
        const envelope = encodeEnvelope({
          t: "msg",
          node: nodes[victim].nodeId,
          name: nodes[victim].name,
          id: 1_000_000 + f,
          at: Date.now(),
          text: `FORGED ${pattern} ${f}`,
        });
        if (f % 2 === 0) {
          stranger.send(
            encode({ type: "APP_R", peers: [], payload: envelope }),
            { hostname: "127.0.0.1", port: nodes[target].room.self.port },
          );
        } else {
          let liar = pick(n);
          while (liar === target || liar === victim) liar = (liar + 1) % n;
          nodes[liar].room.sendTo(nodes[target].room.self, envelope);
        }
      }

      const deadline = performance.now() + timeoutMs;
      const rejected = () =>
        nodes.reduce((s, x) => s + x.stats.rejected.non_member + x.stats.rejected.name_claim, 0) -
        rejectedBefore;
      for (;;) {
        await collect(relay);
        const delivered = [...expected].filter((k) => seen.has(k)).length;
        if (delivered === expected.size && rejected() >= forged) break;
        if (performance.now() > deadline) break;
        await sleep(20);
      }
      await sleep(50); // late duplicates or forgeries would show up now
      await collect(relay);
      latencies.sort((a, b) => a - b);
      const result: PatternResult = {
        pattern,
        sent: expected.size,
        delivered: [...expected].filter((k) => seen.has(k)).length,
        duplicates: [...seen.values()].reduce((s, c) => s + c - 1, 0),
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        forged,
        forgeriesRejected: rejected(),
        forgeriesDelivered,
        resent: nodes.reduce((s, x) => s + x.stats.resent, 0) - resentBefore,
        wallMs: Math.round(performance.now() - start),
      };
      log(formatResult(result));
      results.push(result);
    }
    const ok = results.every((r) => r.delivered === r.sent && r.forgeriesDelivered === 0);
    return { nodes: n, setupMs, baseline, results, ok };
  } finally {
    for (const node of nodes) await node.close();
  }
}

/** One line of the table {@linkcode main} prints. */
export function formatResult(r: PatternResult): string {
  return [
    r.pattern.padEnd(9),
    `${r.delivered}/${r.sent}`.padStart(11),
    String(r.duplicates).padStart(4),
    `${r.p50Ms}`.padStart(5),
    `${r.p99Ms}`.padStart(5),
    `${r.forgeriesRejected}/${r.forged}`.padStart(8),
    String(r.forgeriesDelivered).padStart(5),
    String(r.resent).padStart(6),
    `${r.wallMs}`.padStart(7),
  ].join(" ");
}

const HEADER = "pattern   delivered/sent dup  p50ms p99ms rejected forged resent wall-ms";

/**
 * The command line.
 *
 * @param args Arguments (`--nodes N --pattern P|all --messages M [--forgeries F]`).
 * @returns The exit status: 0 when nothing was lost and no forgery delivered.
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string", default: "50" },
      pattern: { type: "string", default: "all" },
      messages: { type: "string", default: "20" },
      forgeries: { type: "string", default: "6" },
      timeout: { type: "string", default: "60" },
    },
  });
  const patterns = values.pattern === "all"
    ? [...PATTERNS]
    : values.pattern.split(",").map((p) => p.trim() as Pattern);
  for (const p of patterns) {
    if (!PATTERNS.includes(p)) {
      console.error(`swarm: unknown --pattern ${p} (chain, broadcast, random, group or all)`);
      return 2;
    }
  }
  const report = await runSwarm({
    nodes: Number(values.nodes),
    patterns,
    messages: Number(values.messages),
    forgeries: Number(values.forgeries),
    timeoutMs: Number(values.timeout) * 1000,
    log: (line) => {
      if (line.startsWith(patterns[0].padEnd(9))) console.log(HEADER);
      console.log(line);
    },
  });
  console.log(report.ok ? "swarm: ok" : "swarm: FAILED (lost messages or a forgery delivered)");
  return report.ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

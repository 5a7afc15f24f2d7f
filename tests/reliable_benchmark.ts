/**
 * `deno task bench:reliable`: reliable delivery (`@olaf/protocol/reliable`)
 * against the unreliable path (plain `APP_R` datagrams of the same payloads,
 * cut into 1200-byte datagrams when larger) in the same run, on the
 * in-memory network (virtual time: deterministic, independent of the
 * machine's load). For 1 KiB and 256 KiB messages at 0, 10 and 30% loss:
 * delivery, goodput (messages sent as fast as the window allows), p50/p99
 * latency from `send` to delivery (messages paced so they do not queue),
 * and wire bytes per payload byte (both directions: DATA and ACKs). Then
 * checks the targets and prints whether each is met.
 *
 * @module
 */
import { encode } from "@olaf/protocol";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { createPair, patternBytes } from "./reliable_harness.ts";

const DELAY = { min: 9, max: 11 }; // about 20 ms of round trip, a little jitter
const DATAGRAM = 1200;
const CASES = [
  { label: "1 KiB", size: 1024, burst: 2000, paced: 500, intervalMs: 10 },
  { label: "256 KiB", size: 256 * 1024, burst: 16, paced: 200, intervalMs: 500 },
];
const LOSSES = [0, 0.1, 0.3];

interface Figures {
  delivered: number;
  sent: number;
  goodputMBps: number;
  p50: number;
  p99: number;
  wirePerByte: number;
  rto?: number;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

async function reliable(size: number, count: number, loss: number, intervalMs?: number) {
  const { net, a, b } = await createPair({
    seed: 42,
    delayMs: DELAY,
    loss,
    link: { giveUpMs: 120_000, maxTransmissions: 30 },
  });
  const sentAt: number[] = [];
  let issued = 0;
  const one = async (i: number) => {
    const data = patternBytes(size, i);
    data[0] = i >> 16;
    data[1] = i >> 8;
    data[2] = i;
    sentAt[i] = net.now();
    const result = await a.send(data, true);
    if (!result.ok) throw new Error(`send ${i}: ${result.reason}`);
    issued++;
  };
  const t0 = net.now();
  if (intervalMs === undefined) {
    (async () => {
      for (let i = 0; i < count; i++) await one(i);
    })();
  } else {
    for (let i = 0; i < count; i++) net.clock.setTimer(() => void one(i), i * intervalMs);
  }
  await net.runUntil(() => issued === count && a.delivered.size + a.failed.size === count, {
    timeoutMs: 3_600_000,
  });
  const latencies = b.received.map((r) =>
    r.at - sentAt[(r.data[0]! << 16) | (r.data[1]! << 8) | r.data[2]!]!
  );
  const last = Math.max(...b.received.map((r) => r.at));
  return {
    delivered:
      new Set(b.received.map((r) => (r.data[0]! << 16) | (r.data[1]! << 8) | r.data[2]!)).size,
    duplicates: b.received.length -
      new Set(b.received.map((r) => r.data.subarray(0, 3).join())).size,
    sent: count,
    goodputMBps: (b.received.length * size) / ((last - t0) / 1000) / 1e6,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    wirePerByte: (a.wireBytes + b.wireBytes) / (count * size),
    rto: a.link.rto,
  };
}

async function unreliable(
  size: number,
  count: number,
  loss: number,
  intervalMs?: number,
): Promise<Figures> {
  const net = new MemoryNetwork({ seed: 42, delayMs: DELAY, loss });
  const chunk = DATAGRAM - 7;
  const chunks = Math.ceil(size / chunk);
  const got = new Map<number, { n: number; at: number }>();
  const receiver = await net.bind({
    hostname: "10.0.0.2",
    onDatagram: (d) => {
      const i = (d[7]! << 16) | (d[8]! << 8) | d[9]!; // our message number, in the payload
      const entry = got.get(i) ?? { n: 0, at: 0 };
      entry.n++;
      entry.at = net.now();
      got.set(i, entry);
    },
  });
  const sender = await net.bind({ hostname: "10.0.0.1" });
  let wire = 0;
  const sentAt: number[] = [];
  const one = (i: number) => {
    const data = patternBytes(size, i);
    sentAt[i] = net.now();
    for (let c = 0; c < chunks; c++) {
      const payload = data.slice(c * chunk, (c + 1) * chunk);
      payload[0] = i >> 16;
      payload[1] = i >> 8;
      payload[2] = i;
      const bytes = encode({ type: "APP_R", peers: [], payload }).slice();
      wire += bytes.length;
      sender.send(bytes, receiver.localAddress);
    }
  };
  const t0 = net.now();
  for (let i = 0; i < count; i++) {
    if (intervalMs === undefined) one(i);
    else net.clock.setTimer(() => one(i), i * intervalMs);
  }
  await net.advance((intervalMs ?? 0) * count + 1000);
  const whole = [...got.entries()].filter(([, e]) => e.n === chunks);
  const last = Math.max(...whole.map(([, e]) => e.at));
  const latencies = whole.map(([i, e]) => e.at - sentAt[i]!);
  return {
    delivered: whole.length,
    sent: count,
    goodputMBps: (whole.length * size) / ((last - t0) / 1000) / 1e6,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    wirePerByte: wire / (count * size),
  };
}

const fmt = (n: number, d = 1) => Number.isFinite(n) ? n.toFixed(d) : "-";
const targets: { what: string; ok: boolean }[] = [];
console.log(
  `reliable vs unreliable on the in-memory network (one-way delay ${DELAY.min}-${DELAY.max} ms, virtual time)\n`,
);
console.log(
  "size     loss | delivered rel / unrel | goodput MB/s rel / unrel | p50 ms rel / unrel | p99 ms rel / unrel | wire B per payload B rel / unrel (ratio) | RTO ms",
);
for (const c of CASES) {
  for (const loss of LOSSES) {
    const started = performance.now();
    const burst = await reliable(c.size, c.burst, loss);
    const paced = await reliable(c.size, c.paced, loss, c.intervalMs);
    const ubBurst = await unreliable(c.size, c.burst, loss);
    const ubPaced = await unreliable(c.size, c.paced, loss, c.intervalMs);
    const ratio = burst.wirePerByte / ubBurst.wirePerByte;
    console.log(
      `${c.label.padEnd(8)} ${String(loss * 100).padStart(2)}% | ` +
        `${((100 * burst.delivered) / burst.sent).toFixed(1)}% / ${
          ((100 * ubBurst.delivered) / ubBurst.sent).toFixed(1)
        }% | ` +
        `${fmt(burst.goodputMBps, 2)} / ${fmt(ubBurst.goodputMBps, 2)} | ` +
        `${fmt(paced.p50)} / ${fmt(ubPaced.p50)} | ${fmt(paced.p99)} / ${fmt(ubPaced.p99)} | ` +
        `${burst.wirePerByte.toFixed(3)} / ${ubBurst.wirePerByte.toFixed(3)} (${
          ratio.toFixed(3)
        }x) | ` +
        `${fmt(paced.rto!, 0)}  [${((performance.now() - started) / 1000).toFixed(1)} s wall]`,
    );
    const all = burst.delivered === burst.sent && paced.delivered === paced.sent &&
      burst.duplicates === 0 && paced.duplicates === 0;
    targets.push({
      what: `${c.label} at ${loss * 100}% loss: 100% delivered exactly once`,
      ok: all,
    });
    if (loss === 0) {
      targets.push({
        what: `${c.label} at 0% loss: wire bytes ${
          ratio.toFixed(3)
        }x the unreliable path (<= 1.15x)`,
        ok: ratio <= 1.15,
      });
    }
    if (loss === 0.1) {
      targets.push({
        what: `${c.label} at 10% loss: p99 latency ${fmt(paced.p99)} ms within 2 RTOs (${
          fmt(2 * paced.rto!, 0)
        } ms)`,
        ok: paced.p99 <= 2 * paced.rto!,
      });
    }
  }
}
console.log("\ntargets:");
for (const t of targets) console.log(`  ${t.ok ? "met    " : "MISSED "} ${t.what}`);

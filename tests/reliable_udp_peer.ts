/**
 * One end of reliable delivery on real UDP (loopback), for the lossy.c test
 * (`protocol/reliable/udp_lossy_test.ts`), which runs two of these under
 * `LD_PRELOAD=lossy.so`.
 *
 * - `--listen`: prints `{"port":N}`, then `{"n":i,"bytes":L,"ok":bool}` for
 *   every message (n from its first 4 bytes, ok: the content is intact);
 *   exits when its stdin closes.
 * - `--to PORT --count N`: sends N ordered messages (every 10th 5000 bytes,
 *   so fragmented), waits for every acknowledgement, prints its stats, exits
 *   0 (or 1 when a message failed).
 */
import { parseArgs } from "node:util";
import { bindDatagram, type NetAddress, systemClock } from "@olaf/protocol/net";
import { ReliableLink } from "@olaf/protocol/reliable";
import { patternBytes } from "./reliable_harness.ts";

const args = parseArgs({
  options: {
    listen: { type: "boolean", default: false },
    to: { type: "string" },
    count: { type: "string", default: "200" },
  },
});
const link = new ReliableLink({ giveUpMs: 60_000, maxTransmissions: 40 });
let peer: NetAddress | undefined = args.values.to
  ? { hostname: "127.0.0.1", port: Number(args.values.to) }
  : undefined;
let timer: number | undefined;
let delivered = 0;
let failed = 0;
let writable: (() => void) | undefined;
const out = (line: unknown) => console.log(JSON.stringify(line));

const socket = await bindDatagram({
  hostname: "127.0.0.1",
  port: 0,
  onDatagram: (data, from) => {
    peer ??= from;
    link.handleDatagram(data, systemClock.now());
    pump();
  },
});

function pump(): void {
  const now = systemClock.now();
  if (peer) {
    for (let d = link.pollTransmit(now); d; d = link.pollTransmit(now)) socket.send(d, peer);
  }
  for (let e = link.pollEvent(); e; e = link.pollEvent()) {
    if (e.type === "message") {
      const n = new DataView(e.data.buffer, e.data.byteOffset).getUint32(0);
      const expected = expectedMessage(n);
      const ok = expected.length === e.data.length && expected.every((b, i) => b === e.data[i]);
      out({ n, bytes: e.data.length, ok });
    } else if (e.type === "delivered") delivered++;
    else if (e.type === "failed") {
      failed++;
      out({ failed: e.error.message });
    } else if (e.type === "writable") writable?.();
  }
  if (timer !== undefined) systemClock.clearTimer(timer);
  const due = link.pollTimeout();
  timer = due === undefined ? undefined : systemClock.setTimer(pump2, due - systemClock.now());
}

function pump2(): void {
  timer = undefined;
  link.handleTimeout(systemClock.now());
  pump();
}

function expectedMessage(n: number): Uint8Array {
  const data = patternBytes(n % 10 === 9 ? 5000 : 100 + (n % 50), n);
  new DataView(data.buffer).setUint32(0, n);
  return data;
}

if (args.values.listen) {
  out({ port: socket.localAddress.port });
  // Runs until the test closes our stdin (bounded: at most two minutes).
  systemClock.setTimer(() => Deno.exit(0), 120_000);
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  Deno.exit(0);
} else {
  const count = Number(args.values.count);
  for (let n = 0; n < count; n++) {
    for (;;) {
      const result = link.send(expectedMessage(n), { ordered: true }, systemClock.now());
      pump();
      if (result.ok) break;
      if (result.reason !== "blocked") throw new Error(`send ${n}: ${result.reason}`);
      await new Promise<void>((resolve) => (writable = resolve));
    }
  }
  const started = systemClock.now();
  while (delivered + failed < count && systemClock.now() - started < 90_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const s = link.stats();
  out({ delivered, failed, dataSent: s.dataSent, rto: s.rtoRetransmits, fast: s.fastRetransmits });
  await socket.close();
  if (timer !== undefined) systemClock.clearTimer(timer);
  Deno.exit(failed === 0 && delivered === count ? 0 : 1);
}

/**
 * Round-trip rate of the two real UDP implementations over loopback, in one
 * run: `deno bench -A protocol/net/udp_bench.ts`. Each iteration is
 * {@linkcode ROUND_TRIPS} ping-pongs between an echo socket and a client
 * keeping {@linkcode IN_FLIGHT} requests outstanding, both sockets of the
 * implementation under test. `node:dgram` is the baseline, so deno bench
 * prints how many times faster (or slower) `Deno.listenDatagram` is; the
 * winner is `DEFAULT_UDP_IMPLEMENTATION` in `udp.ts`.
 */
import { bindDenoDatagram, bindNodeDatagram, isDenoDatagramAvailable } from "./mod.ts";
import type { BindOptions, DatagramSocket } from "./types.ts";

const ROUND_TRIPS = 2000;
const IN_FLIGHT = 32;

async function pingPong(
  bind: (options: BindOptions) => Promise<DatagramSocket>,
  b: Deno.BenchContext,
): Promise<void> {
  const echo: DatagramSocket = await bind({
    hostname: "127.0.0.1",
    onDatagram: (data, from) => echo.send(data, from),
  });
  let sent = 0;
  let received = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const client: DatagramSocket = await bind({
    hostname: "127.0.0.1",
    onDatagram: () => {
      if (++received === ROUND_TRIPS) finished();
      else if (sent < ROUND_TRIPS) ping();
    },
  });
  const ping = () => {
    const data = new Uint8Array(16); // about the size of a small Olaf message
    data[0] = sent++ & 255;
    client.send(data, echo.localAddress);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    b.start();
    for (let i = 0; i < IN_FLIGHT; i++) ping();
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`stalled at ${received} round trips`)), 10_000);
      }),
    ]);
    b.end();
  } finally {
    clearTimeout(timer);
    await client.close();
    await echo.close();
  }
}

const name = `${ROUND_TRIPS} round trips, ${IN_FLIGHT} in flight`;

Deno.bench({
  name: `node:dgram: ${name}`,
  group: "udp-round-trip",
  baseline: true,
  fn: async (b) => await pingPong(bindNodeDatagram, b),
});

Deno.bench({
  name: `Deno.listenDatagram: ${name}`,
  group: "udp-round-trip",
  ignore: !isDenoDatagramAvailable(),
  fn: async (b) => await pingPong(bindDenoDatagram, b),
});

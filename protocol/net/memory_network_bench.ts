/**
 * What a NAT costs on the in-memory network, in one run:
 * `deno bench -A protocol/net/memory_network_bench.ts`. Each iteration is
 * {@linkcode ROUNDS} rounds in which {@linkcode CLIENTS} clients each send a
 * datagram to their own public echo server and get it back. The baseline has
 * no NAT at all (the fast path every other test uses); the others put every
 * client behind one NAT, so each datagram is translated once.
 */
import { MemoryNetwork, type NatType } from "./memory_network.ts";
import type { DatagramSocket } from "./types.ts";

const CLIENTS = 50;
const ROUNDS = 200;

async function echoRounds(type: NatType | undefined): Promise<void> {
  const net = new MemoryNetwork({ microtaskTurns: 1 });
  if (type) net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.0/24"], type });
  let replies = 0;
  const data = new Uint8Array(32);
  const clients: DatagramSocket[] = [];
  const servers: DatagramSocket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const server: DatagramSocket = await net.bind({
      hostname: `203.0.113.${i + 1}`,
      port: 7,
      onDatagram: (d, from) => server.send(d, from),
    });
    servers.push(server);
    clients.push(await net.bind({ hostname: `10.1.0.${i + 2}`, onDatagram: () => replies++ }));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < CLIENTS; i++) clients[i].send(data, servers[i].localAddress);
    await net.advance(1);
  }
  await net.advance(10);
  if (replies !== CLIENTS * ROUNDS) throw new Error(`only ${replies} replies`);
}

const name = `${CLIENTS} clients x ${ROUNDS} echo round trips`;

Deno.bench({
  name: `no NAT: ${name}`,
  group: "memory-network-nat",
  baseline: true,
  fn: async () => await echoRounds(undefined),
});

for (const type of ["full-cone", "port-restricted-cone", "symmetric"] as const) {
  Deno.bench({
    name: `${type} NAT: ${name}`,
    group: "memory-network-nat",
    fn: async () => await echoRounds(type),
  });
}

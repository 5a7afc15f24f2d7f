// Secure rooms at the machine level (`deno bench -A peer/secure_room_bench.ts`): a 1 KiB message
// from one member to another, sealed (secure room) beside plaintext v1 (the baseline, an open
// room), and two peers meeting (join reply to both members) with a Noise XX handshake beside the
// plaintext meeting. Same run, same machine: read the ratios.
import { encode, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { PeerMachine } from "./peer_machine.ts";
import { generateIdentity } from "./identity.ts";

const BOOT: NetAddress = { hostname: "10.0.0.1", port: 5000 };
const A: NetAddress = { hostname: "10.0.0.2", port: 4000 };
const B: NetAddress = { hostname: "10.0.0.3", port: 4000 };
const rec = (n: NetAddress, id: number): PeerRecord => ({ ip: n.hostname, port: n.port, id });
const ids = [generateIdentity(), generateIdentity()];

/** Two joined machines that have met; `pump` moves datagrams between them until quiet. */
function pair(secret: string | undefined) {
  // The open room is the plaintext v1 baseline: opportunistic encryption off.
  const opportunistic = secret !== undefined;
  const a = new PeerMachine({
    room: "bench",
    bootstraps: [BOOT],
    secret,
    identity: ids[0],
    opportunistic,
  });
  const b = new PeerMachine({
    room: "bench",
    bootstraps: [BOOT],
    secret,
    identity: ids[1],
    opportunistic,
  });
  const nodes: [PeerMachine, NetAddress][] = [[a, A], [b, B]];
  let now = 0;
  const pump = () => {
    now++;
    for (let moved = true; moved;) {
      moved = false;
      for (const [m, at] of nodes) {
        for (let t = m.pollTransmit(now); t !== undefined; t = m.pollTransmit(now)) {
          const to = nodes.find(([, addr]) => addr.hostname === t.to.hostname);
          if (to === undefined) continue;
          to[0].handleDatagram(t.data, at, now);
          moved = true;
        }
      }
      for (const [m] of nodes) while (m.pollEvent() !== undefined);
    }
  };
  for (const [m, at] of nodes) {
    m.handleTimeout(0);
    m.handleDatagram(
      encode({
        type: "BOOTSTRAP_R",
        peers: [rec(A, 1), rec(B, 2)],
        self: rec(at, at === A ? 1 : 2),
      }),
      BOOT,
      0,
    );
  }
  pump();
  if (a.peers.length !== 1 || b.peers.length !== 1) throw new Error("the pair did not meet");
  return { a, b, pump };
}

const payload = new Uint8Array(1024).fill(0x61);
const open = pair(undefined);
const secure = pair("0123456789abcdef0123456789abcdef");

Deno.bench(
  { name: "1 KiB message, plaintext v1 (open room)", group: "message", baseline: true },
  () => {
    open.a.sendTo(rec(B, 2), payload);
    open.pump();
  },
);
Deno.bench({ name: "1 KiB message, sealed (secure room)", group: "message" }, () => {
  secure.a.sendTo(rec(B, 2), payload);
  secure.pump();
});
Deno.bench({ name: "two peers meet, plaintext (open room)", group: "meet", baseline: true }, () => {
  pair(undefined);
});
Deno.bench({ name: "two peers meet, XXpsk3 handshake (secure room)", group: "meet" }, () => {
  pair("0123456789abcdef0123456789abcdef");
});

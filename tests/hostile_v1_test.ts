/**
 * Issue 12: rooms of deployed v1 peers (the faithful model) still converge
 * through an Olaf bootstrap with the hostile-input guards at their defaults:
 * a newcomer's first reply is cut to 3x its request (the collector and the
 * most recent member), the first member validates by echoing its id when it
 * re-joins alone, and gossip does the rest.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import { drive, type DrivenNode } from "./peer_sim_driver.ts";
import { LegacyV1Peer } from "./legacy_v1_peer.ts";

const T0 = 1_763_700_000_000;
const HEARTBEAT = 3000;

Deno.test("deployed v1 peers converge through the guarded Olaf bootstrap, a burst of joins included", async () => {
  const net = new MemoryNetwork({ seed: 12, startTime: T0, delayMs: { min: 2, max: 20 } });
  await using server = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "10.9.0.1",
    port: 5000,
  });
  const boot = { hostname: "10.9.0.1", port: 5000 };
  const peers: LegacyV1Peer[] = [];
  const nodes: DrivenNode[] = [];
  const add = async (i: number) => {
    const peer = new LegacyV1Peer({ room: "lobby", bootstraps: [boot], now: net.now() });
    peers.push(peer);
    nodes.push(
      await drive(peer, { bind: net.bind, clock: net.clock, hostname: `10.0.0.${i}`, port: 4000 }),
    );
  };
  // The first peer is alone for a heartbeat (it re-joins with its record: validated).
  await add(1);
  await net.advance(2 * HEARTBEAT);
  // Then 11 more in a burst, 50 ms apart: each first reply lists only the collector and one other.
  for (let i = 2; i <= 12; i++) {
    await add(i);
    await net.advance(50);
  }
  const keys = nodes.map((n) => `${n.address.hostname}:${n.address.port}`);
  const converged = () =>
    peers.every((p, i) => p.peerKeys.filter((k) => k !== keys[i]).length === keys.length - 1);
  assert.ok(
    await net.runUntil(converged, { timeoutMs: 6 * HEARTBEAT }),
    `not converged: ${peers.map((p) => p.peerKeys.length).join(",")}`,
  );
  const drops = server.stats().drops;
  assert.ok((drops["amplification-trimmed"] ?? 0) > 0, "replies were trimmed to 3x");
  assert.equal(drops["unvalidated-budget"] ?? 0, 0);
  for (const node of nodes) await node.stop();
});

/**
 * Real-UDP peers in this one process (one socket each, a bootstrap in a
 * child process, all on 127.0.0.1) in a room with partial views: every peer
 * comes to see every other one, and nobody leaves over a window afterwards.
 * Bounded polling, no timing assertion.
 */
import assert from "node:assert/strict";
import { runUdpRoom } from "../tools/udp_room.ts";

Deno.test("100 real-UDP peers in one process converge and do not flap", async () => {
  const result = await runUdpRoom({
    peers: 100,
    largeRoomThreshold: 32, // partial views at this size too
    windowMs: 6000,
    convergeTimeoutMs: 60_000,
  });
  assert.ok(result.convergedMs !== undefined, `${result.complete}/100 saw everyone`);
  assert.equal(result.flaps, 0, "no peer-left over the window");
  assert.equal(result.completeAfter, 100);
});

// Issue 15: failed before one socket read several datagrams per event-loop turn and a stuck
// send stopped holding back the next (joins stuck for 40 s, 0/300 converged, thousands of
// peer-left a second).
Deno.test("300 real-UDP peers in one process converge and do not flap", async () => {
  const result = await runUdpRoom({
    peers: 300,
    windowMs: 6000,
    // ~10 s on an idle machine; a loaded one (other benches on the 2 cores) can take longer.
    convergeTimeoutMs: 45_000,
  });
  assert.equal(result.failedJoins, 0);
  assert.ok(result.convergedMs !== undefined, `${result.complete}/300 saw everyone`);
  assert.equal(result.flaps, 0, "no peer-left over the window");
  assert.equal(result.completeAfter, 300);
});

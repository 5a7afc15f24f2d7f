/**
 * 100 real-UDP peers in this one process (one socket each, a bootstrap in a
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

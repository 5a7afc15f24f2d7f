/**
 * Hostile-input figures for the peer (issue 12): the three scenarios of
 * `tests/_hostile_scenarios.ts` on real UDP (loopback), as a table.
 * `deno run -A peer/hostile_bench.ts`; the README's before/after table runs
 * the same file on an older tree for the baseline.
 *
 * @module
 */
import {
  claimedCollector,
  namedVictims,
  strangerFlood,
  udpHostileEnv as env,
} from "../tests/_hostile_scenarios.ts";

const label = Deno.args[0] ?? "this tree";
const named = await namedVictims(env, { members: 20, victims: 1000, rounds: 3 });
const flood = await strangerFlood(env, { members: 20, strangers: 1000 });
const claim = await claimedCollector(env, { members: 3 });
const x = (out: number, sent: number) => `${(out / sent).toFixed(2)}x`;
console.log(`# ${label}`);
console.log("attack | sent | back | ratio | other");
console.log(
  `10 KB PING naming 1000 addresses (x3) | ${named.sent} | ${named.victims} to the victims, ` +
    `${named.attacker} to the sender | ${x(named.victims, named.sent)} | -`,
);
console.log(
  `1000 strangers, one 17-byte PING each | ${flood.sent} | ${flood.back} | ` +
    `${x(flood.back, flood.sent)} | ${flood.maxMembers} became members`,
);
console.log(
  `stranger claiming id 1, 3 room timeouts | - | - | - | room ${
    claim.roomAlive ? "alive" : "expired"
  } at the bootstrap (${claim.bootstrapMembers} members)`,
);

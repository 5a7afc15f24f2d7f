/**
 * Issue 12, the bootstrap's v1 side: one regression test per finding, through
 * the sans-IO core with its default limits (the README's "Hostile input").
 * The spoofed-source UDP versions are in `hostile_udp_test.ts`.
 */
import assert from "node:assert/strict";
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import { BootstrapCore, type BootstrapCoreOptions } from "./bootstrap_core.ts";

const T0 = 1_763_700_000_000;
const S0 = T0 / 1000;

const at = (ip: string, port: number) => ({ hostname: ip, port });
const rec = (a: { hostname: string; port: number }, id: number): PeerRecord => ({
  ip: a.hostname,
  port: a.port,
  id,
});
const join = (room: string, peers: PeerRecord[] = []) => encode({ type: "JOIN_B", peers, room });
const collect = (room: string, peers: PeerRecord[] = []) =>
  encode({ type: "PEER_COLLECTOR", peers, room });

function core(options: BootstrapCoreOptions = {}): BootstrapCore {
  return new BootstrapCore({ startedAt: T0, ...options });
}

interface Reply {
  size: number;
  type: string;
  peers: PeerRecord[];
  self?: PeerRecord;
}
function drain(c: BootstrapCore): Reply[] {
  const out: Reply[] = [];
  for (let t = c.pollTransmit(); t !== undefined; t = c.pollTransmit()) {
    const m = decode(t.data);
    out.push({
      size: t.data.length,
      type: m.type,
      peers: m.peers.toArray(),
      self: m.type === "BOOTSTRAP_R" ? m.self : undefined,
    });
  }
  return out;
}
function one(c: BootstrapCore): Reply {
  const out = drain(c);
  assert.equal(out.length, 1, "exactly one reply");
  return out[0]!;
}

/** A room of 150 members, `collector`'s, as one `PEER_COLLECTOR` report fills it (issue 12's). */
function bigRoom(
  c: BootstrapCore,
  name: string,
  collector: { hostname: string; port: number },
  now = T0,
): PeerRecord[] {
  const members = Array.from({ length: 150 }, (_, i) => ({
    ip: `198.51.100.${1 + (i >> 6)}`,
    port: 1000 + i,
    id: S0 - 1000 + i,
  }));
  // The report recreates the room; sent again, it echoes the collector's id (validating it).
  const report = collect(name, [rec(collector, S0 - 2000), ...members]);
  c.handleDatagram(report, collector, now);
  c.handleDatagram(report, collector, now);
  drain(c);
  return members;
}

Deno.test("amplification: a 7-byte JOIN_B for a full room draws at most 21 bytes, not 1023", () => {
  const c = core({ requestsPerSecond: Infinity });
  const collector = at("203.0.113.1", 4000);
  bigRoom(c, "", collector);
  const victim = at("192.0.2.9", 5555);
  const request = join("");
  assert.equal(request.length, 7);
  c.handleDatagram(request, victim, T0 + 10);
  const r = one(c);
  assert.ok(r.size <= 3 * 7, `${r.size} bytes`);
  // 21 bytes hold no record besides the payload's: the victim only learns its own id.
  assert.equal(r.type, "BOOTSTRAP_R");
  assert.deepEqual(r.peers, []);
  assert.equal(r.self?.ip, victim.hostname);
  assert.equal(c.stats().drops["amplification-trimmed"], 1);

  // "lobby" (12 bytes, 36 allowed): the collector (lowest id) and the most recent other.
  c.handleDatagram(join("lobby"), collector, T0 + 20); // a room of two
  c.handleDatagram(join("lobby"), at("203.0.113.2", 4000), T0 + 30);
  c.handleDatagram(join("lobby"), at("203.0.113.3", 4000), T0 + 40);
  drain(c);
  c.handleDatagram(join("lobby"), victim, T0 + 50);
  const lobby = one(c);
  assert.ok(lobby.size <= 36, `${lobby.size} bytes`);
  assert.deepEqual(lobby.peers.map((p) => p.ip), ["203.0.113.1", "203.0.113.3"]);
});

Deno.test("amplification: a non-member's PEER_COLLECTOR report gets at most 3x, and changes nothing", () => {
  const c = core({ requestsPerSecond: Infinity });
  const collector = at("203.0.113.1", 4000);
  const members = bigRoom(c, "r", collector);
  const stranger = at("192.0.2.7", 7000);
  const report = collect("r", [rec(stranger, S0 - 5000)]);
  c.handleDatagram(report, stranger, T0 + 1000);
  const r = one(c);
  assert.ok(r.size <= 3 * report.length, `${r.size} > 3 x ${report.length}`);
  assert.equal(c.stats().drops["untrusted-report"], 1);
  // Nobody was removed; the stranger is one more member with a fresh id, not the one it claimed.
  const room = c.room("r")!;
  assert.equal(room.memberCount, members.length + 2);
  assert.equal(room.members.find((m) => m.ip === stranger.hostname)!.id, S0 + 1);
});

Deno.test("amplification: one global budget bounds the bytes to all unvalidated addresses", () => {
  const c = core({ requestsPerSecond: Infinity }); // 32,768 B/s, burst 65,536 by default
  bigRoom(c, "lobby", at("203.0.113.1", 4000));
  const request = join("lobby");
  let bytesIn = 0;
  let bytesOut = 0;
  // 20,000 spoofed victims over 2 s of virtual time.
  for (let i = 0; i < 20_000; i++) {
    const victim = at(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 9999);
    c.handleDatagram(request, victim, T0 + 1 + Math.floor(i / 10));
    bytesIn += request.length;
    for (const t of drain(c)) bytesOut += t.size;
  }
  assert.ok(bytesOut <= 3 * bytesIn, "3x at most");
  assert.ok(bytesOut <= 65_536 + 32_768 * 2 + 100, `${bytesOut} bytes in 2 s`);
  assert.ok((c.stats().drops["unvalidated-budget"] ?? 0) > 0);
  assert.ok(c.stats().gauges!["unvalidated-budget-bytes"]! < 100);
});

Deno.test("validation: a v1 peer that echoes its issued id gets full replies while it keeps sending", () => {
  const c = core({ requestsPerSecond: Infinity });
  const collector = at("203.0.113.1", 4000);
  bigRoom(c, "lobby", collector);
  const peer = at("192.0.2.50", 6000);
  c.handleDatagram(join("lobby"), peer, T0 + 100);
  const first = one(c);
  assert.ok(first.size <= 36);
  // The deployed peer re-joins with the record it was given (it is alone until it pings).
  c.handleDatagram(join("lobby", [first.self!]), peer, T0 + 3100);
  const second = one(c);
  assert.equal(second.size, 1023, "validated: a full reply (101 members)");
  assert.equal(c.stats().gauges!["validated-addresses"], 2); // the collector and the peer
  // An empty PEER_COLLECTOR (what a deployed collector sends) keeps it validated; the
  // collector's reports keep the room big.
  const report = collect("lobby", [rec(collector, S0 - 2000), ...c.room("lobby")!.members]);
  for (let t = T0 + 6100; t < T0 + 190_000; t += 3000) {
    c.handleDatagram(report, collector, t);
    drain(c);
    if (t > T0 + 120_000) continue; // the peer falls silent
    c.handleDatagram(collect("lobby"), peer, t);
    assert.equal(one(c).size, 1023);
  }
  // ...and 60 s of silence ends it.
  c.handleDatagram(collect("lobby"), peer, T0 + 190_000);
  assert.ok(one(c).size <= 36);
  // A guessed id from another address validates nothing.
  const other = at("192.0.2.51", 6000);
  const guess = join("lobby", [rec(other, first.self!.id)]);
  c.handleDatagram(guess, other, T0 + 190_100);
  assert.ok(one(c).size <= 3 * guess.length);
});

Deno.test("reports: only the collector's report removes, and not members heard from directly", () => {
  const c = core();
  const a = at("203.0.113.1", 4000);
  const b = at("203.0.113.2", 4000);
  const m = at("203.0.113.3", 4000); // a member turned hostile
  c.handleDatagram(join("r"), a, T0);
  const aSelf = one(c).self!;
  c.handleDatagram(join("r", [aSelf]), a, T0 + 1000); // a proves its address
  c.handleDatagram(join("r"), m, T0 + 1000);
  const mSelf = drain(c).at(-1)!.self!;
  c.handleDatagram(join("r", [mSelf]), m, T0 + 1500); // m proves its address too
  drain(c);
  // A member that is not the collector reports only itself, 10 times a second: nothing changes.
  for (let t = T0 + 2000; t < T0 + 42_000; t += 100) {
    c.handleDatagram(join("r"), b, t); // b keeps showing up
    c.handleDatagram(collect("r", [mSelf]), m, t);
    drain(c);
    if ((t - T0) % 3000 === 0) c.handleDatagram(collect("r"), a, t); // a heartbeats
  }
  drain(c);
  assert.equal(c.room("r")!.memberCount, 3, "b, the newcomer, stayed in the room all along");
  assert.ok((c.stats().drops["untrusted-report"] ?? 0) >= 399);

  // The collector's report leaves b out: kept while b was heard from directly within 6 s.
  c.handleDatagram(collect("r", [aSelf, mSelf]), a, T0 + 42_000);
  assert.equal(c.room("r")!.memberCount, 3);
  assert.equal(c.stats().drops["report-kept-direct"], 1);
  // 6 s later (b silent) the same report removes it.
  c.handleDatagram(collect("r", [aSelf, mSelf]), a, T0 + 48_000);
  assert.deepEqual(c.room("r")!.members.map((x) => x.ip), [a.hostname, m.hostname]);
});

Deno.test("ids: a claimed id that would win the election is not granted", () => {
  const c = core();
  const a = at("203.0.113.1", 4000);
  const x = at("192.0.2.66", 6666);
  c.handleDatagram(join("r"), a, T0);
  drain(c);
  // A newcomer claiming id 1: a fresh id instead, so it never becomes the collector.
  c.handleDatagram(join("r", [rec(x, 1)]), x, T0 + 1000);
  assert.deepEqual(one(c).self, rec(x, S0 + 1));
  // Nor on a re-join as a member, nor through a report.
  c.handleDatagram(join("r", [rec(x, 1)]), x, T0 + 2000);
  assert.deepEqual(one(c).self, rec(x, S0 + 1));
  c.handleDatagram(collect("r", [rec(x, S0 + 1), rec(at("192.0.2.67", 1), 2)]), x, T0 + 3000);
  drain(c);
  assert.deepEqual(c.room("r")!.members.map((m) => m.id), [S0, S0 + 1]);
  assert.ok(c.stats().drops["claimed-id-refused"]! >= 2);
  // An id above the collector's is still kept (a peer from before a restart).
  const y = at("192.0.2.68", 6000);
  c.handleDatagram(join("r", [rec(y, S0 + 2)]), y, T0 + 4000);
  assert.deepEqual(one(c).self, rec(y, S0 + 2));
});

Deno.test("squatting: a per-source room quota, and creator-only rooms make way first", () => {
  const c = core({ requestsPerSecond: Infinity }); // 10 rooms, 5 per source
  const squatter = at("192.0.2.1", 1000);
  for (let i = 0; i < 6; i++) c.handleDatagram(join(`s${i}`), squatter, T0);
  assert.deepEqual(drain(c).map((r) => r.type), [...Array(5).fill("BOOTSTRAP_R"), "ROOM_FULL"]);
  assert.equal(c.stats().drops["room-quota"], 1);
  // Spoofed from other addresses, 10 rooms fill the server, refreshed every 10 s.
  const sources = Array.from({ length: 5 }, (_, i) => at(`192.0.2.${10 + i}`, 1000));
  for (let t = T0; t <= T0 + 30_000; t += 10_000) {
    for (let i = 0; i < 5; i++) c.handleDatagram(join(`s${i}`), squatter, t);
    sources.forEach((s, i) => c.handleDatagram(join(`q${i}`), s, t));
  }
  drain(c);
  assert.equal(c.stats().rooms, 10);
  // An honest room in use by two peers...
  const alice = at("203.0.113.1", 4000);
  const bob = at("203.0.113.2", 4000);
  c.handleDatagram(join("game"), alice, T0 + 30_001);
  c.handleDatagram(join("game"), bob, T0 + 30_002);
  const replies = drain(c);
  assert.deepEqual(replies.map((r) => r.type), ["BOOTSTRAP_R", "BOOTSTRAP_R"]);
  assert.equal(replies[1]!.peers.length, 2);
  assert.equal(c.stats().drops["room-evicted"], 1);
  // ...is never evicted: the next rooms push out squatters only.
  for (let i = 0; i < 9; i++) {
    c.handleDatagram(join(`new${i}`), at(`203.0.113.${10 + i}`, 1), T0 + 30_010);
  }
  drain(c);
  assert.equal(c.room("game")!.memberCount, 2);
  assert.equal(c.stats().rooms, 10);
  assert.equal(c.stats().gauges!["solo-rooms"], 9);
  // Rooms younger than soloRoomEvictMs (10 s) do not make way: ROOM_FULL as before.
  c.handleDatagram(join("late"), at("203.0.113.99", 1), T0 + 30_020);
  assert.deepEqual(drain(c).map((r) => r.type), ["ROOM_FULL"]);
  assert.equal(c.stats().drops["room-limit"], 1);
});

Deno.test("every issue-12 limit is a flag and a config key, and /metrics names it and the guards", async () => {
  const { main } = await import("./cli.ts");
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(config, JSON.stringify({ "rooms-per-source": 2, "report-grace": 4 }));
  const stop = new AbortController();
  let metrics = "";
  let limits: Record<string, number> = {};
  const code = await main([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "0",
    "--log-level",
    "error",
    "--config",
    config,
    "--amplification-factor",
    "0",
    "--unvalidated-bytes-per-second",
    "1000",
    "--unvalidated-bytes-burst",
    "2000",
    "--validation-ttl",
    "30",
    "--max-validated-addresses",
    "100",
    "--solo-room-evict",
    "20",
  ], {
    signal: stop.signal,
    handleSignals: false,
    onListening: (server, control) => {
      limits = { ...server.limits };
      fetch(new URL("/metrics", `http://127.0.0.1:${control!.addr.port}/`))
        .then((r) => r.text())
        .then((text) => (metrics = text))
        .finally(() => stop.abort());
    },
  });
  await Deno.remove(config);
  assert.equal(code, 0);
  assert.deepEqual(
    [
      limits.amplificationFactor,
      limits.unvalidatedBytesPerSecond,
      limits.unvalidatedBytesBurst,
      limits.validationTtlMs,
      limits.maxValidatedAddresses,
      limits.roomsPerSource,
      limits.reportGraceMs,
      limits.soloRoomEvictMs,
    ],
    [Infinity, 1000, 2000, 30_000, 100, 2, 4000, 20_000],
  );
  assert.match(metrics, /^olaf_bootstrap_limit\{name="amplificationFactor"\} \+Inf$/m);
  assert.match(metrics, /^olaf_bootstrap_limit\{name="roomsPerSource"\} 2$/m);
  assert.match(metrics, /^olaf_bootstrap_limit\{name="soloRoomEvictMs"\} 20000$/m);
  assert.match(metrics, /^olaf_bootstrap_gauge\{name="unvalidated-budget-bytes"\} 2000$/m);
  assert.match(metrics, /^olaf_bootstrap_gauge\{name="validated-addresses"\} 0$/m);
  assert.match(metrics, /^olaf_bootstrap_gauge\{name="solo-rooms"\} 0$/m);

  const help = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./mod.ts", import.meta.url).pathname, "--help"],
  }).outputSync();
  const text = new TextDecoder().decode(help.stdout);
  for (
    const flag of [
      "amplification-factor",
      "unvalidated-bytes-per-second",
      "unvalidated-bytes-burst",
      "validation-ttl",
      "max-validated-addresses",
      "rooms-per-source",
      "report-grace",
      "solo-room-evict",
    ]
  ) assert.match(text, new RegExp(`^  --${flag} `, "m"));
});

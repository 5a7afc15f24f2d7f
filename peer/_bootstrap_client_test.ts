import assert from "node:assert/strict";
import { BootstrapCore } from "@olaf/bootstrap";
import { decode } from "@olaf/protocol";
import { decodeDialect } from "@olaf/protocol/dialect";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { PeerMachine, type PeerMachineOptions } from "./peer_machine.ts";
import { LegacyV1Bootstrap } from "../tests/legacy_v1_bootstrap.ts";

const T0 = 1_763_700_000_000;
const BOOT: NetAddress = { hostname: "10.9.0.1", port: 5000 };
const at = (a: NetAddress) => `${a.hostname}:${a.port}`;

interface Node {
  address: NetAddress;
  machine: PeerMachine;
}

/** Peers and one bootstrap exchanging datagrams in memory, instantly, with a log of types. */
class World {
  readonly nodes: Node[] = [];
  readonly log: { from: string; to: string; type: number; data: Uint8Array }[] = [];
  now = T0;
  constructor(
    readonly bootstrap: {
      handleDatagram(b: Uint8Array, from: NetAddress, now: number): void;
      pollTransmit(): { data: Uint8Array; to: NetAddress } | undefined;
    },
  ) {}
  add(ip: string, options: Partial<PeerMachineOptions> = {}): PeerMachine {
    const machine = new PeerMachine({
      room: "lobby",
      bootstraps: [BOOT],
      now: this.now,
      ...options,
    });
    this.nodes.push({ address: { hostname: ip, port: 4000 }, machine });
    return machine;
  }
  /** Runs timers and delivers datagrams until nothing is left at `now`. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const n of this.nodes) {
        const t = n.machine.pollTimeout();
        if (t !== undefined && t <= this.now) n.machine.handleTimeout(this.now);
        for (let d = n.machine.pollTransmit(this.now); d; d = n.machine.pollTransmit(this.now)) {
          moved = true;
          this.#deliver(d.data, n.address, d.to);
        }
      }
      for (let d = this.bootstrap.pollTransmit(); d; d = this.bootstrap.pollTransmit()) {
        moved = true;
        this.#deliver(d.data, BOOT, d.to);
      }
      if (!moved) return;
    }
    throw new Error("no quiescence");
  }
  advance(ms: number, step = 250): void {
    for (let t = 0; t < ms; t += step) {
      this.now += step;
      this.settle();
    }
  }
  #deliver(data: Uint8Array, from: NetAddress, to: NetAddress): void {
    this.log.push({ from: at(from), to: at(to), type: data[0]!, data: data.slice() });
    if (at(to) === at(BOOT)) return this.bootstrap.handleDatagram(data, from, this.now);
    const node = this.nodes.find((n) => at(n.address) === at(to));
    node?.machine.handleDatagram(data, from, this.now);
  }
}

const key = (i: number) => new Uint8Array(32).fill(i);

Deno.test("olaf join: JOIN_O, TOKEN, JOIN_O with the token, WELCOME; then members meet", () => {
  const core = new BootstrapCore({ startedAt: T0 });
  const world = new World(core);
  const a = world.add("10.0.0.1", {
    dialect: { publicKey: key(1), candidates: [{ ip: "192.168.0.1", port: 4000 }] },
  });
  world.settle();
  assert.deepEqual(
    world.log.map((l) => [l.from, l.type]),
    [["10.0.0.1:4000", 24], ["10.9.0.1:5000", 25], ["10.0.0.1:4000", 24], ["10.9.0.1:5000", 26]],
  );
  assert.equal(a.joined, true);
  assert.equal(a.olafJoin.mode, "olaf");
  assert.equal(a.pollEvent()?.type, "joined");

  const b = world.add("10.0.0.2", { dialect: { publicKey: key(2) } });
  world.advance(2000);
  // B's welcome named A with its key and LAN address; A was introduced to B at the same time.
  const seen = b.olafJoin.members.get("10.0.0.1:4000");
  assert.deepEqual(seen?.publicKey, key(1));
  assert.deepEqual(seen?.candidates, [{ ip: "192.168.0.1", port: 4000 }]);
  assert.equal(seen?.introduced, true);
  const intro = a.olafJoin.introductions.shift();
  assert.equal(intro?.peer.record.ip, "10.0.0.2");
  assert.deepEqual(intro?.peer.publicKey, key(2));
  assert.deepEqual(intro?.punchToken, b.olafJoin.punchToken);
  assert.deepEqual(a.peers.map((p) => p.ip), ["10.0.0.2"]);
  assert.deepEqual(b.peers.map((p) => p.ip), ["10.0.0.1"]);
  // The collector reports in the dialect; nothing v1 went to the bootstrap.
  world.advance(10_000);
  const toBoot = new Set(world.log.filter((l) => l.to === at(BOOT)).map((l) => l.type));
  assert.deepEqual([...toBoot].sort(), [24, 27]);
  assert.ok(core.dialectStats().reportsAccepted > 0);
  assert.equal(core.stats().drops["dialect-not-member"], undefined);
});

Deno.test("olaf join: a v1 peer and an Olaf peer share a room at an Olaf bootstrap", () => {
  const core = new BootstrapCore({ startedAt: T0 });
  const world = new World(core);
  const v1 = world.add("10.0.0.1");
  world.settle();
  const olaf = world.add("10.0.0.2", { dialect: {} });
  world.advance(3000);
  assert.deepEqual(v1.peers.map((p) => p.ip), ["10.0.0.2"]);
  assert.deepEqual(olaf.peers.map((p) => p.ip), ["10.0.0.1"]);
  assert.equal(olaf.olafJoin.members.get("10.0.0.1:4000")?.olaf, false);
});

Deno.test("olaf join: a bootstrap that ignores code 24 gets JOIN_B after two tries (open room)", () => {
  const legacy = new LegacyV1Bootstrap({ now: T0 });
  const world = new World(legacy);
  const a = world.add("10.0.0.1", { dialect: {} });
  world.advance(5000);
  const joins = world.log.filter((l) => l.to === at(BOOT)).map((l) => l.type);
  assert.deepEqual(joins.slice(0, 3), [24, 24, 1], "two JOIN_O, then JOIN_B");
  assert.equal(a.olafJoin.mode, "v1");
  assert.equal(a.joined, true);
});

Deno.test("olaf join: a secure room never falls back to v1", () => {
  const legacy = new LegacyV1Bootstrap({ now: T0 });
  const world = new World(legacy);
  const a = world.add("10.0.0.1", {
    dialect: { secure: true, roomKey: "cca9a2ab3e8b5700058207ea3ca90c3f", publicKey: key(1) },
  });
  world.advance(6000);
  const joins = world.log.filter((l) => l.to === at(BOOT)).map((l) => l.type);
  assert.ok(joins.length >= 4 && joins.every((t) => t === 24), joins.join());
  assert.equal(a.olafJoin.mode, "olaf");
  assert.equal(a.joined, false);
  assert.equal(legacy.rooms.size, 0);
  // The bootstrap saw the tag, never the name.
  const first = decodeDialect(world.log.find((l) => l.to === at(BOOT))!.data);
  assert.ok(first.type === "JOIN_O" && first.secure);
  assert.equal(first.room, "cca9a2ab3e8b5700058207ea3ca90c3f");
  assert.deepEqual(first.publicKey, key(1));
});

Deno.test("olaf join: a secure join is refused without a public key", () => {
  assert.throws(
    () =>
      new PeerMachine({
        room: "r",
        bootstraps: [BOOT],
        dialect: { secure: true, roomKey: "00".repeat(16) },
      }),
    RangeError,
  );
});

Deno.test("olaf join: a member that is not the collector refreshes its join, keeping introductions", () => {
  const core = new BootstrapCore({ startedAt: T0 });
  const world = new World(core);
  world.add("10.0.0.1", { dialect: {} });
  world.settle();
  world.add("10.0.0.2", { dialect: {} });
  world.advance(6 * 60_000, 1000); // many times the bootstrap's 60 s validation
  const c = world.add("10.0.0.3", { dialect: {} });
  world.advance(2000);
  // Both earlier members were still validated, so both were introduced to the newcomer.
  const introduced = [...c.olafJoin.members.values()].filter((m) => m.introduced);
  assert.equal(introduced.length, 2);
  assert.equal(c.peers.length, 2);
});

Deno.test("olaf join: a bootstrap's dialect datagram that is malformed is dropped and counted", () => {
  const a = new PeerMachine({ room: "lobby", bootstraps: [BOOT], now: T0, dialect: {} });
  a.handleTimeout(T0);
  const join = a.pollTransmit()!;
  assert.equal(decodeDialect(join.data).type, "JOIN_O");
  a.handleDatagram(new Uint8Array([26, 0, 0, 0, 0, 0, 1, 0]), BOOT, T0);
  assert.equal(a.stats.drops["truncated-payload"], 1);
  assert.equal(a.joined, false);
  assert.equal(decode(join.data).type, "EXTENSION");
});

Deno.test("olaf join: real UDP, two joinRoom peers meet through the dialect", async () => {
  const { startBootstrap } = await import("@olaf/bootstrap");
  const { joinRoom } = await import("./room.ts");
  const { eventually } = await import("@olaf/protocol/testing");
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  const options = {
    bootstraps: [spec],
    hostname: "127.0.0.1",
    heartbeatMs: 500,
    peerTimeoutMs: 5000,
  };
  const a = await joinRoom("udp-dialect", { ...options, dialect: { publicKey: key(1) } });
  const b = await joinRoom("udp-dialect", { ...options, dialect: { publicKey: key(2) } });
  try {
    await eventually(() => a.peers.length === 1 && b.peers.length === 1, { what: "both meet" });
    assert.equal(a.peers[0]!.port, b.self.port);
    assert.equal(server.room("udp-dialect")?.memberCount, 2);
    // Each joined through a TOKEN round trip: the dialect, not v1.
    assert.equal(server.stats().drops["dialect-token-missing"], 2);
    assert.equal(a.stats.drops["unexpected-from-bootstrap"], undefined);
  } finally {
    await a.leave();
    await b.leave();
  }
});

/**
 * A simulated world for tests of the real `joinRoom` driver: a seeded {@linkcode MemoryNetwork}
 * with virtual time, NATs on it, and the real bootstrap on the public side.
 *
 * @module
 */
import { type BootstrapOptions, type BootstrapServer, startBootstrap } from "@olaf/bootstrap";
import {
  type MemoryNat,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type NatOptions,
} from "@olaf/protocol/memory-network";
import { joinRoom, type JoinRoomOptions, type Room } from "@olaf/peer";

/** The virtual start time of every world (a fixed instant, so runs repeat). */
export const T0 = 1_763_700_000_000;

/** What {@linkcode simWorld} builds. */
export interface SimWorldOptions {
  seed: number;
  /** Extra network options (loss, delay; default delay 2..20 ms). */
  network?: Omit<MemoryNetworkOptions, "seed" | "startTime">;
  /** NAT `i` gets the public address 198.51.100.(i+1) and the hosts 10.(i+1).0.0/24. */
  nats?: Omit<NatOptions, "publicHostname" | "hosts">[];
  /** The bootstrap's host (default 203.0.113.1, on the public side); its port is 5000. */
  bootstrapHost?: string;
  /** The room every join goes to (default `"lobby"`). */
  room?: string;
  /** Extra bootstrap options. */
  bootstrap?: Omit<BootstrapOptions, "bind" | "clock" | "hostname" | "port">;
}

/** A world from {@linkcode simWorld}; disposing it closes the bootstrap. */
export interface SimWorld extends AsyncDisposable {
  readonly net: MemoryNetwork;
  readonly nats: MemoryNat[];
  readonly boot: BootstrapServer;
  /** The bootstrap's address, `host:5000`. */
  readonly bootstrap: string;
  /** `joinRoom` from `hostname`, port 4000, through the world's bootstrap. */
  join(hostname: string, options?: Partial<JoinRoomOptions>): Promise<Room>;
  /**
   * Joins `count` peers from 10.0.x.y (`i` = 1..count), one every `gapMs` of virtual time, and
   * runs the network until every join settled (throws after 60 s of virtual time).
   */
  joinMany(count: number, options?: Partial<JoinRoomOptions>, gapMs?: number): Promise<Room[]>;
}

/** Whether every room lists every other one as a member (by address). */
export function converged(rooms: readonly Room[]): boolean {
  const key = (p: { ip: string; port: number }) => `${p.ip}:${p.port}`;
  const everyone = rooms.map((r) => key(r.self)).sort();
  return rooms.every((r) =>
    r.peers.map(key).sort().join() === everyone.filter((k) => k !== key(r.self)).join()
  );
}

/** Builds a {@linkcode SimWorld}. */
export async function simWorld(options: SimWorldOptions): Promise<SimWorld> {
  const net = new MemoryNetwork({
    delayMs: { min: 2, max: 20 },
    ...options.network,
    seed: options.seed,
    startTime: T0,
  });
  const nats = (options.nats ?? []).map((nat, i) =>
    net.addNat({ ...nat, publicHostname: `198.51.100.${i + 1}`, hosts: [`10.${i + 1}.0.0/24`] })
  );
  const host = options.bootstrapHost ?? "203.0.113.1";
  const boot = await startBootstrap({
    ...options.bootstrap,
    bind: net.bind,
    clock: net.clock,
    hostname: host,
    port: 5000,
  });
  const bootstrap = `${host}:5000`;
  const join = (hostname: string, extra: Partial<JoinRoomOptions> = {}) =>
    joinRoom(options.room ?? "lobby", {
      bootstraps: [bootstrap],
      bind: net.bind,
      clock: net.clock,
      hostname,
      port: 4000,
      ...extra,
    });
  const joinMany = async (count: number, extra: Partial<JoinRoomOptions> = {}, gapMs = 50) => {
    const joining: Promise<Room>[] = [];
    for (let i = 1; i <= count; i++) {
      joining.push(join(`10.0.${i >> 8}.${i & 255}`, extra));
      await net.advance(gapMs);
    }
    let done = false;
    const all = Promise.all(joining).finally(() => (done = true));
    if (!await net.runUntil(() => done, { timeoutMs: 60_000 })) {
      throw new Error(`${count} joins did not settle in 60 s of virtual time`);
    }
    return await all;
  };
  return { net, nats, boot, bootstrap, join, joinMany, [Symbol.asyncDispose]: () => boot.close() };
}

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
  /** `joinRoom("lobby")` from `hostname`, port 4000, through the world's bootstrap. */
  join(hostname: string, options?: Partial<JoinRoomOptions>): Promise<Room>;
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
  return {
    net,
    nats,
    boot,
    bootstrap,
    join: (hostname, extra = {}) =>
      joinRoom("lobby", {
        bootstraps: [bootstrap],
        bind: net.bind,
        clock: net.clock,
        hostname,
        port: 4000,
        ...extra,
      }),
    [Symbol.asyncDispose]: () => boot.close(),
  };
}

import { getLogger } from "@logtape/logtape";
import type { DatagramBinder, DatagramSocket } from "@olaf/protocol/net";
import { bindBootstrapDatagram } from "./_udp.ts"; // issue 15
import {
  type Clock,
  drive,
  type Driver,
  type NetAddress,
  systemClock,
} from "@olaf/protocol/sans-io";
import { BootstrapCore } from "./bootstrap_core.ts";
import type { BootstrapLimits, ResolvedBootstrapLimits } from "./limits.ts";
import type {
  BootstrapEvent,
  BootstrapStats,
  BootstrapView,
  RoomDetail,
  RoomSummary,
} from "./types.ts";
// --- handshake dialect (issue 14) ---
import {
  type HandshakeServer,
  type HandshakeServerOptions,
  startHandshakeServer,
} from "./handshake/server.ts";
// --- end handshake dialect ---
import {
  isNatDatagram,
  NatService,
  type NatServiceOptions,
  type NatServiceStats,
} from "./_nat_service.ts"; // issue 11

const logger = getLogger(["olaf", "bootstrap"]);

/** Default UDP port of a bootstrap, as deployed. */
export const DEFAULT_BOOTSTRAP_PORT = 5000;

/** Options of {@linkcode startBootstrap}: where to listen, the limits, and the I/O to use. */
export interface BootstrapOptions extends BootstrapLimits {
  /** Address to bind. Default `"0.0.0.0"`. */
  hostname?: string;
  /** UDP port; 0 picks a free one. Default 5000. */
  port?: number;
  /**
   * How to bind the socket. Default: real UDP (`bindDatagram` from `@olaf/protocol/net`) with
   * `directSend` (a synchronous `sendto` through FFI where `--allow-ffi` and Linux allow it).
   */
  bind?: DatagramBinder;
  /** Time and timers. Default: `systemClock`. */
  clock?: Clock;
  // --- handshake dialect (issue 14) ---
  /**
   * Serve the JSON handshake dialect too (see `@olaf/bootstrap/handshake`):
   * on this port (datagrams starting with `{`) when its `port` is left out,
   * else on a port of its own. Default: off.
   */
  handshake?: HandshakeServerOptions;
  // --- end handshake dialect ---
  /**
   * NAT traversal services (issue 11): `NAT_CHECK` answers on this port (and on
   * `nat.checkPort` when given) and, with `nat.relay`, a relay for peers whose
   * punching failed. Default: `NAT_CHECK` answers only, no relay.
   */
  nat?: NatServiceOptions;
}

/**
 * A running bootstrap server. It is a {@linkcode BootstrapView}, so it can be
 * handed to the control plane (`serveControl({ bootstrap: server })`).
 */
export interface BootstrapServer extends BootstrapView, AsyncDisposable {
  /** The bound address (the real port when `port` was 0). */
  readonly localAddress: NetAddress;
  /** The limits in force, defaults applied. */
  readonly limits: Readonly<ResolvedBootstrapLimits>;
  /** Stops the server: closes the socket and cancels its timer. Idempotent. */
  close(): Promise<void>;
  // --- handshake dialect (issue 14) ---
  /** The JSON handshake dialect, when `options.handshake` was given. */
  readonly handshake: HandshakeServer | undefined;
  // --- end handshake dialect ---
  /** The second `NAT_CHECK` port's address, when `nat.checkPort` was given (issue 11). */
  readonly natCheckAddress: NetAddress | undefined;
  /** NAT_CHECK and relay counters (issue 11), also in `/metrics` as `olaf_nat_*`. */
  natStats(): NatServiceStats;
}

/**
 * Starts a bootstrap server: a {@linkcode BootstrapCore} driven by a datagram
 * socket and a clock by the shared sans-IO `drive()` loop
 * (`@olaf/protocol/sans-io`). Each datagram is handled in the socket's
 * callback (no promise per datagram); one timer at a time, rearmed from the
 * core's next deadline, expires members and rooms.
 *
 * @param options Where to listen, limits, and optionally the binder and clock.
 * @returns The running server, once its socket is bound.
 * @throws When the socket cannot be bound (e.g. the address is in use), or
 *   `RangeError` for an invalid limit.
 *
 * @example Serve a join over loopback
 * ```ts
 * import { startBootstrap } from "@olaf/bootstrap";
 * import { bindDatagram } from "@olaf/protocol/net";
 * import { decode, encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
 * await using client = await bindDatagram({ hostname: "127.0.0.1" });
 * client.send(encode({ type: "JOIN_B", peers: [], room: "lobby" }), server.localAddress);
 * for await (const { data } of client) {
 *   const reply = decode(data);
 *   assert.equal(reply.type, "BOOTSTRAP_R");
 *   break;
 * }
 * assert.equal(server.stats().members, 1);
 * assert.equal(server.room("lobby")?.memberCount, 1);
 * ```
 */
export async function startBootstrap(options: BootstrapOptions = {}): Promise<BootstrapServer> {
  const clock = options.clock ?? systemClock;
  const bind = options.bind ?? bindBootstrapDatagram;
  // Validate the limits before binding, so bad options do not hold a port.
  const core = new BootstrapCore({ ...options, startedAt: clock.now(), emitEvents: false });
  const server = new Server(core, clock, new NatService(options.nat));
  const socket = await bind({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? DEFAULT_BOOTSTRAP_PORT,
    onDatagram: (data, from) => server.receive(data, from),
    onError: (error) => logger.warn("socket error: {message}", { message: error.message }),
  });
  server.attach(socket);
  // --- NAT services (issue 11) ---
  const checkPort = options.nat?.checkPort;
  if (checkPort !== undefined) {
    try {
      server.natCheck = await bind({
        hostname: options.hostname ?? "0.0.0.0",
        port: checkPort,
        onDatagram: (data, from) => server.receiveNat(data, from, "check"),
        onError: (error) => logger.warn("NAT check socket error: {message}", { ...error }),
      });
    } catch (error) {
      await server.close();
      throw error;
    }
    server.nat.checkPort = server.natCheck.localAddress.port;
  }
  // --- end NAT services ---
  // --- handshake dialect (issue 14) ---
  if (options.handshake) {
    try {
      server.handshake = await startHandshakeServer(
        { hostname: options.hostname, bind, clock, ...options.handshake },
        { send: (data, to) => socket.send(data, to) },
      );
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  // --- end handshake dialect ---
  logger.debug("bootstrap listening on {hostname}:{port}", { ...socket.localAddress });
  return server;
}

/** The core on the shared sans-IO driver, plus the listeners and the socket's lifetime. */
class Server implements BootstrapServer {
  readonly #core: BootstrapCore;
  readonly #clock: Clock;
  /** Runs the core: sends its replies, delivers its events, arms its one timer. */
  readonly driver: Driver<BootstrapEvent>;
  #socket: DatagramSocket | undefined;
  readonly #listeners = new Set<(event: BootstrapEvent) => void>();
  #closing: Promise<void> | undefined;
  handshake: HandshakeServer | undefined; // handshake dialect (issue 14)
  readonly nat: NatService; // issue 11
  natCheck: DatagramSocket | undefined; // issue 11

  constructor(core: BootstrapCore, clock: Clock, nat: NatService) {
    this.nat = nat;
    this.#core = core;
    this.#clock = clock;
    this.driver = drive(core, {
      clock,
      onEvent: (event) => {
        for (const listener of this.#listeners) {
          try {
            listener(event);
          } catch (error) {
            logger.error("event listener threw: {error}", { error });
          }
        }
      },
      onError: (error) => logger.warn("send failed: {error}", { error }),
    });
  }

  attach(socket: DatagramSocket): void {
    this.#socket = socket;
    this.driver.attach(socket);
  }

  /** One received datagram: to the core, or to the handshake dialect when it starts with `{`. */
  receive(data: Uint8Array, from: NetAddress): void {
    // Handshake dialect (issue 14): '{' (123) is no v1 type and is reserved for it.
    const hs = this.handshake;
    if (data[0] === 0x7b && hs && !hs.localAddress) return hs.receive(data, from);
    if (isNatDatagram(data)) return this.receiveNat(data, from, "main"); // issue 11
    this.driver.receive(data, from);
  }

  /** NAT_CHECK / relay datagrams (issue 11): answered at once, from the socket they name. */
  receiveNat(data: Uint8Array, from: NetAddress, via: "main" | "check"): void {
    const nat = this.nat;
    try {
      nat.handle(data, from, this.#clock.now(), via);
    } catch (error) {
      logger.warn("NAT service error: {error}", { error });
    }
    for (let t = nat.pollTransmit(); t !== undefined; t = nat.pollTransmit()) {
      const socket = t.via === "check" ? this.natCheck : this.#socket;
      try {
        socket?.send(t.data, t.to);
      } catch (error) {
        logger.warn("send failed: {error}", { error });
      }
    }
  }

  get natCheckAddress(): NetAddress | undefined {
    return this.natCheck?.localAddress;
  }

  get localAddress(): NetAddress {
    return this.#socket!.localAddress;
  }

  get limits(): Readonly<ResolvedBootstrapLimits> {
    return this.#core.limits;
  }

  stats(): BootstrapStats {
    return this.#core.stats(this.#clock.now());
  }

  natStats(): NatServiceStats {
    return this.nat.stats(this.#clock.now());
  }

  listRooms(options: { offset: number; limit: number }): { total: number; rooms: RoomSummary[] } {
    return this.#core.listRooms(options);
  }

  room(name: string): RoomDetail | undefined {
    return this.#core.room(name);
  }

  subscribe(listener: (event: BootstrapEvent) => void): () => void {
    // A fresh function per subscription, so the same listener can subscribe twice.
    const entry = (event: BootstrapEvent) => listener(event);
    this.#listeners.add(entry);
    this.#core.emitEvents = true;
    return () => {
      this.#listeners.delete(entry);
      // Nobody listening: stop building event objects on the hot path.
      this.#core.emitEvents = this.#listeners.size > 0;
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.driver.stop();
      this.#listeners.clear();
      await this.handshake?.close(); // handshake dialect (issue 14)
      await this.natCheck?.close(); // issue 11
      await this.#socket?.close();
      logger.debug("bootstrap stopped");
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

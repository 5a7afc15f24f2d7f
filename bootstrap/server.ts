import { getLogger } from "@logtape/logtape";
import type {
  BootstrapEvent,
  BootstrapStats,
  BootstrapView,
  RoomDetail,
  RoomSummary,
} from "@olaf/control";
import {
  bindDatagram,
  type Clock,
  type DatagramBinder,
  type DatagramSocket,
  type NetAddress,
  systemClock,
} from "@olaf/protocol/net";
import {
  BootstrapCore,
  type BootstrapLimits,
  type ResolvedBootstrapLimits,
} from "./bootstrap_core.ts";
// --- handshake dialect (issue 14) ---
import {
  type HandshakeServer,
  type HandshakeServerOptions,
  startHandshakeServer,
} from "./handshake/server.ts";
// --- end handshake dialect ---

const logger = getLogger(["olaf", "bootstrap"]);

/** Longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 0x7fffffff;

/** Default UDP port of a bootstrap, as deployed. */
export const DEFAULT_BOOTSTRAP_PORT = 5000;

/** Options of {@linkcode startBootstrap}: where to listen, the limits, and the I/O to use. */
export interface BootstrapOptions extends BootstrapLimits {
  /** Address to bind. Default `"0.0.0.0"`. */
  hostname?: string;
  /** UDP port; 0 picks a free one. Default 5000. */
  port?: number;
  /** How to bind the socket. Default: real UDP (`bindDatagram` from `@olaf/protocol/net`). */
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
}

/**
 * Starts a bootstrap server: a {@linkcode BootstrapCore} driven by a datagram
 * socket and a clock. Each datagram is handled in the socket's callback (no
 * promise per datagram); one timer at a time, rearmed from the core's next
 * deadline, expires members and rooms.
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
  const bind = options.bind ?? bindDatagram;
  // Validate the limits before binding, so bad options do not hold a port.
  const core = new BootstrapCore({ ...options, startedAt: clock.now(), emitEvents: false });
  const driver = new Driver(core, clock);
  const socket = await bind({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? DEFAULT_BOOTSTRAP_PORT,
    onDatagram: (data, from) => driver.receive(data, from),
    onError: (error) => logger.warn("socket error: {message}", { message: error.message }),
  });
  driver.attach(socket);
  // --- handshake dialect (issue 14) ---
  if (options.handshake) {
    try {
      driver.handshake = await startHandshakeServer(
        { hostname: options.hostname, bind, clock, ...options.handshake },
        { send: (data, to) => socket.send(data, to) },
      );
    } catch (error) {
      await driver.close();
      throw error;
    }
  }
  // --- end handshake dialect ---
  logger.debug("bootstrap listening on {hostname}:{port}", { ...socket.localAddress });
  return driver;
}

class Driver implements BootstrapServer {
  readonly #core: BootstrapCore;
  readonly #clock: Clock;
  #socket: DatagramSocket | undefined;
  readonly #listeners = new Set<(event: BootstrapEvent) => void>();
  #timer = 0;
  /** When the armed timer fires, or `undefined` when none is armed. */
  #armedAt: number | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  handshake: HandshakeServer | undefined; // handshake dialect (issue 14)

  constructor(core: BootstrapCore, clock: Clock) {
    this.#core = core;
    this.#clock = clock;
  }

  attach(socket: DatagramSocket): void {
    this.#socket = socket;
  }

  get localAddress(): NetAddress {
    return this.#socket!.localAddress;
  }

  get limits(): Readonly<ResolvedBootstrapLimits> {
    return this.#core.limits;
  }

  receive(data: Uint8Array, from: NetAddress): void {
    if (this.#closed) return;
    // Handshake dialect (issue 14): '{' (123) is no v1 type and is reserved for it.
    const hs = this.handshake;
    if (data[0] === 0x7b && hs && !hs.localAddress) return hs.receive(data, from);
    this.#core.handleDatagram(data, from, this.#clock.now());
    this.#flush();
  }

  #onTimer = (): void => {
    this.#armedAt = undefined;
    if (this.#closed) return;
    this.#core.handleTimeout(this.#clock.now());
    this.#flush();
  };

  #flush(): void {
    const core = this.#core;
    const socket = this.#socket;
    for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) {
      socket?.send(t.data, t.to);
    }
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) {
      for (const listener of this.#listeners) {
        try {
          listener(e);
        } catch (error) {
          logger.error("event listener threw: {error}", { error });
        }
      }
    }
    this.#rearm();
  }

  #rearm(): void {
    const next = this.#core.pollTimeout();
    if (next === undefined || (this.#armedAt !== undefined && this.#armedAt <= next)) return;
    if (this.#armedAt !== undefined) this.#clock.clearTimer(this.#timer);
    const now = this.#clock.now();
    // Timers take a 32-bit delay: a longer one fires at once, over and over.
    // Firing early is harmless (the core just reports its deadline again).
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - now));
    this.#armedAt = now + delay;
    this.#timer = this.#clock.setTimer(this.#onTimer, delay);
  }

  stats(): BootstrapStats {
    return this.#core.stats(this.#clock.now());
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
      this.#closed = true;
      if (this.#armedAt !== undefined) this.#clock.clearTimer(this.#timer);
      this.#armedAt = undefined;
      this.#listeners.clear();
      await this.handshake?.close(); // handshake dialect (issue 14)
      await this.#socket?.close();
      logger.debug("bootstrap stopped");
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

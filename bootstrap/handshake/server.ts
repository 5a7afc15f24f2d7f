/**
 * The driver of {@linkcode HandshakeCore}: sockets, one timer, events.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  bindDatagram,
  type Clock,
  type DatagramBinder,
  type DatagramSocket,
  type NetAddress,
  systemClock,
} from "@olaf/protocol/net";
import {
  HandshakeCore,
  type HandshakeEvent,
  type HandshakeLimits,
  type HandshakeNetworkSummary,
  type HandshakeNodeSummary,
  type HandshakeStats,
} from "./core.ts";

const logger = getLogger(["olaf", "bootstrap", "handshake"]);
const MAX_TIMER_MS = 0x7fffffff;

/** Default STUN port (RFC 8489). */
export const DEFAULT_STUN_PORT = 3478;

/** Options of {@linkcode startHandshakeServer}. */
export interface HandshakeServerOptions extends HandshakeLimits {
  /** Address to bind. Default `"0.0.0.0"`. */
  hostname?: string;
  /**
   * A UDP port of its own (0 picks one). Leave it out to share another
   * socket's port: then pass `shared` and feed datagrams to `receive`.
   */
  port?: number;
  /** The STUN port, bound when `stun` is on. Default 3478; 0 picks one. */
  stunPort?: number;
  /** How to bind sockets. Default: real UDP. */
  bind?: DatagramBinder;
  /** Time and timers. Default: `systemClock`. */
  clock?: Clock;
}

/** A running handshake dialect: the view the control plane reads, plus its sockets. */
export interface HandshakeServer extends AsyncDisposable {
  /** Its own socket's address, or `undefined` when it shares the bootstrap's port. */
  readonly localAddress: NetAddress | undefined;
  /** The STUN socket's address, or `undefined` when STUN is off. */
  readonly stunAddress: NetAddress | undefined;
  /** The core's settings, defaults applied. */
  readonly limits: HandshakeCore["limits"];
  /** Handles a datagram that arrived on a shared socket (the bootstrap's). */
  receive(data: Uint8Array, from: NetAddress): void;
  /** Totals. */
  stats(): HandshakeStats;
  /** Networks with nodes. */
  networks(): HandshakeNetworkSummary[];
  /** The nodes of one network, or `undefined`. */
  network(networkId: string): HandshakeNodeSummary[] | undefined;
  /** Calls `listener` for every membership change; returns the unsubscribe function. */
  subscribe(listener: (event: HandshakeEvent) => void): () => void;
  /** Closes its sockets and timer. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the JSON handshake dialect on its own port, or on a shared one.
 *
 * @param options Port, limits, binder and clock.
 * @param shared How to send when it shares another socket (`options.port` left out).
 * @returns The running server.
 * @throws When a socket cannot be bound, or `RangeError` for a bad limit.
 *
 * @example Ping over loopback
 * ```ts
 * import { startHandshakeServer } from "@olaf/bootstrap/handshake";
 * import { bindDatagram } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * await using server = await startHandshakeServer({ hostname: "127.0.0.1", port: 0 });
 * await using client = await bindDatagram({ hostname: "127.0.0.1" });
 * const ping = { id: crypto.randomUUID(), message_type: "Ping", timestamp: 0, payload: null,
 *   sender_addr: null, sequence_number: null, requires_ack: false, ack_for: null };
 * client.send(new TextEncoder().encode(JSON.stringify(ping)), server.localAddress!);
 * for await (const { data } of client) {
 *   assert.equal(JSON.parse(new TextDecoder().decode(data)).message_type, "Pong");
 *   break;
 * }
 * ```
 */
export async function startHandshakeServer(
  options: HandshakeServerOptions = {},
  shared?: { send(data: Uint8Array, to: NetAddress): void },
): Promise<HandshakeServer> {
  const clock = options.clock ?? systemClock;
  const bind = options.bind ?? bindDatagram;
  const hostname = options.hostname ?? "0.0.0.0";
  const core = new HandshakeCore({ ...options, startedAt: options.startedAt ?? clock.now() });
  const driver = new HandshakeDriver(core, clock, shared);
  try {
    if (options.port !== undefined) {
      driver.socket = await bind({
        hostname,
        port: options.port,
        onDatagram: (data, from) => driver.receive(data, from),
        onError: (error) => logger.warn("socket error: {message}", { message: error.message }),
      });
    } else if (!shared) {
      throw new TypeError("startHandshakeServer: give a port, or a shared socket to send with");
    }
    if (core.limits.stun) {
      driver.stun = await bind({
        hostname,
        port: options.stunPort ?? DEFAULT_STUN_PORT,
        onDatagram: (data, from) => driver.receiveStun(data, from),
        onError: (error) => logger.warn("STUN socket error: {message}", { message: error.message }),
      });
    }
  } catch (error) {
    await driver.close();
    throw error;
  }
  return driver;
}

class HandshakeDriver implements HandshakeServer {
  readonly #core: HandshakeCore;
  readonly #clock: Clock;
  readonly #shared: { send(data: Uint8Array, to: NetAddress): void } | undefined;
  socket: DatagramSocket | undefined;
  stun: DatagramSocket | undefined;
  readonly #listeners = new Set<(event: HandshakeEvent) => void>();
  #timer = 0;
  #armedAt: number | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(
    core: HandshakeCore,
    clock: Clock,
    shared: { send(data: Uint8Array, to: NetAddress): void } | undefined,
  ) {
    this.#core = core;
    this.#clock = clock;
    this.#shared = shared;
  }

  get localAddress(): NetAddress | undefined {
    return this.socket?.localAddress;
  }

  get stunAddress(): NetAddress | undefined {
    return this.stun?.localAddress;
  }

  get limits(): HandshakeCore["limits"] {
    return this.#core.limits;
  }

  receive(data: Uint8Array, from: NetAddress): void {
    if (this.#closed) return;
    this.#core.handleDatagram(data, from, this.#clock.now());
    this.#flush();
  }

  receiveStun(data: Uint8Array, from: NetAddress): void {
    if (this.#closed) return;
    const reply = this.#core.handleStun(data, from);
    if (reply) this.stun?.send(reply, from);
  }

  #onTimer = (): void => {
    this.#armedAt = undefined;
    if (this.#closed) return;
    this.#core.handleTimeout(this.#clock.now());
    this.#flush();
  };

  #flush(): void {
    const core = this.#core;
    for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) {
      if (this.socket) this.socket.send(t.data, t.to);
      else this.#shared?.send(t.data, t.to);
    }
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) {
      logger.debug("{type} {id} {addr} in {network}", { ...e });
      for (const listener of this.#listeners) {
        try {
          listener(e);
        } catch (error) {
          logger.error("event listener threw: {error}", { error });
        }
      }
    }
    const next = core.pollTimeout();
    if (next === undefined || (this.#armedAt !== undefined && this.#armedAt <= next)) return;
    if (this.#armedAt !== undefined) this.#clock.clearTimer(this.#timer);
    const now = this.#clock.now();
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - now));
    this.#armedAt = now + delay;
    this.#timer = this.#clock.setTimer(this.#onTimer, delay);
  }

  stats(): HandshakeStats {
    return this.#core.stats(this.#clock.now());
  }

  networks(): HandshakeNetworkSummary[] {
    return this.#core.networks();
  }

  network(networkId: string): HandshakeNodeSummary[] | undefined {
    return this.#core.network(networkId);
  }

  subscribe(listener: (event: HandshakeEvent) => void): () => void {
    const entry = (event: HandshakeEvent) => listener(event);
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      if (this.#armedAt !== undefined) this.#clock.clearTimer(this.#timer);
      this.#armedAt = undefined;
      this.#listeners.clear();
      await this.socket?.close();
      await this.stun?.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

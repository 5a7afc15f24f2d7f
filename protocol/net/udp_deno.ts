/**
 * The datagram socket over `Deno.listenDatagram`, which Deno only provides
 * with `--unstable-net` (or `"unstable": ["net"]` in `deno.json`).
 *
 * @module
 */
import {
  addrInUseError,
  closedError,
  OrderedSender,
  Receiver,
  reportError,
  resolveBindOptions,
} from "./_socket_common.ts";
import { type DirectSender, openDirectSender, sendDirect } from "./_direct_send.ts";
import type {
  BindOptions,
  Datagram,
  DatagramImplementation,
  DatagramSocket,
  NetAddress,
} from "./types.ts";

// The slice of the unstable API used here, typed locally so that this module
// type-checks for users whose compiler does not include Deno's unstable types.
interface DenoUdpAddress {
  transport: "udp";
  hostname: string;
  port: number;
}
interface DenoDatagramConn {
  readonly addr: { hostname: string; port: number };
  receive(buffer?: Uint8Array): Promise<[Uint8Array, DenoUdpAddress]>;
  send(data: Uint8Array, to: DenoUdpAddress): Promise<number>;
  close(): void;
}
type ListenDatagram = (options: DenoUdpAddress) => DenoDatagramConn;

// A UDP datagram never exceeds 65 535 bytes, so one buffer of that size suffices.
const RECEIVE_BUFFER_BYTES = 65536;
// Receives in flight per socket (each with its own buffer), see the constructor.
const RECEIVES_IN_FLIGHT = 4;
// Receive errors in a row after which the socket stops receiving (and says so).
const MAX_CONSECUTIVE_RECEIVE_ERRORS = 100;

function listenDatagram(): ListenDatagram | undefined {
  const deno = (globalThis as { Deno?: { listenDatagram?: ListenDatagram } }).Deno;
  return typeof deno?.listenDatagram === "function" ? deno.listenDatagram.bind(deno) : undefined;
}

/**
 * Whether `Deno.listenDatagram` exists here, i.e. this is Deno run with
 * `--unstable-net` (or `"unstable": ["net"]` in the config).
 *
 * @example
 * ```ts
 * import { isDenoDatagramAvailable } from "@olaf/protocol/net";
 * console.log(isDenoDatagramAvailable() ? "deno" : "node");
 * ```
 */
export function isDenoDatagramAvailable(): boolean {
  return listenDatagram() !== undefined;
}

/** Options of {@linkcode bindDenoDatagram}. */
export interface DenoBindOptions extends BindOptions {
  /**
   * Send with a synchronous `sendto(2)` through FFI on the socket's own
   * descriptor instead of Deno's async send op: 1-5 µs less CPU per
   * datagram and no event-loop turn per send (`deno task bench:udp`). Used
   * only where it works (Linux with glibc, `--allow-ffi` granted, an IPv4
   * socket); elsewhere, and for any destination that is not IPv4 text, the
   * send op is used as without it. Default `false`.
   */
  directSend?: boolean;
}

/**
 * Binds a UDP socket with `Deno.listenDatagram`. Received bytes are copied
 * out of one reused 64 KiB buffer into an array of the datagram's size, which
 * the receiver owns. `send` is fire-and-forget: errors go to `onError`.
 *
 * @throws {Error} If `Deno.listenDatagram` is absent (no `--unstable-net`).
 * @throws {Deno.errors.AddrInUse} If the address is taken.
 *
 * @example Echo over loopback
 * ```ts
 * import { bindDenoDatagram, isDenoDatagramAvailable } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * if (isDenoDatagramAvailable()) {
 *   await using server = await bindDenoDatagram({
 *     hostname: "127.0.0.1",
 *     onDatagram: (data, from) => server.send(data, from),
 *   });
 *   await using client = await bindDenoDatagram({ hostname: "127.0.0.1" });
 *   client.send(new Uint8Array([1, 2, 3]), server.localAddress);
 *   for await (const { data } of client) {
 *     assert.deepEqual(data, new Uint8Array([1, 2, 3]));
 *     break;
 *   }
 * }
 * ```
 */
export function bindDenoDatagram(options: DenoBindOptions = {}): Promise<DatagramSocket> {
  try {
    const listen = listenDatagram();
    if (listen === undefined) {
      throw new Error(
        'Deno.listenDatagram is not available: run Deno with --unstable-net (or "unstable": ["net"] ' +
          'in deno.json), or use the "node" implementation',
      );
    }
    const resolved = resolveBindOptions(options);
    let conn: DenoDatagramConn;
    try {
      conn = listen({ transport: "udp", hostname: resolved.hostname, port: resolved.port });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) throw addrInUseError(resolved, error);
      throw error;
    }
    const direct = options.directSend
      ? openDirectSender(conn.addr.hostname, conn.addr.port)
      : undefined;
    return Promise.resolve(
      new DenoDatagramSocket(conn, new Receiver(resolved), resolved.onError, direct),
    );
  } catch (error) {
    return Promise.reject(error);
  }
}

class DenoDatagramSocket implements DatagramSocket {
  readonly implementation: DatagramImplementation = "deno";
  readonly localAddress: NetAddress;
  #conn: DenoDatagramConn;
  #receiver: Receiver;
  #onError: ((error: Error) => void) | undefined;
  #receiving: Promise<void>;
  /** Receive errors in a row, over all the receive loops (they share one socket). */
  #receiveErrors = 0;
  #closing: Promise<void> | undefined;
  /** The synchronous sendto, when asked for and available (cleared on close: the fd goes). */
  #direct: DirectSender | undefined;
  #sender: OrderedSender = new OrderedSender((data, to, done) => {
    try {
      this.#conn.send(data, { transport: "udp", hostname: to.hostname, port: to.port })
        .then(done, (error) => {
          done();
          this.#sendFailed(error);
        });
    } catch (error) {
      done();
      this.#sendFailed(error);
    }
  });

  constructor(
    conn: DenoDatagramConn,
    receiver: Receiver,
    onError: ((error: Error) => void) | undefined,
    direct: DirectSender | undefined,
  ) {
    this.#conn = conn;
    this.#direct = direct;
    this.#receiver = receiver;
    this.#onError = onError;
    this.localAddress = Object.freeze({ hostname: conn.addr.hostname, port: conn.addr.port });
    // Several receives in flight: Deno's op hands back one datagram per event-loop turn, so
    // with one a socket in a busy process (1000 peers in one) reads one datagram per turn and
    // its kernel queue backs up into seconds of delay and drops (tools/udp_room.ts).
    const loops: Promise<void>[] = [];
    for (let i = 0; i < RECEIVES_IN_FLIGHT; i++) loops.push(this.#receiveLoop());
    this.#receiving = Promise.all(loops).then(() => {});
  }

  async #receiveLoop(): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
    while (this.#closing === undefined && this.#receiveErrors < MAX_CONSECUTIVE_RECEIVE_ERRORS) {
      let received: [Uint8Array, DenoUdpAddress];
      try {
        received = await this.#conn.receive(buffer);
      } catch (error) {
        if (this.#closing !== undefined || error instanceof Deno.errors.BadResource) return;
        if (this.#receiveErrors >= MAX_CONSECUTIVE_RECEIVE_ERRORS) return; // another loop stopped
        reportError(this.#onError, error);
        if (++this.#receiveErrors >= MAX_CONSECUTIVE_RECEIVE_ERRORS) {
          reportError(
            this.#onError,
            new Error("Too many receive errors in a row; stopped receiving"),
          );
          return;
        }
        continue;
      }
      this.#receiveErrors = 0;
      const [view, from] = received;
      this.#receiver.deliver(view.slice(), { hostname: from.hostname, port: from.port });
    }
  }

  send(data: Uint8Array, to: NetAddress): void {
    if (this.#closing !== undefined) throw closedError();
    if (sendDirect(this.#direct, data, to, this.#onError)) return; // no closure per datagram
    this.#sender.send(data, to);
  }

  #sendFailed(error: unknown): void {
    if (this.#closing === undefined) reportError(this.#onError, error);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#direct = undefined;
    this.#receiver.close();
    // Let the send in flight finish, then close; resolve only once no op is
    // pending, so test sanitizers see a clean socket.
    await this.#sender.stop();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#receiving;
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return this.#receiver[Symbol.asyncIterator]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The datagram socket over `node:dgram`: works on Node and on Deno without
 * any unstable flag (e.g. `deno run -A jsr:...`).
 *
 * @module
 */
import dgram from "node:dgram";
import { type DirectSender, openDirectSender, sendDirect } from "./_direct_send.ts";
import {
  addrInUseError,
  closedError,
  isIPv6Hostname,
  OrderedSender,
  Receiver,
  reportError,
  resolveBindOptions,
} from "./_socket_common.ts";
import type {
  BindOptions,
  Datagram,
  DatagramImplementation,
  DatagramSocket,
  NetAddress,
} from "./types.ts";

/** Options of {@linkcode bindNodeDatagram}. */
export interface NodeBindOptions extends BindOptions {
  /**
   * On Deno, send with a synchronous `sendto(2)` through FFI on the socket's
   * descriptor instead of `node:dgram`'s `send` (Linux with glibc,
   * `--allow-ffi`, IPv4; elsewhere, and on Node, `send` as without it). See
   * `DenoBindOptions.directSend`. Default `false`.
   */
  directSend?: boolean;
}

/**
 * Binds a UDP socket with `node:dgram` (`udp6` for IPv6 hostnames, else
 * `udp4`). Each received datagram is handed over as a plain `Uint8Array` of
 * its own (not a `Buffer`, whose `slice` would alias). `send` is
 * fire-and-forget: errors go to `onError`.
 *
 * @throws {Deno.errors.AddrInUse} If the address is taken (on Node: an `Error`
 * with `code: "EADDRINUSE"`).
 *
 * @example Echo over loopback
 * ```ts
 * import { bindNodeDatagram } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * await using server = await bindNodeDatagram({
 *   hostname: "127.0.0.1",
 *   onDatagram: (data, from) => server.send(data, from),
 * });
 * await using client = await bindNodeDatagram({ hostname: "127.0.0.1" });
 * client.send(new Uint8Array([1, 2, 3]), server.localAddress);
 * for await (const { data } of client) {
 *   assert.deepEqual(data, new Uint8Array([1, 2, 3]));
 *   break;
 * }
 * ```
 */
export async function bindNodeDatagram(options: NodeBindOptions = {}): Promise<DatagramSocket> {
  const resolved = resolveBindOptions(options);
  const socket = dgram.createSocket({ type: isIPv6Hostname(resolved.hostname) ? "udp6" : "udp4" });
  try {
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => {
        socket.off("listening", listening);
        reject(error);
      };
      const listening = () => {
        socket.off("error", failed);
        resolve();
      };
      socket.once("error", failed);
      socket.once("listening", listening);
      socket.bind({ address: resolved.hostname, port: resolved.port, exclusive: true });
    });
  } catch (error) {
    try {
      socket.close();
    } catch {
      // Never bound, nothing to close.
    }
    if ((error as { code?: string }).code === "EADDRINUSE") throw addrInUseError(resolved, error);
    throw error;
  }
  // Issue 15: the same synchronous sendto as the deno adapter's, on Deno's node:dgram socket.
  const { address, port } = socket.address();
  const direct = options.directSend ? openDirectSender(address, port) : undefined;
  return new NodeDatagramSocket(socket, new Receiver(resolved), resolved.onError, direct);
}

class NodeDatagramSocket implements DatagramSocket {
  readonly implementation: DatagramImplementation = "node";
  readonly localAddress: NetAddress;
  #socket: dgram.Socket;
  #receiver: Receiver;
  #onError: ((error: Error) => void) | undefined;
  #closing: Promise<void> | undefined;
  /** The synchronous sendto, when asked for and available (cleared on close). */
  #direct: DirectSender | undefined;
  #sender: OrderedSender = new OrderedSender((data, to, done) => {
    try {
      this.#socket.send(data, to.port, to.hostname, (error) => {
        done();
        if (error) this.#sendFailed(error);
      });
    } catch (error) {
      done();
      this.#sendFailed(error);
    }
  });

  constructor(
    socket: dgram.Socket,
    receiver: Receiver,
    onError: ((error: Error) => void) | undefined,
    direct: DirectSender | undefined,
  ) {
    this.#direct = direct;
    this.#socket = socket;
    this.#receiver = receiver;
    this.#onError = onError;
    const { address, port } = socket.address();
    this.localAddress = Object.freeze({ hostname: address, port });
    socket.on("message", (message: Uint8Array, remote: dgram.RemoteInfo) => {
      // Copy: the Buffer may sit in a much larger allocation (64 KiB on Deno).
      receiver.deliver(new Uint8Array(message), { hostname: remote.address, port: remote.port });
    });
    socket.on("error", (error: Error) => {
      if (this.#closing === undefined) reportError(this.#onError, error);
    });
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
    this.#closing ??= (async () => {
      this.#direct = undefined;
      this.#receiver.close();
      await this.#sender.stop();
      await new Promise<void>((resolve) => {
        try {
          this.#socket.close(() => resolve());
        } catch {
          resolve(); // Already closed underneath us.
        }
      });
    })();
    return this.#closing;
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return this.#receiver[Symbol.asyncIterator]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * {@linkcode startFakeBootstrap}: the smallest v1 bootstrap, for examples
 * and tests that need one room and nothing else (the real one is
 * `startBootstrap` in `@olaf/bootstrap`).
 *
 * @module
 */
import { decode, encode } from "../codec.ts";
import type { PeerRecord } from "../peer_list.ts";
import type { DatagramBinder, DatagramSocket, NetAddress } from "../net/types.ts";

/**
 * Options of {@linkcode startFakeBootstrap}.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import { type FakeBootstrapOptions, startFakeBootstrap } from "@olaf/protocol/testing";
 *
 * const options: FakeBootstrapOptions = { hostname: "10.9.0.1", port: 5000 };
 * await using bootstrap = await startFakeBootstrap(new MemoryNetwork().bind, options);
 * console.log(bootstrap.spec); // "10.9.0.1:5000"
 * ```
 */
export interface FakeBootstrapOptions {
  /** Address to bind, default the binder's default (`127.0.0.1` on a MemoryNetwork). */
  hostname?: string;
  /** Port, default 5000. */
  port?: number;
}

/**
 * A running fake bootstrap (see {@linkcode startFakeBootstrap}).
 *
 * @example Hand its address to joinRoom, close it at the end
 * ```ts
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import { type FakeBootstrap, startFakeBootstrap } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const bootstrap: FakeBootstrap = await startFakeBootstrap(new MemoryNetwork().bind);
 * assert.equal(bootstrap.spec, "127.0.0.1:5000");
 * assert.deepEqual(bootstrap.members, []);
 * await bootstrap.close();
 * ```
 */
export interface FakeBootstrap extends AsyncDisposable {
  /** Where it listens. */
  readonly address: NetAddress;
  /** `"host:port"`, ready for `joinRoom`'s `bootstraps`. */
  readonly spec: string;
  /** Everyone who joined, ids in join order (1, 2, ...); one list for every room name. */
  readonly members: readonly PeerRecord[];
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Starts a bootstrap that answers every `JOIN_B` with a `BOOTSTRAP_R`
 * listing everyone who ever joined (ids in join order) and the sender's
 * own record. Anything else, malformed datagrams included, is ignored.
 * No expiry, no limits, one room: enough for examples, not a server.
 *
 * @param bind The datagram binder (`network.bind` of a MemoryNetwork, or real UDP).
 * @param options Address to bind.
 * @returns The running bootstrap.
 *
 * @example A joiner learns its own record
 * ```ts
 * import { encode, decode } from "@olaf/protocol";
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import { startFakeBootstrap } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork();
 * await using bootstrap = await startFakeBootstrap(net.bind);
 * let reply: unknown;
 * await using peer = await net.bind({ hostname: "10.0.0.1", onDatagram: (d) => reply = decode(d) });
 * peer.send(encode({ type: "JOIN_B", peers: [], room: "lobby" }), bootstrap.address);
 * await net.advance(10);
 * assert.deepEqual((reply as { self: unknown }).self, { ip: "10.0.0.1", port: peer.localAddress.port, id: 1 });
 * assert.equal(bootstrap.members.length, 1);
 * ```
 */
export async function startFakeBootstrap(
  bind: DatagramBinder,
  options: FakeBootstrapOptions = {},
): Promise<FakeBootstrap> {
  const members: PeerRecord[] = [];
  const socket: DatagramSocket = await bind({
    hostname: options.hostname,
    port: options.port ?? 5000,
    onDatagram(data, from) {
      let type: string;
      try {
        type = decode(data).type;
      } catch {
        return; // not a v1 datagram
      }
      if (type !== "JOIN_B") return;
      let me = members.find((m) => m.ip === from.hostname && m.port === from.port);
      if (me === undefined) {
        members.push(me = { ip: from.hostname, port: from.port, id: members.length + 1 });
      }
      socket.send(encode({ type: "BOOTSTRAP_R", peers: members, self: me }), from);
    },
  });
  const address = socket.localAddress;
  return {
    address,
    spec: `${address.hostname}:${address.port}`,
    members,
    close: () => socket.close(),
    [Symbol.asyncDispose]: () => socket.close(),
  };
}

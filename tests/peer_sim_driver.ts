/**
 * Runs any sans-IO node (legacy models, the bootstrap core, a bare
 * PeerMachine) on a socket and clock, with the one driver from
 * `@olaf/protocol/sans-io` (the one `Room` and the bootstrap server use).
 */
import type { DatagramBinder, DatagramSocket } from "@olaf/protocol/net";
import { type Clock, drive as driveMachine, type NetAddress } from "@olaf/protocol/sans-io";

/** What a sans-IO node offers (the test models have no events: `pollEvent` is optional). */
export interface SansIoNode {
  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(now?: number): { data: Uint8Array; to: NetAddress } | undefined;
  pollEvent?(): unknown;
  pollTimeout(): number | undefined;
}

/** A running node: its socket, and `stop()` to crash it (close without goodbye). */
export interface DrivenNode {
  readonly socket: DatagramSocket;
  readonly address: NetAddress;
  /** Sends whatever the node queued (after calling a method like `send` on it). */
  flush(): void;
  stop(): Promise<void>;
}

/** Binds a socket and drives `node` with it and `clock` until `stop()`. */
export async function drive(
  node: SansIoNode,
  options: { bind: DatagramBinder; clock: Clock; hostname?: string; port?: number },
): Promise<DrivenNode> {
  const driver = driveMachine({
    handleDatagram: (data, from, now) => node.handleDatagram(data, from, now),
    handleTimeout: (now) => node.handleTimeout(now),
    pollTransmit: (now) => node.pollTransmit(now),
    pollEvent: () => node.pollEvent?.(), // drained and dropped: tests read the node's state
    pollTimeout: () => node.pollTimeout(),
  }, { clock: options.clock });
  const socket = await options.bind({
    hostname: options.hostname,
    port: options.port ?? 0,
    onDatagram: (data, from) => driver.receive(data, from),
  });
  driver.attach(socket);
  return {
    socket,
    address: socket.localAddress,
    flush: () => driver.pump(),
    async stop() {
      driver.stop();
      await socket.close();
    },
  };
}

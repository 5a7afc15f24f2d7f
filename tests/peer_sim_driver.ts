/**
 * Runs any sans-IO node (legacy models, the bootstrap core, a bare
 * PeerMachine) on a socket and clock: the test-side twin of the real drivers.
 */
import type { Clock, DatagramBinder, DatagramSocket, NetAddress } from "@olaf/protocol/net";

/** What a sans-IO node offers. */
export interface SansIoNode {
  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(): { data: Uint8Array; to: NetAddress } | undefined;
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
  const { clock } = options;
  let stopped = false;
  let timer: number | undefined;
  let timerAt: number | undefined;
  const bound: { socket?: DatagramSocket } = {};
  const pump = () => {
    const socket = bound.socket;
    if (stopped || socket === undefined) return;
    for (let t = node.pollTransmit(); t; t = node.pollTransmit()) socket.send(t.data, t.to);
    const due = node.pollTimeout();
    if (due === timerAt) return;
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    timerAt = due;
    if (due !== undefined) {
      timer = clock.setTimer(() => {
        timer = undefined;
        timerAt = undefined;
        if (stopped) return;
        node.handleTimeout(clock.now());
        pump();
      }, Math.max(0, due - clock.now()));
    }
  };
  const s = bound.socket = await options.bind({
    hostname: options.hostname,
    port: options.port ?? 0,
    onDatagram: (data, from) => {
      if (stopped) return;
      node.handleDatagram(data, from, clock.now());
      pump();
    },
  });
  pump();
  return {
    socket: s,
    address: s.localAddress,
    flush: pump,
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimer(timer);
      await s.close();
    },
  };
}

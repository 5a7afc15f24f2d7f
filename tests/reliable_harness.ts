/**
 * Two {@linkcode ReliableLink}s talking over a {@linkcode MemoryNetwork}
 * (seeded loss, duplication, reordering, virtual time): the harness of the
 * reliable-delivery tests and of `deno task bench:reliable`.
 */
import { MemoryNetwork, type NetworkConditions } from "@olaf/protocol/memory-network";
import type { DatagramSocket, NetAddress } from "@olaf/protocol/net";
import {
  type DeliveryError,
  ReliableLink,
  type ReliableLinkOptions,
  type SendResult,
} from "@olaf/protocol/reliable";

/** One end: a link on a socket, and what happened to it. */
export class Endpoint {
  readonly link: ReliableLink;
  readonly received: { data: Uint8Array; ordered: boolean; at: number }[] = [];
  readonly delivered = new Map<number, number>();
  readonly failed = new Map<number, DeliveryError>();
  readonly dropped: string[] = [];
  wireBytes = 0;
  wireDatagrams = 0;
  socket: DatagramSocket | undefined;
  peer: NetAddress | undefined;
  #net: MemoryNetwork;
  #timer: number | undefined;
  #timerAt: number | undefined;
  #crashed = false;
  #writable: (() => void)[] = [];

  constructor(net: MemoryNetwork, options: ReliableLinkOptions) {
    this.#net = net;
    this.link = new ReliableLink(options);
  }

  /** Feeds one datagram from the network. */
  receive(data: Uint8Array): void {
    if (this.#crashed) return;
    this.link.handleDatagram(data, this.#net.now());
    this.pump();
  }

  /** Sends what the link has, takes its events, re-arms its timer. */
  pump(): void {
    if (this.#crashed || !this.socket || !this.peer) return;
    const now = this.#net.now();
    for (let d = this.link.pollTransmit(now); d; d = this.link.pollTransmit(now)) {
      this.wireBytes += d.length;
      this.wireDatagrams++;
      this.socket.send(d, this.peer);
    }
    for (let e = this.link.pollEvent(); e; e = this.link.pollEvent()) {
      if (e.type === "message") this.received.push({ data: e.data, ordered: e.ordered, at: now });
      else if (e.type === "delivered") this.delivered.set(e.handle, now);
      else if (e.type === "failed") this.failed.set(e.handle, e.error);
      else if (e.type === "dropped") this.dropped.push(e.reason);
      else if (e.type === "writable") { for (const w of this.#writable.splice(0)) w(); }
    }
    const due = this.link.pollTimeout();
    if (due === this.#timerAt) return;
    if (this.#timer !== undefined) this.#net.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = due;
    if (due !== undefined) {
      this.#timer = this.#net.clock.setTimer(() => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        if (this.#crashed) return;
        this.link.handleTimeout(this.#net.now());
        this.pump();
      }, Math.max(0, due - now));
    }
  }

  /** Sends one message; a full window makes it wait (the Room layer's promise, by hand). */
  async send(data: Uint8Array, ordered: boolean): Promise<SendResult> {
    for (;;) {
      const result = this.link.send(data, { ordered }, this.#net.now());
      this.pump();
      if (result.ok || result.reason !== "blocked") return result;
      await new Promise<void>((resolve) => this.#writable.push(resolve));
    }
  }

  /** Crashes this end: its socket closes, its timers stop. */
  async crash(): Promise<void> {
    this.#crashed = true;
    if (this.#timer !== undefined) this.#net.clock.clearTimer(this.#timer);
    await this.socket?.close();
  }
}

/** Options of {@linkcode createPair}. */
export interface PairOptions extends NetworkConditions {
  seed?: number;
  /** Options of both links (sessions are set per side). */
  link?: ReliableLinkOptions;
  sessionA?: number;
  sessionB?: number;
}

/** Two endpoints on one seeded network. */
export async function createPair(
  options: PairOptions = {},
): Promise<{ net: MemoryNetwork; a: Endpoint; b: Endpoint }> {
  const { seed, link, sessionA, sessionB, ...conditions } = options;
  const net = new MemoryNetwork({ seed: seed ?? 1, delayMs: { min: 5, max: 25 }, ...conditions });
  const a = new Endpoint(net, { ...link, session: sessionA ?? 0x1000 });
  const b = new Endpoint(net, { ...link, session: sessionB ?? 0x2000 });
  a.socket = await net.bind({ hostname: "10.0.0.1", port: 4000, onDatagram: (d) => a.receive(d) });
  b.socket = await net.bind({ hostname: "10.0.0.2", port: 4000, onDatagram: (d) => b.receive(d) });
  a.peer = b.socket.localAddress;
  b.peer = a.socket.localAddress;
  return { net, a, b };
}

/** Deterministic pseudo-random bytes (payloads that a test can check byte for byte). */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/**
 * An in-memory datagram network with a virtual clock, for testing Olaf
 * drivers with hundreds of nodes in milliseconds, deterministically.
 *
 * {@linkcode MemoryNetwork} hands out sockets implementing the same
 * {@linkcode DatagramSocket} interface as real UDP (`network.bind` is a
 * {@linkcode DatagramBinder}) and a {@linkcode Clock} (`network.clock`) whose
 * time only moves when the test calls {@linkcode MemoryNetwork.advance} or
 * {@linkcode MemoryNetwork.runUntil}. Delay, loss, duplication, reordering
 * and partitions are configurable; every random choice comes from one seeded
 * generator, so a given seed and a given sequence of calls always produce the
 * same run. Hosts can sit behind NAT boxes ({@linkcode MemoryNetwork.addNat}:
 * RFC 4787 mapping and filtering, timeouts, hairpinning) for hole punching.
 *
 * @example Two nodes, one datagram, 5 ms of virtual latency
 * ```ts
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork({ seed: 1, delayMs: 5 });
 * const received: string[] = [];
 * const server = await net.bind({
 *   port: 5000,
 *   onDatagram: (data, from) => received.push(`${new TextDecoder().decode(data)} from ${from.port}`),
 * });
 * const client = await net.bind({ hostname: "10.0.0.2" });
 * client.send(new TextEncoder().encode("hello"), server.localAddress);
 *
 * await net.advance(4);
 * assert.deepEqual(received, []);
 * await net.advance(1);
 * assert.deepEqual(received, [`hello from ${client.localAddress.port}`]);
 * assert.equal(net.now(), 5);
 * ```
 *
 * @module
 */
import { Slab } from "../slab.ts";
import { mulberry32 } from "./_prng.ts";
import { EventQueue } from "./_event_queue.ts";
import { type MemoryNat, type NatOptions, NatTable } from "./_nat.ts";
import {
  addrInUseError,
  checkPort,
  closedError,
  Receiver,
  resolveBindOptions,
} from "./_socket_common.ts";
import type {
  BindOptions,
  Clock,
  Datagram,
  DatagramBinder,
  DatagramImplementation,
  DatagramSocket,
  NetAddress,
} from "./types.ts";

export {
  DEFAULT_NAT_MAPPING_TIMEOUT_MS,
  type MemoryNat,
  NAT_TYPES,
  type NatFiltering,
  type NatMapping,
  type NatMappingInfo,
  type NatOptions,
  type NatPortAllocation,
  type NatStats,
  type NatType,
} from "./_nat.ts";

/** A delay in virtual milliseconds: fixed, or uniform over whole milliseconds in `min..max`. */
export type DelaySpec = number | { readonly min: number; readonly max: number };

/** How the network treats datagrams. Every field can be changed later with {@linkcode MemoryNetwork.configure}. */
export interface NetworkConditions {
  /** One-way delay of every datagram, default 1 ms. */
  delayMs?: DelaySpec;
  /** Probability (0..1) that a datagram is lost, default 0. */
  loss?: number;
  /** Probability (0..1) that a datagram is delivered twice (the copy gets its own delay), default 0. */
  duplicate?: number;
  /**
   * Probability (0..1) that a datagram is held back by an extra
   * {@linkcode NetworkConditions.reorderDelayMs}, so later datagrams overtake it. Default 0.
   */
  reorder?: number;
  /** The extra delay of a reordered datagram, default `{ min: 1, max: 2 * maxDelay + 1 }`. */
  reorderDelayMs?: DelaySpec;
}

/** Options for {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions extends NetworkConditions {
  /** Seed of the random generator behind every random choice, default 1. */
  seed?: number;
  /** Virtual time at start, in milliseconds, default 0. */
  startTime?: number;
  /**
   * Microtask turns run after each event so promise-based code reacting to it
   * (an `await`ed reply, a `for await` loop) runs before the next event.
   * Default 16; raise it for deeper promise chains.
   */
  microtaskTurns?: number;
}

/** Counters kept by a {@linkcode MemoryNetwork}, all since it was created. */
export interface MemoryNetworkStats {
  /** Datagrams passed to `send`. */
  sent: number;
  /** Bytes passed to `send`. */
  bytesSent: number;
  /** Datagrams handed to a socket (duplicates included). */
  delivered: number;
  /** Bytes handed to a socket. */
  bytesDelivered: number;
  /** Datagrams dropped by random loss. */
  lost: number;
  /** Extra copies injected by duplication. */
  duplicated: number;
  /** Datagrams given extra delay by reordering. */
  reordered: number;
  /** Datagrams dropped because a partition separated the endpoints (at send or arrival). */
  partitioned: number;
  /** Datagrams that arrived where no socket was bound (never bound, or closed: node gone). */
  unroutable: number;
  /** Datagrams dropped because the receiving socket's iterator queue was full. */
  overflowed: number;
  /** Datagrams a NAT dropped (filtered, unmapped, ...: each NAT's `stats()` says why). */
  natDropped: number;
  /** Timer callbacks run. */
  timersFired: number;
}

/** Options for {@linkcode MemoryNetwork.runUntil}. */
export interface RunUntilOptions {
  /** Give up after this much virtual time, default 60 000 ms. */
  timeoutMs?: number;
}

/** One end of a partition: addresses, or strings `"host"` (every port) or `"host:port"` / `"[v6]:port"`. */
export type PartitionSide = readonly (NetAddress | string)[];

// One queued event: a delivery (socketKey set) or a timer (callback set).
interface SimEvent {
  time: number;
  seq: number;
  data: Uint8Array | undefined;
  from: NetAddress | undefined;
  to: NetAddress | undefined;
  callback: (() => void) | undefined;
  cancelled: boolean;
}

interface Partition {
  hostsA: Set<string>;
  endpointsA: Set<string>;
  hostsB: Set<string>;
  endpointsB: Set<string>;
}

const EPHEMERAL_FIRST = 49152;
const SLAB_BYTES = 64 * 1024;

/**
 * A simulated datagram network with a virtual clock. See the module
 * documentation for the model.
 *
 * Addresses: a hostname that is omitted or `"0.0.0.0"` binds `"127.0.0.1"`
 * (`"::"` binds `"::1"`); any other hostname, e.g. `"10.0.0.7"`, is taken as
 * is, which simulates distinct hosts. Port 0 picks an unused port from 49152
 * up. Binding a taken address rejects with `Deno.errors.AddrInUse`.
 *
 * Delivery: each `send` copies the bytes (so duplicates and the sender's
 * buffer stay independent; a copy per datagram is the price, kept low by
 * copying into shared 64 KiB slabs: a received `data` is a view, so use
 * `data.byteOffset` when wrapping `data.buffer`), draws loss,
 * duplication, delay and reordering from the seeded generator, and queues the
 * arrival. Events at the same virtual time run in the order they were
 * scheduled. Datagrams to an address where no socket is bound on arrival
 * vanish; so does everything sent to a socket after it was closed (closing a
 * socket is how a test crashes a node).
 *
 * @example Partition two hosts, then heal
 * ```ts
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork();
 * let got = 0;
 * const a = await net.bind({ hostname: "10.0.0.1", onDatagram: () => got++ });
 * const b = await net.bind({ hostname: "10.0.0.2" });
 * net.partition(["10.0.0.1"], ["10.0.0.2"]);
 * b.send(new Uint8Array([1]), a.localAddress);
 * await net.advance(10);
 * assert.equal(got, 0);
 * assert.equal(net.stats.partitioned, 1);
 *
 * net.heal();
 * b.send(new Uint8Array([2]), a.localAddress);
 * await net.advance(10);
 * assert.equal(got, 1);
 * ```
 */
export class MemoryNetwork {
  /** Live counters; read them at any time. */
  readonly stats: MemoryNetworkStats = {
    sent: 0,
    bytesSent: 0,
    delivered: 0,
    bytesDelivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    partitioned: 0,
    unroutable: 0,
    overflowed: 0,
    natDropped: 0,
    timersFired: 0,
  };

  /**
   * The network's virtual clock, to pass to drivers as their `clock` option.
   * Timers of every node share the network's one event queue.
   *
   * @example A timer fires at its virtual time
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import assert from "node:assert/strict";
   *
   * const net = new MemoryNetwork();
   * let firedAt = -1;
   * net.clock.setTimer(() => (firedAt = net.clock.now()), 250);
   * await net.advance(1000);
   * assert.equal(firedAt, 250);
   * ```
   */
  readonly clock: Clock;

  /**
   * Binds a socket on this network; a {@linkcode DatagramBinder}, already
   * bound to the network so it can be passed around as a function.
   *
   * @example Pass the network to a driver as its binder
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import type { DatagramBinder } from "@olaf/protocol/net";
   * import assert from "node:assert/strict";
   *
   * const net = new MemoryNetwork();
   * const bind: DatagramBinder = net.bind;
   * const socket = await bind({ port: 0 });
   * assert.equal(socket.localAddress.hostname, "127.0.0.1");
   * assert.equal(socket.implementation, "memory");
   * await socket.close();
   * ```
   */
  readonly bind: DatagramBinder;

  #random: () => number;
  #seed: number;
  // Undefined until addNat: hosts without NAT then cost one check per datagram.
  #nats: NatTable | undefined;
  #conditions: Required<NetworkConditions> = {
    delayMs: 1,
    loss: 0,
    duplicate: 0,
    reorder: 0,
    reorderDelayMs: { min: 1, max: 3 },
  };
  #explicitReorderDelay = false;
  #now: number;
  #seq = 0;
  #queue = new EventQueue<SimEvent>();
  #timers = new Map<number, SimEvent>();
  #sockets = new Map<string, MemorySocket>();
  #nextPort = new Map<string, number>();
  #partitions: Partition[] = [];
  #microtaskTurns: number;
  #running = false;
  // 8-byte aligned views, so callers can build aligned DataViews/typed arrays.
  #slab = new Slab({ slabBytes: SLAB_BYTES, align: 8 });

  /**
   * Creates a network. With no options: seed 1, 1 ms delay, no loss,
   * duplication or reordering, time starting at 0.
   *
   * @example A lossy, jittery network
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * const net = new MemoryNetwork({ seed: 42, delayMs: { min: 5, max: 50 }, loss: 0.1, reorder: 0.05 });
   * console.log(net.now()); // 0
   * ```
   */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#seed = options.seed ?? 1;
    this.#random = mulberry32(this.#seed);
    this.#now = options.startTime ?? 0;
    this.#microtaskTurns = options.microtaskTurns ?? 16;
    this.configure(options);
    this.clock = {
      now: () => this.#now,
      setTimer: (callback, delayMs) => this.#setTimer(callback, delayMs),
      clearTimer: (handle) => this.#clearTimer(handle),
    };
    this.bind = (bindOptions) => this.#bind(bindOptions);
  }

  /**
   * The current virtual time in milliseconds.
   *
   * @example
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import assert from "node:assert/strict";
   * const net = new MemoryNetwork({ startTime: 1000 });
   * await net.advance(5);
   * assert.equal(net.now(), 1005);
   * ```
   */
  now(): number {
    return this.#now;
  }

  /** Events (deliveries and timers) still queued, cancelled timers included until their time. */
  get pendingEvents(): number {
    return this.#queue.size;
  }

  /**
   * Changes delay, loss, duplication or reordering for datagrams sent from now
   * on; fields left out keep their value.
   *
   * @example Make the network lossy halfway through a test
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * const net = new MemoryNetwork();
   * net.configure({ loss: 0.5 });
   * ```
   */
  configure(conditions: NetworkConditions): void {
    const next = { ...this.#conditions };
    if (conditions.delayMs !== undefined) next.delayMs = checkDelay(conditions.delayMs, "delayMs");
    if (conditions.loss !== undefined) next.loss = checkProbability(conditions.loss, "loss");
    if (conditions.duplicate !== undefined) {
      next.duplicate = checkProbability(conditions.duplicate, "duplicate");
    }
    if (conditions.reorder !== undefined) {
      next.reorder = checkProbability(conditions.reorder, "reorder");
    }
    if (conditions.reorderDelayMs !== undefined) {
      next.reorderDelayMs = checkDelay(conditions.reorderDelayMs, "reorderDelayMs");
      this.#explicitReorderDelay = true;
    }
    if (!this.#explicitReorderDelay) {
      // Long enough to be overtaken by datagrams sent well after this one.
      const max = typeof next.delayMs === "number" ? next.delayMs : next.delayMs.max;
      next.reorderDelayMs = { min: 1, max: Math.ceil(2 * max) + 1 };
    }
    this.#conditions = next;
  }

  /**
   * Cuts every link between side `a` and side `b`, both directions, until
   * {@linkcode MemoryNetwork.heal}. Datagrams are dropped if the endpoints are
   * partitioned when sent or when they would arrive. Calls accumulate.
   *
   * @example Isolate one node from two others
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * const net = new MemoryNetwork();
   * net.partition(["10.0.0.1:5000"], ["10.0.0.2", { hostname: "10.0.0.3", port: 5000 }]);
   * net.heal();
   * ```
   */
  partition(a: PartitionSide, b: PartitionSide): void {
    const [hostsA, endpointsA] = partitionSide(a);
    const [hostsB, endpointsB] = partitionSide(b);
    this.#partitions.push({ hostsA, endpointsA, hostsB, endpointsB });
  }

  /**
   * Removes every partition.
   *
   * @example
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * const net = new MemoryNetwork();
   * net.partition(["10.0.0.1"], ["10.0.0.2"]);
   * net.heal();
   * ```
   */
  heal(): void {
    this.#partitions = [];
  }

  /**
   * Puts `options.hosts` behind a NAT box with public address
   * `options.publicHostname` (RFC 4787 behaviours, see {@linkcode NatOptions}).
   *
   * A datagram from a private host to anywhere outside its NAT leaves with
   * its source rewritten to the public address and a mapped port (created or
   * refreshed at send time); one arriving at the public address goes to the
   * mapped private host if the mapping is alive and the filter admits the
   * sender (checked at arrival time), else it is dropped and counted. Private
   * hosts of one NAT reach each other directly; nothing outside reaches a
   * private address. Receivers see translated addresses, as on a real NAT.
   * Partitions cut a datagram if they match its addresses before or after
   * translation.
   *
   * @returns The NAT's handle: configuration, `stats()` and `mappings()`.
   * @throws {RangeError} On bad options, a public address that is bound, or
   * hosts that overlap another NAT's.
   *
   * @example Two peers behind cone NATs punch a hole to each other
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import assert from "node:assert/strict";
   *
   * const net = new MemoryNetwork();
   * const natA = net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"] });
   * net.addNat({ publicHostname: "198.51.100.2", hosts: ["10.2.0.0/24"] });
   * const got: string[] = [];
   * const a = await net.bind({ hostname: "10.1.0.2", onDatagram: () => got.push("a") });
   * const b = await net.bind({ hostname: "10.2.0.2", onDatagram: () => got.push("b") });
   *
   * // Public mappings as a rendezvous server would observe them (sequential from 1024).
   * const publicA = { hostname: "198.51.100.1", port: 1024 };
   * const publicB = { hostname: "198.51.100.2", port: 1024 };
   * a.send(new Uint8Array([1]), publicB); // opens A's NAT for B, dropped by B's
   * await net.advance(10);
   * assert.equal(net.stats.natDropped, 1);
   * b.send(new Uint8Array([2]), publicA); // B's NAT now admits A; A's admits B
   * a.send(new Uint8Array([3]), publicB);
   * await net.advance(10);
   * assert.deepEqual(got.sort(), ["a", "b"]);
   * assert.equal(natA.stats().translatedIn, 1);
   * ```
   */
  addNat(options: NatOptions): MemoryNat {
    for (const key of this.#sockets.keys()) {
      if (key.startsWith(`${options.publicHostname}|`)) {
        throw new RangeError(`addNat: a socket is bound on ${options.publicHostname}`);
      }
    }
    const nats = this.#nats ?? new NatTable(this.#seed, () => this.#now);
    const nat = nats.add(options);
    this.#nats = nats; // only once one is configured: a refused NAT leaves the fast path
    return nat;
  }

  /**
   * Runs every delivery and timer due in the next `ms` virtual milliseconds,
   * in time order, letting microtasks run after each one; then sets the clock
   * to exactly `now + ms`. Never uses real timers. Errors thrown by timer
   * callbacks, and by `onDatagram` callbacks of sockets without `onError`,
   * reject the returned promise.
   *
   * @example
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import assert from "node:assert/strict";
   * const net = new MemoryNetwork();
   * const order: number[] = [];
   * net.clock.setTimer(() => order.push(2), 20);
   * net.clock.setTimer(() => order.push(1), 10);
   * await net.advance(15);
   * assert.deepEqual(order, [1]);
   * await net.advance(15);
   * assert.deepEqual(order, [1, 2]);
   * ```
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance() needs a non-negative duration, got ${ms}`);
    this.#enter();
    try {
      const target = this.#now + ms;
      await this.#flush();
      while (this.#runNext(target)) await this.#flush();
      this.#now = target;
      await this.#flush();
    } finally {
      this.#running = false;
    }
  }

  /**
   * Runs events in time order until `predicate()` is true (checked before
   * the first event and after each one, once microtasks have run) or
   * `timeoutMs` of virtual time has passed.
   *
   * @returns Whether the predicate became true; on timeout the clock stands
   * at the deadline.
   *
   * @example Wait for a reply
   * ```ts
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import assert from "node:assert/strict";
   * const net = new MemoryNetwork({ delayMs: 30 });
   * const echo = await net.bind({
   *   port: 7,
   *   onDatagram: (data, from) => echo.send(data, from),
   * });
   * let replied = false;
   * const client = await net.bind({ onDatagram: () => (replied = true) });
   * client.send(new Uint8Array([1]), echo.localAddress);
   * assert.equal(await net.runUntil(() => replied), true);
   * assert.equal(net.now(), 60);
   * ```
   */
  async runUntil(predicate: () => boolean, options: RunUntilOptions = {}): Promise<boolean> {
    const deadline = this.#now + (options.timeoutMs ?? 60_000);
    this.#enter();
    try {
      await this.#flush();
      if (predicate()) return true;
      while (this.#runNext(deadline)) {
        await this.#flush();
        if (predicate()) return true;
      }
      this.#now = deadline;
      await this.#flush();
      return predicate();
    } finally {
      this.#running = false;
    }
  }

  #enter(): void {
    if (this.#running) throw new Error("MemoryNetwork: advance() or runUntil() is already running");
    this.#running = true;
  }

  async #flush(): Promise<void> {
    for (let i = 0; i < this.#microtaskTurns; i++) await undefined;
  }

  // Runs the next live event due at or before `limit`; false when there is none.
  #runNext(limit: number): boolean {
    const queue = this.#queue;
    while (true) {
      const event = queue.peek();
      if (event === undefined || event.time > limit) return false;
      queue.pop();
      if (event.cancelled) continue;
      this.#now = event.time;
      if (event.callback) {
        this.#timers.delete(event.seq);
        this.stats.timersFired++;
        event.callback();
      } else {
        this.#arrive(event.data!, event.from!, event.to!);
      }
      return true;
    }
  }

  #arrive(data: Uint8Array, from: NetAddress, to: NetAddress): void {
    if (this.#partitions.length > 0 && this.#isPartitioned(from, to)) {
      this.stats.partitioned++;
      return;
    }
    if (this.#nats !== undefined) {
      const inner = this.#nats.inbound(from, to, this.#now);
      if (inner === undefined) {
        this.stats.natDropped++;
        return;
      }
      if (inner !== to) {
        if (this.#partitions.length > 0 && this.#isPartitioned(from, inner)) {
          this.stats.partitioned++;
          return;
        }
        to = inner;
      }
    }
    const socket = this.#sockets.get(endpointKey(to.hostname, to.port));
    if (socket === undefined) {
      this.stats.unroutable++;
      return;
    }
    this.stats.delivered++;
    this.stats.bytesDelivered += data.byteLength;
    if (!socket.receiver.deliver(data, from)) this.stats.overflowed++;
  }

  #setTimer(callback: () => void, delayMs: number): number {
    const seq = ++this.#seq;
    const event: SimEvent = {
      time: this.#now + Math.max(0, delayMs || 0),
      seq,
      data: undefined,
      from: undefined,
      to: undefined,
      callback,
      cancelled: false,
    };
    this.#timers.set(seq, event);
    this.#queue.push(event);
    return seq;
  }

  #clearTimer(handle: number): void {
    const event = this.#timers.get(handle);
    if (event === undefined) return;
    event.cancelled = true;
    this.#timers.delete(handle);
  }

  #bind(options: BindOptions): Promise<DatagramSocket> {
    try {
      const resolved = resolveBindOptions(options);
      const hostname = virtualHostname(resolved.hostname);
      let port = resolved.port;
      if (port === 0) port = this.#freePort(hostname);
      const key = endpointKey(hostname, port);
      if (this.#sockets.has(key) || this.#nats?.isPublic(hostname)) {
        throw addrInUseError({ hostname, port });
      }
      const localAddress: NetAddress = Object.freeze({ hostname, port });
      const socket: MemorySocket = new MemorySocket(
        localAddress,
        // Without onError, a throwing onDatagram rejects advance()/runUntil().
        new Receiver(resolved, (error) => {
          throw error;
        }),
        (data, to) => this.#send(data, localAddress, to),
        () => {
          if (this.#sockets.get(key) === socket) this.#sockets.delete(key);
        },
      );
      this.#sockets.set(key, socket);
      return Promise.resolve(socket);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #freePort(hostname: string): number {
    let port = this.#nextPort.get(hostname) ?? EPHEMERAL_FIRST;
    for (let tries = 0; tries <= 65535 - EPHEMERAL_FIRST; tries++) {
      const candidate = port;
      port = port === 65535 ? EPHEMERAL_FIRST : port + 1;
      if (!this.#sockets.has(endpointKey(hostname, candidate))) {
        this.#nextPort.set(hostname, port);
        return candidate;
      }
    }
    throw addrInUseError({ hostname, port: 0 });
  }

  #send(data: Uint8Array, from: NetAddress, to: NetAddress): void {
    const stats = this.stats;
    stats.sent++;
    stats.bytesSent += data.byteLength;
    const target: NetAddress = { hostname: virtualHostname(to.hostname), port: to.port };
    if (this.#partitions.length > 0 && this.#isPartitioned(from, target)) {
      stats.partitioned++;
      return;
    }
    if (this.#nats !== undefined) {
      const wire = this.#nats.outbound(from, target, this.#now);
      if (wire === undefined) {
        stats.natDropped++;
        return;
      }
      if (wire !== from) {
        if (this.#partitions.length > 0 && this.#isPartitioned(wire, target)) {
          stats.partitioned++;
          return;
        }
        from = wire;
      }
    }
    const c = this.#conditions;
    const random = this.#random;
    if (c.loss > 0 && random() < c.loss) {
      stats.lost++;
      return;
    }
    const copies = c.duplicate > 0 && random() < c.duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = drawDelay(c.delayMs, random);
      if (c.reorder > 0 && random() < c.reorder) {
        stats.reordered++;
        delay += drawDelay(c.reorderDelayMs, random);
      }
      this.#queue.push({
        time: this.#now + delay,
        seq: ++this.#seq,
        data: this.#copy(data),
        from,
        to: target,
        callback: undefined,
        cancelled: false,
      });
    }
  }

  // Copies into a shared slab: one ArrayBuffer per 64 KiB of traffic rather
  // than per datagram, which is most of the cost of a send otherwise.
  #copy(data: Uint8Array): Uint8Array {
    const copy = this.#slab.take(data.byteLength);
    copy.set(data);
    return copy;
  }

  #isPartitioned(from: NetAddress, to: NetAddress): boolean {
    for (const p of this.#partitions) {
      if (
        (inSide(p.hostsA, p.endpointsA, from) && inSide(p.hostsB, p.endpointsB, to)) ||
        (inSide(p.hostsB, p.endpointsB, from) && inSide(p.hostsA, p.endpointsA, to))
      ) {
        return true;
      }
    }
    return false;
  }
}

class MemorySocket implements DatagramSocket {
  readonly implementation: DatagramImplementation = "memory";
  readonly localAddress: NetAddress;
  readonly receiver: Receiver;
  #send: (data: Uint8Array, to: NetAddress) => void;
  #unbind: () => void;
  #closed = false;

  constructor(
    localAddress: NetAddress,
    receiver: Receiver,
    send: (data: Uint8Array, to: NetAddress) => void,
    unbind: () => void,
  ) {
    this.localAddress = localAddress;
    this.receiver = receiver;
    this.#send = send;
    this.#unbind = unbind;
  }

  send(data: Uint8Array, to: NetAddress): void {
    if (this.#closed) throw closedError();
    checkPort(to.port);
    this.#send(data, to);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#unbind();
      this.receiver.close();
    }
    return Promise.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return this.receiver[Symbol.asyncIterator]();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function virtualHostname(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "") return "127.0.0.1";
  if (hostname === "::") return "::1";
  return hostname;
}

function endpointKey(hostname: string, port: number): string {
  return `${hostname}|${port}`;
}

function partitionSide(side: PartitionSide): [Set<string>, Set<string>] {
  const hosts = new Set<string>();
  const endpoints = new Set<string>();
  for (const entry of side) {
    if (typeof entry !== "string") {
      endpoints.add(endpointKey(virtualHostname(entry.hostname), entry.port));
      continue;
    }
    // "[v6]:port", "v4:port", or a bare host (IPv6 hosts have several colons).
    const bracketed = /^\[(.+)\]:(\d+)$/.exec(entry);
    const v4 = bracketed ? null : /^([^:]+):(\d+)$/.exec(entry);
    const match = bracketed ?? v4;
    if (match) {
      endpoints.add(endpointKey(virtualHostname(match[1]), Number(match[2])));
    } else {
      hosts.add(virtualHostname(entry.replace(/^\[(.*)\]$/, "$1")));
    }
  }
  return [hosts, endpoints];
}

function inSide(hosts: Set<string>, endpoints: Set<string>, address: NetAddress): boolean {
  return hosts.has(address.hostname) ||
    (endpoints.size > 0 && endpoints.has(endpointKey(address.hostname, address.port)));
}

function drawDelay(spec: DelaySpec, random: () => number): number {
  if (typeof spec === "number") return spec;
  return spec.min + Math.floor(random() * (spec.max - spec.min + 1));
}

function checkProbability(value: number, name: string): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in 0..1, got ${value}`);
  return value;
}

function checkDelay(spec: DelaySpec, name: string): DelaySpec {
  if (typeof spec === "number") {
    if (!(spec >= 0) || !Number.isFinite(spec)) {
      throw new RangeError(`${name} must be a finite number >= 0, got ${spec}`);
    }
    return spec;
  }
  const { min, max } = spec;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
    throw new RangeError(`${name} range must be whole milliseconds with 0 <= min <= max`);
  }
  return { min, max };
}

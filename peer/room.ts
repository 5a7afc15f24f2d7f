/**
 * The runtime side of a peer: {@linkcode joinRoom} binds a UDP socket, drives
 * a {@linkcode PeerMachine} with it and a clock, and hands back a
 * {@linkcode Room}.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { bindDatagram, type DatagramBinder, type DatagramSocket } from "@olaf/protocol/net";
import {
  type Clock,
  drive,
  type Driver,
  Fifo,
  type NetAddress,
  systemClock,
} from "@olaf/protocol/sans-io";
import type { ReliableLinkOptions } from "@olaf/protocol/reliable";
import type { OlafJoinOptions } from "./_bootstrap_client.ts";
import { resolveHostPort } from "./address.ts";
import { lanAddresses } from "./_lan.ts";
import type { MemberRecord } from "./_membership.ts";
import { type Identity, loadOrCreateIdentity, parsePublicKey } from "./identity.ts";
import {
  type NatClass,
  type NatTraversalOptions,
  type PathKind,
  type PeerErrorCode,
  type PeerEvent,
  type PeerLeftReason,
  PeerMachine,
  type PeerMachineStats,
  type ReliableSendRefusal,
} from "./peer_machine.ts";

/** Options of {@linkcode joinRoom}. */
export interface JoinRoomOptions {
  /**
   * Bootstrap servers as `"host:port"` (IPv4 text, `localhost`, or a DNS name).
   * All members of a room prefer the same one (rendezvous hashing of the room
   * name) and move to the next when it stops answering.
   */
  bootstraps: readonly string[];
  /** Heartbeat interval in ms, default 3000. */
  heartbeatMs?: number;
  /** A member silent for this long is dropped, default 15000; must exceed `heartbeatMs`. */
  peerTimeoutMs?: number;
  /** Give up joining after this long without a `BOOTSTRAP_R`, default 15000. */
  joinTimeoutMs?: number;
  /** Unanswered bootstrap requests in a row before failing over, default 3. */
  bootstrapMisses?: number;
  /** After this long on a fallback bootstrap, try the preferred one again, default 60000. */
  bootstrapRetryMs?: number;
  /** Most members named in one heartbeat ping, default 20 (see `PeerMachineOptions.gossipSize`). */
  gossipSize?: number;
  /** Most members plus candidates kept, default 1000 (see `PeerMachineOptions.maxPeers`). */
  maxPeers?: number;
  /** Partial views (SWIM) above this many Olaf members, default 64 (`PeerMachineOptions`). */
  largeRoomThreshold?: number;
  /** Reliable links' options (window, give-up, message limit; see `PeerMachineOptions.reliable`). */
  reliable?: ReliableLinkOptions;
  /** Join through the Olaf bootstrap dialect (see `PeerMachineOptions.dialect`); default v1 only. */
  dialect?: OlafJoinOptions;
  /**
   * NAT traversal (issue 11; see `PeerMachineOptions.nat`): hole punching with `PROBE`s,
   * relay fallback through a bootstrap run with `--relay`. Default off.
   */
  nat?: boolean | NatTraversalOptions;
  /**
   * Probes per second toward peers never heard from (named by the bootstrap or
   * gossip), default 100, 0 = no bound (see `PeerMachineOptions.probeRate`).
   */
  probeRate?: number;
  /**
   * Strangers that may become members per heartbeat, default 64, 0 = no bound
   * (see `PeerMachineOptions.strangersPerHeartbeat`).
   */
  strangersPerHeartbeat?: number;
  /** Local address to bind, default `"0.0.0.0"`. */
  hostname?: string;
  /** Local UDP port, default 0 (any free port). */
  port?: number;
  /** Aborting it rejects a pending join, or leaves the room (with `bye`). */
  signal?: AbortSignal;
  /** Datagram binder, default real UDP; pass `network.bind` of a `MemoryNetwork` in tests. */
  bind?: DatagramBinder;
  /** Clock, default the system clock; pass `network.clock` in tests. */
  clock?: Clock;
  /**
   * Room secret: makes this a secure room (see the README, "Secure rooms"). Only peers with
   * the same secret and room name get in; the bootstrap sees a tag derived from both. Use 32
   * random bytes, not a password (the tag lets anyone who sees it test guesses offline).
   */
  secret?: Uint8Array | string;
  /**
   * Our Ed25519 identity: an `Identity`, or the path of an identity file (created with mode
   * 0600 when missing). Default: a fresh identity for this room.
   */
  identity?: Identity | string;
  /**
   * Secure rooms: the public keys (64 hex digits each) that may be members; anyone with the
   * secret when absent.
   */
  allow?: readonly string[];
  /**
   * Open rooms: encrypt application data between Olaf peers opportunistically, default `true`
   * (deployed v1 peers keep plaintext; a `link` event says when a member's link is encrypted).
   * See the README, "Opportunistic encryption", for what that protects against and what not.
   */
  opportunistic?: boolean;
}

/** An application message received in a room. */
export interface RoomMessage {
  /** The sender. */
  readonly from: MemberRecord;
  /** The payload bytes. */
  readonly data: Uint8Array;
  /** The payload decoded as UTF-8 (invalid sequences become U+FFFD). */
  text(): string;
  /** `true` for a reliable message (delivered exactly once); absent for plain ones. */
  readonly reliable?: true;
  /** For reliable messages: whether it was sent ordered. */
  readonly ordered?: boolean;
}

/** Options of a reliable {@linkcode Room.sendTo} / {@linkcode Room.send}. */
export interface ReliableSendOptions {
  /** Retransmit until acknowledged; the call returns a promise. */
  readonly reliable: true;
  /** Deliver in order among this peer's ordered messages, default `false`. */
  readonly ordered?: boolean;
}

/** One recipient's outcome of a reliable {@linkcode Room.send}. */
export type ReliableSendOutcome =
  | { readonly peer: MemberRecord; readonly ok: true }
  | { readonly peer: MemberRecord; readonly ok: false; readonly error: Error };

/**
 * A reliable message was refused before it was sent: the peer is not a
 * member, is a deployed v1 peer (it cannot acknowledge), the message is over
 * the limit, the link had failed, or the room was left.
 *
 * @example
 * ```ts
 * import { ReliableSendError } from "@olaf/peer";
 * import assert from "node:assert/strict";
 *
 * const error = new ReliableSendError("not-olaf", "a deployed v1 peer cannot acknowledge");
 * assert.equal(error.reason, "not-olaf");
 * ```
 */
export class ReliableSendError extends Error {
  /** Why (`left`: the room was left before the message was acknowledged). */
  readonly reason: Exclude<ReliableSendRefusal, "blocked"> | "left";

  /**
   * Creates the error.
   *
   * @param reason Why.
   * @param message For people.
   */
  constructor(reason: Exclude<ReliableSendRefusal, "blocked"> | "left", message: string) {
    super(message);
    this.name = "ReliableSendError";
    this.reason = reason;
  }
}

/** Listener payloads of {@linkcode Room.on}, by event type. */
export interface RoomEventMap {
  /** A member appeared (it was heard from directly). */
  "peer-joined": { readonly peer: MemberRecord; readonly path?: PathKind };
  /** With NAT traversal on: a member moved to another path (issue 11). */
  "path-changed": {
    readonly peer: MemberRecord;
    readonly path: PathKind;
    readonly previous: PathKind;
  };
  /**
   * Open rooms: a member's link became encrypted (opportunistic, unauthenticated: no key on the
   * record), or went back to plaintext (its session is gone).
   */
  "link": { readonly peer: MemberRecord; readonly encrypted: boolean };
  /** A member left: it said `bye`, or it was silent for the peer timeout. */
  "peer-left": { readonly peer: MemberRecord; readonly reason: PeerLeftReason };
  /** An application message. */
  "message": RoomMessage;
  /** A non-fatal problem (`bootstrap-unreachable`, `room-full` after the join). */
  "error": { readonly code: PeerErrorCode; readonly message: string };
  /** The room was left (by {@linkcode Room.leave}, the abort signal or disposal). */
  "left": Record<string, never>;
}

/** Why {@linkcode joinRoom} failed. */
export type JoinErrorCode = "room-full" | "timeout" | "aborted";

/**
 * The error {@linkcode joinRoom} rejects with when the room cannot be joined.
 *
 * @example
 * ```ts
 * import { JoinError } from "@olaf/peer";
 * const error = new JoinError("timeout", "no answer from 127.0.0.1:5000");
 * console.log(error.code); // "timeout"
 * ```
 */
export class JoinError extends Error {
  /** Why the join failed. */
  readonly code: JoinErrorCode;

  /**
   * Creates the error.
   *
   * @param code Why the join failed.
   * @param message What happened, for people.
   * @param options Standard error options (`cause`).
   */
  constructor(code: JoinErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JoinError";
    this.code = code;
  }
}

const logger = getLogger(["olaf", "peer"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MESSAGE_QUEUE_LIMIT = 4096;

// Set by Room's static block: how joinRoom creates, starts and feeds a Room.
let openRoom: (name: string, machine: PeerMachine, socket: DatagramSocket, clock: Clock) => Room;
let startRoom: (
  room: Room,
  signal: AbortSignal | undefined,
  joinTimeoutMs: number,
) => Promise<void>;
let receiveRoom: (room: Room, data: Uint8Array, from: NetAddress) => void;

/** A listener for the room event `K` (see {@linkcode Room.on}). */
export type RoomEventListener<K extends keyof RoomEventMap> = (event: RoomEventMap[K]) => void;

/**
 * A joined room. Get one from {@linkcode joinRoom}.
 *
 * Members are the peers heard from directly and not timed out; they appear
 * shortly after the join (one round trip) and as others join. Events are
 * delivered to listeners added with {@linkcode Room.on} (or the
 * `onPeerJoin` / `onPeerLeave` / `onMessage` shorthands); anything that
 * happened before a listener was added is reflected in {@linkcode Room.peers}.
 *
 * @example Two peers on an in-memory network chat through a v1-style bootstrap
 * ```ts
 * import { joinRoom } from "@olaf/peer";
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import { startFakeBootstrap } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork();
 * // A tiny bootstrap: lists everyone who joined, ids in join order.
 * const bootstrap = await startFakeBootstrap(net.bind, { port: 5000 });
 * const options = { bootstraps: [bootstrap.spec], bind: net.bind, clock: net.clock };
 * const joining = [
 *   joinRoom("lobby", { ...options, hostname: "10.0.0.1" }),
 *   joinRoom("lobby", { ...options, hostname: "10.0.0.2" }),
 * ];
 * await net.advance(10); // virtual time: the bootstrap answers
 * const [alice, bob] = await Promise.all(joining);
 * await net.runUntil(() => alice.peers.length === 1 && bob.peers.length === 1);
 * assert.deepEqual(bob.peers, [alice.self]);
 *
 * const inbox = bob.messages()[Symbol.asyncIterator]();
 * alice.send("hello bob");
 * await net.advance(10);
 * const { value } = await inbox.next();
 * assert.equal(value.text(), "hello bob");
 * assert.equal(value.from.id, alice.self.id);
 *
 * const left = new Promise((resolve) => bob.onPeerLeave((_peer, reason) => resolve(reason)));
 * await alice.leave();
 * await net.advance(10);
 * assert.equal(await left, "bye");
 * await bob.leave();
 * await bootstrap.close();
 * ```
 */
export class Room implements AsyncDisposable {
  /** The room name. */
  readonly name: string;
  /** The local socket address (not the public one: see {@linkcode Room.self}). */
  readonly localAddress: NetAddress;

  readonly #machine: PeerMachine;
  readonly #socket: DatagramSocket;
  readonly #clock: Clock;
  readonly #driver: Driver<PeerEvent>;
  /** Events held back one turn after the join (see `#dispatch`), in order. */
  #deferred: Fifo<PeerEvent> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #listeners = new Map<keyof RoomEventMap, Set<(event: never) => void>>();
  #inboxes = new Set<Inbox>();
  #joinWaiter: { resolve(): void; reject(error: Error): void } | undefined;
  #onAbort: (() => void) | undefined;
  #signal: AbortSignal | undefined;
  /** Unsettled reliable sends by machine handle. */
  #waiters = new Map<number, { resolve(): void; reject(error: Error): void }>();
  /** Reliable sends waiting for a full window, per `ip:port`, in send order. */
  #blocked = new Map<string, Array<() => boolean>>();

  static {
    // joinRoom's way in; module-private, so not part of the public surface.
    openRoom = (name, machine, socket, clock) => new Room(name, machine, socket, clock);
    startRoom = (room, signal, joinTimeoutMs) => room.#start(signal, joinTimeoutMs);
    receiveRoom = (room, data, from) => room.#driver.receive(data, from);
  }

  private constructor(
    name: string,
    machine: PeerMachine,
    socket: DatagramSocket,
    clock: Clock,
  ) {
    this.name = name;
    this.#machine = machine;
    this.#socket = socket;
    this.#clock = clock;
    this.localAddress = socket.localAddress;
    this.#driver = drive(machine, {
      clock,
      onEvent: (event) => this.#onEvent(event),
      // The socket was closed under us (the process is shutting down): nothing to send on.
      // Listener errors never get here: #emit reports them itself.
      onError: (error) => logger.debug("{room}: send failed: {error}", { room: name, error }),
    });
    this.#driver.attach(socket);
  }

  /**
   * Our own record (public address and id) as the bootstrap sees us; in a secure room with our
   * `publicKey` (Ed25519, 64 lowercase hex digits).
   */
  get self(): MemberRecord {
    return this.#machine.self ?? { ip: "0.0.0.0", port: 0, id: 0 };
  }

  /** Our Ed25519 public key, 64 lowercase hex digits (what an `allow` list holds). */
  get publicKey(): string {
    return this.#machine.publicKey;
  }

  /** Whether this is a secure room (joined with a `secret`). */
  get secure(): boolean {
    return this.#machine.secure;
  }

  /**
   * The current members, oldest id first (an `id` of 0: not known yet). In a secure room
   * each carries its verified `publicKey` (64 lowercase hex digits).
   */
  get peers(): readonly MemberRecord[] {
    return this.#machine.peers;
  }

  /** With NAT traversal on: our NAT's mapping behaviour from `NAT_CHECK` (issue 11). */
  get natClass(): NatClass {
    return this.#machine.natClass;
  }

  /**
   * How a member is reached (`direct`, `lan`, `relayed`), or `undefined` for a non-member.
   *
   * @param peer The member's public ip and port.
   * @returns The path kind.
   */
  pathOf(peer: { readonly ip: string; readonly port: number }): PathKind | undefined {
    return this.#machine.pathOf(peer);
  }

  /**
   * Rendezvous (issue 11): connects to a peer whose addresses came from
   * elsewhere, such as the `/games` REST rendezvous (`[ip, port]` pairs, its
   * public address first: its `room.self`). With `nat` on, its LAN addresses
   * are tried first and the bootstrap's relay is the fallback. Settles when it
   * is a member, with the path it is reached on.
   *
   * @param addresses The peer's addresses, public first.
   * @param options `timeoutMs` (default 15000).
   * @returns The member and its path.
   * @throws {RangeError} For bad addresses; rejects with a `JoinError("timeout")` when
   *   the peer did not answer in time, or `JoinError("aborted")` when the room was left.
   */
  connect(
    addresses: readonly (readonly [string, number])[],
    options: { readonly timeoutMs?: number } = {},
  ): Promise<{ peer: MemberRecord; path: PathKind }> {
    const wanted = addresses.map(([ip, port]) => ({ ip, port }));
    this.#machine.connect(wanted);
    this.#driver.pump();
    const [ip, port] = addresses[0]!;
    const found = () => {
      const peer = this.#machine.peers.find((p) => p.ip === ip && p.port === port);
      return peer && { peer, path: this.#machine.pathOf(peer) ?? "direct" };
    };
    const now = found();
    if (now !== undefined) return Promise.resolve(now);
    const { promise, resolve, reject } = Promise.withResolvers<
      { peer: MemberRecord; path: PathKind }
    >();
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = this.#clock.setTimer(() => {
      done();
      reject(new JoinError("timeout", `${ip}:${port} did not answer in ${timeoutMs} ms`));
    }, timeoutMs);
    const offJoined = this.on("peer-joined", () => {
      const hit = found();
      if (hit === undefined) return;
      done();
      resolve(hit);
    });
    const offLeft = this.on("left", () => {
      done();
      reject(new JoinError("aborted", "the room was left"));
    });
    const done = () => {
      this.#clock.clearTimer(timer);
      offJoined();
      offLeft();
    };
    return promise;
  }

  /** The bootstrap in use now. */
  get bootstrap(): NetAddress {
    return this.#machine.bootstrap;
  }

  /** Whether the room was left. */
  get left(): boolean {
    return this.#closed;
  }

  /** Traffic counters of this peer: a snapshot, taken when read. */
  get stats(): PeerMachineStats {
    return this.#machine.stats;
  }

  /**
   * Sends to every member, and to the peers the bootstrap listed that have
   * not answered yet, so a message sent right after {@linkcode joinRoom}
   * resolves reaches the room.
   *
   * @param data Bytes, or a string (sent as UTF-8).
   * @returns How many peers it was sent to.
   * @throws {RangeError} After leaving, or when the payload does not fit a datagram.
   */
  send(data: Uint8Array | string): number;
  /**
   * Sends reliably to every current member; settles when each recipient's
   * transport acknowledged or gave up (deployed v1 members fail at once).
   *
   * @param data Bytes, or a string (sent as UTF-8).
   * @param options `{ reliable: true, ordered? }`.
   * @returns One outcome per member.
   */
  send(data: Uint8Array | string, options: ReliableSendOptions): Promise<ReliableSendOutcome[]>;
  send(
    data: Uint8Array | string,
    options?: ReliableSendOptions,
  ): number | Promise<ReliableSendOutcome[]> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (options?.reliable) {
      const ordered = options.ordered ?? false;
      return Promise.all(
        this.#machine.peers.map((peer) =>
          this.#sendReliable(peer, bytes, ordered).then(
            (): ReliableSendOutcome => ({ peer, ok: true }),
            (error: Error): ReliableSendOutcome => ({ peer, ok: false, error }),
          )
        ),
      );
    }
    const n = this.#machine.send(bytes);
    this.#driver.pump();
    return n;
  }

  /**
   * Smoothed round-trip time to a member in ms (from reliable traffic);
   * `undefined` before the first acknowledgement.
   *
   * @param peer The member.
   * @returns Ms, or `undefined`.
   */
  rtt(peer: { readonly ip: string; readonly port: number }): number | undefined {
    return this.#machine.rtt(peer);
  }

  /**
   * Sends to one member.
   *
   * @param peer The member (its `ip` and `port` are used).
   * @param data Bytes, or a string (sent as UTF-8).
   * @throws {RangeError} After leaving, or when the payload does not fit a datagram.
   */
  sendTo(peer: { readonly ip: string; readonly port: number }, data: Uint8Array | string): void;
  /**
   * Sends reliably to one Olaf member: retransmitted until its transport
   * acknowledges (this is not a confirmation that its application handled
   * it). Larger than a datagram is fine (fragmented, 1 MiB by default). A
   * full window makes the message wait (backpressure).
   *
   * @param peer The member.
   * @param data Bytes, or a string (sent as UTF-8).
   * @param options `{ reliable: true, ordered? }`.
   * @returns Resolves when acknowledged; rejects with a `DeliveryError` on give-up,
   *   `PeerLeftError` when the member left, `ReliableSendError` when refused (v1 peer, ...).
   */
  sendTo(
    peer: { readonly ip: string; readonly port: number },
    data: Uint8Array | string,
    options: ReliableSendOptions,
  ): Promise<void>;
  sendTo(
    peer: { readonly ip: string; readonly port: number },
    data: Uint8Array | string,
    options?: ReliableSendOptions,
  ): void | Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (options?.reliable) return this.#sendReliable(peer, bytes, options.ordered ?? false);
    this.#machine.sendTo(peer, bytes);
    this.#driver.pump();
  }

  #sendReliable(
    peer: { readonly ip: string; readonly port: number },
    bytes: Uint8Array,
    ordered: boolean,
  ): Promise<void> {
    const key = `${peer.ip}:${peer.port}`;
    const copy = bytes.slice(); // it may wait for the window; the caller may reuse its buffer
    return new Promise<void>((resolve, reject) => {
      /** Tries to queue the message; `false` when the window is full. */
      const attempt = (): boolean => {
        if (this.#closed) {
          reject(new ReliableSendError("left", "the room was left before the message was sent"));
          return true;
        }
        let result;
        try {
          result = this.#machine.sendReliable(peer, copy, { ordered });
        } catch (error) {
          reject(error as Error);
          return true;
        }
        if (result.ok) {
          this.#waiters.set(result.handle, { resolve, reject });
          this.#driver.pump();
          return true;
        }
        if (result.reason === "blocked") return false;
        reject(new ReliableSendError(result.reason, result.message));
        return true;
      };
      const queue = this.#blocked.get(key);
      if (queue !== undefined && queue.length > 0) queue.push(attempt); // keep send order
      else if (!attempt()) this.#blocked.set(key, [attempt]);
    });
  }

  /** The window to `key` has room (or the member left): retry waiting sends in order. */
  #unblock(key: string): void {
    const queue = this.#blocked.get(key);
    if (queue === undefined) return;
    while (queue.length > 0) {
      if (!queue[0]!()) return;
      queue.shift();
    }
    this.#blocked.delete(key);
  }

  /**
   * Adds a listener.
   *
   * @param type Event type.
   * @param listener Called with the event.
   * @returns A function that removes the listener.
   *
   * @example Watch members come and go
   * ```ts
   * import { joinRoom } from "@olaf/peer";
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import { startFakeBootstrap } from "@olaf/protocol/testing";
   * import assert from "node:assert/strict";
   *
   * // An in-memory network and a fake bootstrap that lists everyone who joined.
   * const net = new MemoryNetwork();
   * const boot = await startFakeBootstrap(net.bind, { port: 5000 });
   * const options = { bootstraps: [boot.spec], bind: net.bind, clock: net.clock };
   * const joiningAlice = joinRoom("lobby", { ...options, hostname: "10.0.0.1" });
   * await net.advance(10);
   * const alice = await joiningAlice;
   *
   * const seen: string[] = [];
   * const off = alice.on("peer-joined", ({ peer }) => seen.push(`+${peer.ip}`));
   * alice.on("peer-left", ({ peer, reason }) => seen.push(`-${peer.ip} ${reason}`));
   * const joiningBob = joinRoom("lobby", { ...options, hostname: "10.0.0.2" });
   * await net.advance(10);
   * const bob = await joiningBob;
   * await bob.leave();
   * await net.advance(10);
   * assert.deepEqual(seen, ["+10.0.0.2", "-10.0.0.2 bye"]);
   * off();
   * await alice.leave();
   * await boot.close();
   * ```
   */
  on<K extends keyof RoomEventMap>(type: K, listener: RoomEventListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, set = new Set());
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /**
   * Calls `listener` for each member that joins.
   *
   * @param listener Receives the member.
   * @returns A function that removes the listener.
   */
  onPeerJoin(listener: (peer: MemberRecord) => void): () => void {
    return this.on("peer-joined", (event) => listener(event.peer));
  }

  /**
   * Calls `listener` for each member that leaves.
   *
   * @param listener Receives the member and why it left.
   * @returns A function that removes the listener.
   */
  onPeerLeave(listener: (peer: MemberRecord, reason: PeerLeftReason) => void): () => void {
    return this.on("peer-left", (event) => listener(event.peer, event.reason));
  }

  /**
   * Calls `listener` for each application message.
   *
   * @param listener Receives the message.
   * @returns A function that removes the listener.
   */
  onMessage(listener: (message: RoomMessage) => void): () => void {
    return this.on("message", listener);
  }

  /**
   * The application messages from now on, as an async iterable that ends
   * when the room is left. Messages are queued from the moment this is
   * called (at most 4096; the oldest are dropped past that).
   *
   * @returns An async iterable of messages.
   *
   * @example Read messages until the room is left
   * ```ts
   * import { joinRoom } from "@olaf/peer";
   * import { MemoryNetwork } from "@olaf/protocol/memory-network";
   * import { startFakeBootstrap } from "@olaf/protocol/testing";
   * import assert from "node:assert/strict";
   *
   * // An in-memory network and a fake bootstrap that lists everyone who joined.
   * const net = new MemoryNetwork();
   * const boot = await startFakeBootstrap(net.bind, { port: 5000 });
   * const options = { bootstraps: [boot.spec], bind: net.bind, clock: net.clock };
   * const joining = [
   *   joinRoom("lobby", { ...options, hostname: "10.0.0.1" }),
   *   joinRoom("lobby", { ...options, hostname: "10.0.0.2" }),
   * ];
   * await net.advance(10);
   * const [alice, bob] = await Promise.all(joining);
   *
   * const received: string[] = [];
   * const reading = (async () => {
   *   for await (const message of alice.messages()) received.push(message.text());
   * })();
   * await net.advance(10);
   * bob.send("one");
   * bob.sendTo(alice.self, new TextEncoder().encode("two"));
   * await net.advance(10);
   * await alice.leave(); // ends the iteration
   * await reading;
   * assert.deepEqual(received, ["one", "two"]);
   * await bob.leave();
   * await boot.close();
   * ```
   */
  messages(): AsyncIterable<RoomMessage> {
    const inbox = new Inbox(() => this.#inboxes.delete(inbox));
    if (this.#closed) inbox.end();
    else this.#inboxes.add(inbox);
    return inbox;
  }

  /**
   * Leaves the room: sends `bye` to every member, closes the socket, ends
   * the message iterators. Idempotent.
   */
  leave(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#machine.leave();
    this.#closed = true; // events from here on are not delivered
    this.#deferred = undefined;
    this.#driver.pump(); // the byes
    this.#driver.stop();
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener("abort", this.#onAbort);
    for (const inbox of this.#inboxes) inbox.end();
    this.#inboxes.clear();
    const left = new ReliableSendError("left", "the room was left before the acknowledgement");
    for (const waiter of this.#waiters.values()) waiter.reject(left);
    this.#waiters.clear();
    for (const key of [...this.#blocked.keys()]) this.#unblock(key); // each rejects: closed
    this.#closing = this.#socket.close().then(() => this.#emit("left", {}));
    return this.#closing;
  }

  /** Leaves the room (`await using room = await joinRoom(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.leave();
  }

  // --- driver -----------------------------------------------------------------

  #start(signal: AbortSignal | undefined, joinTimeoutMs: number): Promise<void> {
    const joined = new Promise<void>((resolve, reject) => {
      this.#joinWaiter = { resolve, reject };
    });
    const deadline = this.#clock.setTimer(() => {
      this.#failJoin(
        new JoinError(
          "timeout",
          `no answer from the bootstrap within ${joinTimeoutMs} ms ` +
            `(tried ${describe(this.#machine.bootstrap)})`,
        ),
      );
    }, joinTimeoutMs);
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => {
        if (this.#joinWaiter) {
          this.#failJoin(new JoinError("aborted", "join aborted", { cause: signal.reason }));
        } else void this.leave();
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
      if (signal.aborted) this.#onAbort(); // aborted while resolving or binding
    }
    this.#driver.pump();
    return joined.finally(() => this.#clock.clearTimer(deadline));
  }

  #failJoin(error: JoinError): void {
    const waiter = this.#joinWaiter;
    if (!waiter) return;
    this.#joinWaiter = undefined;
    void this.leave();
    waiter.reject(error);
  }

  #onEvent(event: PeerEvent): void {
    if (this.#closed) return;
    if (this.#deferred !== undefined) this.#deferred.push(event);
    else this.#dispatch(event);
  }

  #dispatch(event: PeerEvent): void {
    switch (event.type) {
      case "joined": {
        logger.info("{room}: joined as {ip}:{port} (id {id})", { room: this.name, ...event.self });
        const waiter = this.#joinWaiter;
        this.#joinWaiter = undefined;
        // Hold later events back one turn so that the caller of joinRoom can add listeners.
        const deferred = this.#deferred = new Fifo<PeerEvent>();
        this.#clock.setTimer(() => {
          if (this.#deferred !== deferred) return; // left meanwhile
          this.#deferred = undefined;
          for (let e = deferred.shift(); e !== undefined && !this.#closed; e = deferred.shift()) {
            this.#dispatch(e);
          }
        }, 0);
        waiter?.resolve();
        return;
      }
      case "peer-joined":
        logger.debug("{room}: {ip}:{port} (id {id}) joined", { room: this.name, ...event.peer });
        return this.#emit(
          "peer-joined",
          event.path === undefined ? { peer: event.peer } : { peer: event.peer, path: event.path },
        );
      case "path-changed": // issue 11
        logger.debug("{room}: {ip}:{port} now {path} (was {previous})", {
          room: this.name,
          ...event.peer,
          path: event.path,
          previous: event.previous,
        });
        return this.#emit("path-changed", {
          peer: event.peer,
          path: event.path,
          previous: event.previous,
        });
      case "link":
        logger.debug("{room}: link to {ip}:{port} encrypted: {encrypted}", {
          room: this.name,
          ...event.peer,
          encrypted: event.encrypted,
        });
        return this.#emit("link", { peer: event.peer, encrypted: event.encrypted });
      case "peer-left":
        logger.debug("{room}: {ip}:{port} left ({reason})", {
          room: this.name,
          ...event.peer,
          reason: event.reason,
        });
        this.#unblock(`${event.peer.ip}:${event.peer.port}`); // waiting sends fail: not a member
        return this.#emit("peer-left", { peer: event.peer, reason: event.reason });
      case "delivered":
      case "delivery-failed": {
        const waiter = this.#waiters.get(event.handle);
        this.#waiters.delete(event.handle);
        if (event.type === "delivered") waiter?.resolve();
        else waiter?.reject(event.error);
        return;
      }
      case "writable":
        return this.#unblock(`${event.peer.ip}:${event.peer.port}`);
      case "message": {
        const message: RoomMessage = event.reliable
          ? {
            from: event.from,
            data: event.data,
            text: () => decoder.decode(event.data),
            reliable: true,
            ordered: event.ordered,
          }
          : {
            from: event.from,
            data: event.data,
            text: () => decoder.decode(event.data),
          };
        for (const inbox of this.#inboxes) inbox.push(message);
        return this.#emit("message", message);
      }
      case "error":
        logger.warn("{room}: {message}", { room: this.name, message: event.message });
        if (event.code === "room-full" && this.#joinWaiter) {
          return this.#failJoin(new JoinError("room-full", event.message));
        }
        return this.#emit("error", { code: event.code, message: event.message });
    }
  }

  #emit<K extends keyof RoomEventMap>(type: K, event: RoomEventMap[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as RoomEventListener<K>)(event);
      } catch (error) {
        // A throwing listener must not break the driver; surface it like an uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** A bounded async queue of messages behind {@linkcode Room.messages}. */
class Inbox implements AsyncIterable<RoomMessage>, AsyncIterator<RoomMessage> {
  #queue = new Fifo<RoomMessage>(MESSAGE_QUEUE_LIMIT);
  #waiting: ((result: IteratorResult<RoomMessage>) => void) | undefined;
  #ended = false;
  readonly #onReturn: () => void;

  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  push(message: RoomMessage): void {
    if (this.#ended) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: message, done: false });
      return;
    }
    this.#queue.push(message); // past the limit the oldest goes
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<RoomMessage>> {
    const message = this.#queue.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  return(): Promise<IteratorResult<RoomMessage>> {
    this.#queue.clear();
    this.end();
    this.#onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<RoomMessage> {
    return this;
  }
}

function describe(address: NetAddress): string {
  return `${address.hostname}:${address.port}`;
}

/** `nat` with the detected LAN addresses filled in when the caller gave none. */
function natOptions(
  nat: boolean | NatTraversalOptions | undefined,
  lan: NetAddress[],
): boolean | NatTraversalOptions | undefined {
  if (!nat || lan.length === 0) return nat;
  const given = nat === true ? {} : nat;
  return given.lanAddresses !== undefined ? given : { ...given, lanAddresses: lan };
}

/** The dialect's LAN candidates: the caller's, else (with `nat` on) the detected ones. */
function dialectOptions(
  dialect: OlafJoinOptions,
  nat: boolean | NatTraversalOptions | undefined,
  lan: NetAddress[],
): OlafJoinOptions {
  const offered = (nat === true || !nat ? undefined : nat.lanAddresses) ?? lan;
  if (dialect.candidates !== undefined || offered.length === 0) return dialect;
  const candidates = offered.slice(0, 4).map((a) => ({ ip: a.hostname, port: a.port }));
  return { ...dialect, candidates };
}

/**
 * Joins the room `name`: binds a UDP socket, asks the bootstrap for the
 * members, and resolves once the bootstrap has answered (the members then
 * show up within about a round trip, see {@linkcode Room.peers}).
 *
 * @param name Room name (UTF-8, up to 255 bytes, `MAX_ROOM_NAME_BYTES`).
 * @param options Bootstraps, timing, and the transport to use.
 * @returns The joined room.
 * @throws {JoinError} `room-full` when the bootstrap refuses the room,
 *   `timeout` when no bootstrap answers within `joinTimeoutMs`, `aborted`
 *   when `signal` aborts first.
 * @throws {TypeError} For a malformed or unresolvable bootstrap address.
 * @throws {RangeError} For a room name over 255 UTF-8 bytes or bad timings
 *   (see {@linkcode PeerMachine}).
 *
 * @example Join through a bootstrap on an in-memory network
 * ```ts
 * import { joinRoom } from "@olaf/peer";
 * import { MemoryNetwork } from "@olaf/protocol/memory-network";
 * import { startFakeBootstrap } from "@olaf/protocol/testing";
 * import assert from "node:assert/strict";
 *
 * const net = new MemoryNetwork();
 * const bootstrap = await startFakeBootstrap(net.bind, { port: 5000 });
 * const joining = joinRoom("lobby", {
 *   bootstraps: ["localhost:5000"],
 *   bind: net.bind, // the in-memory network instead of real UDP
 *   clock: net.clock,
 * });
 * await net.advance(10); // virtual time: the bootstrap answers
 * await using room = await joining;
 * assert.equal(room.self.id, 1);
 * assert.deepEqual(room.peers, []);
 * await bootstrap.close();
 * ```
 */
export async function joinRoom(name: string, options: JoinRoomOptions): Promise<Room> {
  if (options.signal?.aborted) {
    throw new JoinError("aborted", "join aborted", { cause: options.signal.reason });
  }
  const bootstraps = await Promise.all(options.bootstraps.map(resolveHostPort));
  const clock = options.clock ?? systemClock;
  const identity = typeof options.identity === "string"
    ? loadOrCreateIdentity(options.identity)
    : options.identity;
  const allow = options.allow?.map(parsePublicKey);
  // Datagrams can arrive before the Room exists (between bind and construction). The socket is
  // bound first so NAT traversal can offer its LAN addresses with the port.
  const target: { room?: Room } = {};
  const early: [Uint8Array, NetAddress][] = [];
  const bind = options.bind ?? bindDatagram;
  const socket = await bind({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? 0,
    onDatagram: (data, from) => {
      if (target.room) receiveRoom(target.room, data, from);
      else early.push([data, from]);
    },
    // A failed send (unreachable network, say) must not take the process down: UDP is lossy
    // anyway, and the heartbeat retries.
    onError: (error) =>
      logger.warn("{room}: socket error: {message}", {
        room: name,
        message: error.message,
      }),
  });
  // Our LAN addresses, for members behind the same NAT (unless the caller named them).
  const lan = options.nat ? lanAddresses(socket.localAddress) : [];
  let machine: PeerMachine;
  try {
    machine = new PeerMachine({
      room: name,
      bootstraps,
      heartbeatMs: options.heartbeatMs,
      peerTimeoutMs: options.peerTimeoutMs,
      bootstrapMisses: options.bootstrapMisses,
      bootstrapRetryMs: options.bootstrapRetryMs,
      gossipSize: options.gossipSize,
      maxPeers: options.maxPeers,
      largeRoomThreshold: options.largeRoomThreshold,
      reliable: options.reliable,
      nat: natOptions(options.nat, lan), // issue 11
      ...(options.dialect ? { dialect: dialectOptions(options.dialect, options.nat, lan) } : {}),
      probeRate: options.probeRate,
      strangersPerHeartbeat: options.strangersPerHeartbeat,
      now: clock.now(),
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
      ...(identity !== undefined ? { identity } : {}),
      ...(allow !== undefined ? { allow } : {}),
      opportunistic: options.opportunistic ?? true,
    });
  } catch (error) {
    await socket.close(); // bad options must not hold a port
    throw error;
  }
  const room = target.room = openRoom(name, machine, socket, clock);
  for (const [data, from] of early) receiveRoom(room, data, from);
  await startRoom(room, options.signal, options.joinTimeoutMs ?? 15_000);
  return room;
}

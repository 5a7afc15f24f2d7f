/**
 * A node: an Olaf peer with a local HTTP API ({@linkcode startNode}). It joins
 * a room, introduces itself to every member (a hello envelope with its node id
 * and friendly name), sends messages to one member or all of them with an
 * app-level ack and re-sends until acked, and delivers only messages whose
 * sender is verified: in an open room, the address the datagram came from must
 * belong to a current member that said hello, and the node id and name in the
 * message must be the ones that address announced; in a secure room the same
 * holds for the member's public key, which Noise verified, instead of its
 * address. Everything else is rejected and counted. Routes: see the "Nodes"
 * section of the README.
 *
 * @module
 */
import { type Clock, systemClock } from "@olaf/protocol/net";
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  MAX_TEXT_BYTES,
  validName,
} from "./_envelope.ts";
import type { MemberRecord } from "./_membership.ts";
import { nodeRoutes } from "./_node_routes.ts";
import { joinRoom, type JoinRoomOptions, type Room, type RoomMessage } from "./room.ts";

/** Options of {@linkcode startNode}. */
export interface NodeOptions {
  /** Bootstrap servers as `"host:port"`, as for {@linkcode joinRoom}. */
  bootstraps: readonly string[];
  /** The room to join. */
  room: string;
  /** Friendly name (1..64 characters). Default `node-` and the first 8 hex digits of the node id. */
  name?: string;
  /** HTTP port, default 0 (any free port). */
  httpPort?: number;
  /** HTTP address to listen on, default `"127.0.0.1"` (only this machine). */
  httpHostname?: string;
  /** When set, every HTTP request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Re-send an unacked message (and the hello) this often, default 250 ms. */
  retryMs?: number;
  /** Give up on a message to one member after this many sends, default 40. */
  maxAttempts?: number;
  /** Messages kept in the inbox (`GET /messages`), default 10 000; the oldest go first. */
  inboxLimit?: number;
  /** Room options passed on to {@linkcode joinRoom} (local address and port, timings). */
  join?: Omit<JoinRoomOptions, "bootstraps" | "signal">;
}

/** A member as a node sees it. */
export interface NodeMember {
  /** The member's id in the room (from the bootstrap; 0 while unknown). */
  readonly id: number;
  /** Its address as seen. */
  readonly ip: string;
  /** Its UDP port as seen. */
  readonly port: number;
  /** The node id it announced in its hello, or `null` before the hello. */
  readonly node_id: string | null;
  /** The friendly name it announced, or `null` before the hello. */
  readonly friendly_name: string | null;
  /** Whether it said hello (only verified members receive and send messages). */
  readonly verified: boolean;
  /** Secure rooms only: its Ed25519 public key (64 lowercase hex digits), proved by Noise. */
  readonly publicKey?: string;
}

/** The verified sender of a delivered message. */
export interface VerifiedSender {
  /** Node id, as announced by the sending address. */
  readonly node_id: string;
  /** Friendly name, as announced by the sending address. */
  readonly friendly_name: string;
  /** Address the datagrams came from. */
  readonly ip: string;
  /** Port the datagrams came from. */
  readonly port: number;
  /** Room id of the sender. */
  readonly id: number;
  /**
   * How the sender was verified: `"address"` (open room: address plus membership) or `"noise"`
   * (secure room: the datagram came on a Noise session, authenticated to `publicKey`; the
   * address is only where it came from).
   */
  readonly verified_by: "address" | "noise";
  /** Secure rooms only: the sender's verified Ed25519 public key (64 lowercase hex digits). */
  readonly publicKey?: string;
}

/** A delivered message, as `GET /messages` and the event stream show it. */
export interface NodeMessage {
  /** Position in this node's inbox (1, 2, ...): the cursor of `GET /messages?after=`. */
  readonly seq: number;
  /** Message id, unique per sender. */
  readonly id: number;
  /** Who sent it (verified). */
  readonly from: VerifiedSender;
  /** The text. */
  readonly msg: string;
  /** Sender's clock when it was sent (ms since the epoch). */
  readonly sent_at: number;
  /** Our clock when it arrived (ms since the epoch). */
  readonly received_at: number;
}

/** Counters of a node (`GET /stats`, and `stats` in `GET /`). */
export interface NodeStats {
  /** Messages accepted by `POST /message` (one per recipient). */
  sent: number;
  /** Of those, acked by the recipient. */
  acked: number;
  /** Re-sends after no ack within `retryMs`. */
  resent: number;
  /** Given up after `maxAttempts` sends. */
  undelivered: number;
  /** Messages delivered to the inbox. */
  received: number;
  /** Copies of already delivered messages (acked again, not delivered). */
  duplicates: number;
  /** Rejected datagrams, by reason. */
  rejected: {
    /** From an address that is not a member which said hello. */
    non_member: number;
    /** Naming a node id or friendly name other than the sending address announced. */
    name_claim: number;
    /** Not a node envelope. */
    malformed: number;
  };
}

/** `GET /` of a node. */
export interface NodeStatus {
  /** `"Node <name> is running!"`, as the seed said. */
  readonly message: string;
  /** This node's id (a UUID, new per process). */
  readonly node_id: string;
  /** This node's friendly name. */
  readonly friendly_name: string;
  /** The room. */
  readonly room: string;
  /** Our own record as the bootstrap sees us. */
  readonly self: { readonly ip: string; readonly port: number; readonly id: number };
  /** The members (the seed listed URLs; a node lists member records). */
  readonly peers: readonly NodeMember[];
  /** Seconds since the node started. */
  readonly uptime: number;
  /** Whether the node left its room. */
  readonly left: boolean;
  /** Counters. */
  readonly stats: NodeStats;
}

/** What {@linkcode OlafNode.send} did. */
export interface SendResult {
  /** The message id. */
  readonly id: number;
  /** The node ids it is being sent to. */
  readonly to: readonly string[];
}

/**
 * Thrown by {@linkcode OlafNode.send} for a recipient that is not a verified member
 * (`POST /message` answers 404 `unknown-recipient`).
 *
 * @example
 * ```ts
 * import { UnknownRecipientError } from "@olaf/peer/node";
 * const error = new UnknownRecipientError("bob");
 * console.log(error.message); // no verified member "bob"
 * ```
 */
export class UnknownRecipientError extends Error {
  /**
   * Creates the error.
   *
   * @param to The recipient asked for.
   */
  constructor(to: string | number) {
    super(`no verified member ${JSON.stringify(to)}`);
    this.name = "UnknownRecipientError";
  }
}

interface Binding {
  readonly node: string;
  readonly name: string;
  /** They acked our hello or one of our messages: they know who we are. */
  introduced: boolean;
  record: MemberRecord;
  /** Secure rooms: the member's verified public key (what the binding is keyed by). */
  readonly publicKey?: string;
}

interface Pending {
  readonly key: string;
  readonly id: number;
  readonly data: Uint8Array;
  attempts: number;
  nextAt: number;
}

const SEEN_LIMIT = 4096;

/**
 * A running node. Get one from {@linkcode startNode}; stop it with
 * {@linkcode OlafNode.close}. Its methods are what the HTTP routes call.
 *
 * @example Send to every verified member and read an inbox without HTTP
 * ```ts
 * import { startBootstrap } from "@olaf/bootstrap";
 * import { startNode } from "@olaf/peer/node";
 * import assert from "node:assert/strict";
 *
 * await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
 * const options = {
 *   bootstraps: [`127.0.0.1:${bootstrap.localAddress.port}`],
 *   room: "lobby",
 *   join: { hostname: "127.0.0.1" },
 * };
 * await using a = await startNode({ ...options, name: "a" });
 * await using b = await startNode({ ...options, name: "b" });
 * while (!a.members().some((m) => m.verified)) await new Promise((r) => setTimeout(r, 20));
 * const { to } = a.send("hello");
 * assert.deepEqual(to, [b.nodeId]);
 * while (b.inbox().length === 0) await new Promise((r) => setTimeout(r, 20));
 * assert.equal(b.inbox()[0].from.friendly_name, "a");
 * assert.equal(b.status().stats.received, 1);
 * ```
 */
export class OlafNode implements AsyncDisposable {
  /** This node's id (a random UUID). */
  readonly nodeId: string;
  /** Friendly name. */
  readonly name: string;
  /** The room (its public API: members, raw `send`/`sendTo`). */
  readonly room: Room;
  /** Counters. */
  readonly stats: NodeStats = {
    sent: 0,
    acked: 0,
    resent: 0,
    undelivered: 0,
    received: 0,
    duplicates: 0,
    rejected: { non_member: 0, name_claim: 0, malformed: 0 },
  };
  /** The HTTP server's address (`http://host:port`), set by {@linkcode startNode}. */
  url = "";

  #startedAt: number;
  readonly #retryMs: number;
  readonly #maxAttempts: number;
  readonly #inboxLimit: number;
  readonly #bindings = new Map<string, Binding>(); // by member key (public key, or address)
  readonly #pending = new Map<string, Pending>(); // by `${key}|${id}`
  readonly #seen = new Map<string, Set<number>>(); // node id -> delivered message ids
  readonly #inbox: NodeMessage[] = [];
  readonly #listeners = new Set<(message: NodeMessage) => void>();
  readonly #lastHelloAt = new Map<string, number>();
  #seq = 0;
  #nextId = 1;
  #ticker: number | undefined;
  readonly #clock: Clock;
  #leaving: Promise<void> | undefined;
  #leftResolve!: () => void;
  /** Resolves when the node has left its room (`POST /leave`, {@linkcode OlafNode.leave}). */
  readonly left: Promise<void> = new Promise((resolve) => (this.#leftResolve = resolve));

  /** @internal Use {@linkcode startNode}. */
  constructor(room: Room, nodeId: string, name: string, options: NodeOptions) {
    this.room = room;
    this.nodeId = nodeId;
    this.name = name;
    this.#retryMs = options.retryMs ?? 250;
    this.#maxAttempts = options.maxAttempts ?? 40;
    this.#inboxLimit = options.inboxLimit ?? 10_000;
    room.onMessage((m) => this.#receive(m));
    room.onPeerJoin((peer) => this.#hello(peer, false));
    room.onPeerLeave((peer) => this.#bindings.delete(key(peer)));
    // The room's clock (a MemoryNetwork's in tests), so re-sends follow virtual time there.
    this.#clock = options.join?.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
    this.#schedule();
    // Introduce ourselves to everyone the bootstrap listed (they may already be members).
    room.send(encodeEnvelope({ t: "hello", node: nodeId, name, ack: false }));
  }

  /** The members, with what they announced. */
  members(): NodeMember[] {
    return this.room.peers.map((p) => {
      const b = this.#bindings.get(key(p));
      return {
        id: p.id,
        ip: p.ip,
        port: p.port,
        node_id: b?.node ?? null,
        friendly_name: b?.name ?? null,
        verified: b !== undefined,
        ...(p.publicKey !== undefined ? { publicKey: p.publicKey } : {}),
      };
    });
  }

  /** The status `GET /` answers. */
  status(): NodeStatus {
    const self = this.room.self;
    return {
      message: `Node ${this.name} is running!`,
      node_id: this.nodeId,
      friendly_name: this.name,
      room: this.room.name,
      self: { ip: self.ip, port: self.port, id: self.id },
      peers: this.members(),
      uptime: Math.round((this.#clock.now() - this.#startedAt) / 1000),
      left: this.room.left,
      stats: this.stats,
    };
  }

  /**
   * Sends `text` to one verified member or to all of them, each copy re-sent
   * until acked (at most `maxAttempts` times).
   *
   * @param text The message (at most 8192 UTF-8 bytes).
   * @param to A member's room id, node id, friendly name or (secure rooms) public key (64 hex
   *   digits); all verified members when omitted.
   * @returns The message id and the node ids it goes to.
   * @throws {UnknownRecipientError} When `to` names no verified member.
   * @throws {RangeError} When the text is too long or the node left.
   */
  send(text: string, to?: string | number): SendResult {
    if (this.room.left) throw new RangeError("the node left its room");
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
      throw new RangeError(`msg is over ${MAX_TEXT_BYTES} UTF-8 bytes`);
    }
    const targets: [string, Binding][] = [];
    const members = new Set(this.room.peers.map(key));
    const toKey = typeof to === "string" ? to.toLowerCase() : undefined;
    for (const [k, b] of this.#bindings) {
      if (!members.has(k)) continue;
      if (
        to === undefined || b.node === to || b.name === to || b.record.id === to ||
        (b.publicKey !== undefined && b.publicKey === toKey)
      ) {
        targets.push([k, b]);
      }
    }
    if (to !== undefined && targets.length === 0) throw new UnknownRecipientError(to);
    const id = this.#nextId++;
    const data = encodeEnvelope({
      t: "msg",
      node: this.nodeId,
      name: this.name,
      id,
      at: this.#clock.now(),
      text,
    });
    const now = this.#clock.now();
    for (const [k, b] of targets) {
      this.stats.sent++;
      const p: Pending = { key: k, id, data, attempts: 0, nextAt: now };
      this.#pending.set(`${k}|${id}`, p);
      if (b.introduced) this.#transmit(p, b, now);
      else this.#hello(b.record, false);
    }
    return { id, to: targets.map(([, b]) => b.node) };
  }

  /**
   * Delivered messages after the cursor `after` (a `seq`), oldest first.
   *
   * @param after Return messages with a larger `seq`; 0 for all kept.
   * @param limit At most this many.
   * @returns The messages.
   */
  inbox(after = 0, limit = 1000): NodeMessage[] {
    // seq is dense: the first kept message has seq = #seq - length + 1.
    const first = this.#seq - this.#inbox.length + 1;
    const start = Math.max(0, after + 1 - first);
    return this.#inbox.slice(start, start + limit);
  }

  /** The `seq` of the newest delivered message (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /**
   * Calls `listener` for every delivered message.
   *
   * @param listener Receives the message.
   * @returns A function that removes the listener.
   */
  onMessage(listener: (message: NodeMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Leaves the room (members are told with `bye`); the HTTP API keeps answering. */
  leave(): Promise<void> {
    if (this.#leaving) return this.#leaving;
    if (this.#ticker !== undefined) this.#clock.clearTimer(this.#ticker);
    this.#ticker = undefined;
    this.#pending.clear();
    this.#leaving = this.room.leave().then(() => this.#leftResolve());
    return this.#leaving;
  }

  /** @internal Set by startNode: stops the HTTP server. */
  _closeHttp: () => Promise<void> = () => Promise.resolve();

  /** Leaves the room and stops the HTTP server. Idempotent. */
  async close(): Promise<void> {
    await this.leave();
    await this._closeHttp();
  }

  /** Same as {@linkcode OlafNode.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- the protocol -------------------------------------------------------------------------

  #hello(peer: { ip: string; port: number }, ack: boolean): void {
    if (this.room.left) return;
    this.room.sendTo(peer, encodeEnvelope({ t: "hello", node: this.nodeId, name: this.name, ack }));
  }

  #transmit(p: Pending, b: Binding, now: number): void {
    if (p.attempts > 0) this.stats.resent++;
    p.attempts++;
    p.nextAt = now + this.#retryMs;
    this.room.sendTo(b.record, p.data);
  }

  #schedule(): void {
    this.#ticker = this.#clock.setTimer(() => {
      this.#ticker = undefined;
      if (this.room.left || this.#leaving) return;
      this.#tick();
      this.#schedule();
    }, this.#retryMs);
  }

  #tick(): void {
    if (this.room.left) return;
    const now = this.#clock.now();
    const helloed = new Set<string>();
    for (const [k, p] of this.#pending) {
      if (now < p.nextAt) continue;
      const b = this.#bindings.get(p.key);
      if (p.attempts >= this.#maxAttempts) {
        this.#pending.delete(k);
        this.stats.undelivered++;
        continue;
      }
      if (b === undefined) {
        // The member left (or timed out) before acking: count the attempt and wait for it.
        p.attempts++;
        p.nextAt = now + this.#retryMs;
        continue;
      }
      // After a few unanswered sends, the receiver may have lost our hello: say it again.
      if ((!b.introduced || p.attempts >= 3) && !helloed.has(p.key)) {
        helloed.add(p.key);
        this.#hello(b.record, false);
      }
      if (b.introduced) this.#transmit(p, b, now);
      else {
        p.attempts++;
        p.nextAt = now + this.#retryMs;
      }
    }
  }

  #receive(m: RoomMessage): void {
    const envelope: Envelope | undefined = decodeEnvelope(m.data);
    if (envelope === undefined) {
      this.stats.rejected.malformed++;
      return;
    }
    const k = key(m.from);
    const bound = this.#bindings.get(k);
    if (envelope.t === "hello") return this.#onHello(m.from, k, bound, envelope.node, envelope);
    if (bound === undefined || !this.#isMember(k)) {
      this.stats.rejected.non_member++;
      return;
    }
    if (envelope.node !== bound.node || (envelope.t === "msg" && envelope.name !== bound.name)) {
      this.stats.rejected.name_claim++;
      return;
    }
    bound.record = m.from;
    if (envelope.t === "ack") {
      bound.introduced = true;
      if (this.#pending.delete(`${k}|${envelope.id}`)) this.stats.acked++;
      return;
    }
    // A message: ack every copy (the ack may have been lost), deliver the first.
    this.room.sendTo(m.from, encodeEnvelope({ t: "ack", node: this.nodeId, id: envelope.id }));
    let seen = this.#seen.get(bound.node);
    if (seen === undefined) {
      this.#seen.set(bound.node, seen = new Set());
      // Senders come and go: forget the oldest one's ids past the limit (bounded memory).
      if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.keys().next().value!);
    }
    if (seen.has(envelope.id)) {
      this.stats.duplicates++;
      return;
    }
    seen.add(envelope.id);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value!);
    const message: NodeMessage = {
      seq: ++this.#seq,
      id: envelope.id,
      from: {
        node_id: bound.node,
        friendly_name: bound.name,
        ip: m.from.ip,
        port: m.from.port,
        id: m.from.id,
        ...(bound.publicKey !== undefined
          ? { verified_by: "noise" as const, publicKey: bound.publicKey }
          : { verified_by: "address" as const }),
      },
      msg: envelope.text,
      sent_at: envelope.at,
      received_at: this.#clock.now(),
    };
    this.stats.received++;
    this.#inbox.push(message);
    if (this.#inbox.length > this.#inboxLimit) this.#inbox.shift();
    for (const listener of [...this.#listeners]) {
      try {
        listener(message);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #onHello(
    from: MemberRecord,
    k: string,
    bound: Binding | undefined,
    node: string,
    hello: { name: string; ack: boolean },
  ): void {
    if (bound !== undefined && bound.publicKey !== undefined && bound.node !== node) {
      // Secure room: only the key's holder can send on its session, so a new node id from the
      // same key is that node restarted (same identity file): its newest hello rebinds the key.
      this.#bindings.delete(k);
      bound = undefined;
    }
    if (bound !== undefined) {
      // An address keeps the identity it announced first, for as long as it is a member.
      if (bound.node !== node || bound.name !== hello.name) {
        this.stats.rejected.name_claim++;
        return;
      }
      bound.record = from;
    } else {
      if (node === this.nodeId || hello.name === this.name || !validName(hello.name)) {
        this.stats.rejected.name_claim++;
        return;
      }
      const members = new Set(this.room.peers.map(key));
      for (const [otherKey, other] of this.#bindings) {
        if (other.node !== node && other.name !== hello.name) continue;
        if (members.has(otherKey)) {
          // Another live member announced this node id or name first.
          this.stats.rejected.name_claim++;
          return;
        }
        this.#bindings.delete(otherKey); // it left: its name is free again
      }
      this.#bindings.set(k, {
        node,
        name: hello.name,
        introduced: false,
        record: from,
        ...(from.publicKey !== undefined ? { publicKey: from.publicKey } : {}),
      });
    }
    const b = this.#bindings.get(k)!;
    if (hello.ack) b.introduced = true;
    else {
      // Answer every hello (at most one per retry period per address: a hello costs one back).
      const now = this.#clock.now();
      if (now - (this.#lastHelloAt.get(k) ?? -Infinity) >= this.#retryMs / 2) {
        this.#lastHelloAt.set(k, now);
        if (this.#lastHelloAt.size > 4 * SEEN_LIMIT) this.#lastHelloAt.clear();
        this.#hello(from, true);
      }
    }
    if (b.introduced) {
      const now = this.#clock.now();
      for (const p of this.#pending.values()) {
        if (p.key === k && p.attempts === 0) this.#transmit(p, b, now);
      }
    }
  }

  #isMember(k: string): boolean {
    return this.room.peers.some((p) => key(p) === k);
  }
}

/**
 * Who a member is: in a secure room its verified public key (so a new address keeps its
 * binding), in an open room its address.
 */
function key(
  p: { readonly ip: string; readonly port: number; readonly publicKey?: string },
): string {
  return p.publicKey ?? `${p.ip}:${p.port}`;
}

/**
 * Starts a node: joins `options.room`, then serves the HTTP API on
 * `options.httpHostname` (default 127.0.0.1) and `options.httpPort`.
 *
 * @param options Bootstraps, room, name, HTTP address and token.
 * @returns The running node; `node.url` is where its API answers.
 * @throws {JoinError} When the room cannot be joined; errors of `Deno.serve`
 *   (address in use) when the HTTP port cannot be bound.
 *
 * @example Two nodes talk through a real bootstrap over loopback
 * ```ts
 * import { startBootstrap } from "@olaf/bootstrap";
 * import { startNode } from "@olaf/peer/node";
 * import assert from "node:assert/strict";
 *
 * await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
 * const at = `127.0.0.1:${bootstrap.localAddress.port}`;
 * const join = { hostname: "127.0.0.1" };
 * await using alice = await startNode({ bootstraps: [at], room: "doc", name: "alice", join });
 * await using bob = await startNode({ bootstraps: [at], room: "doc", name: "bob", join });
 * while (!alice.members().some((m) => m.friendly_name === "bob")) {
 *   await new Promise((r) => setTimeout(r, 20));
 * }
 * const sent = await fetch(`${alice.url}/message`, {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ msg: "hi bob", to: "bob" }),
 * });
 * assert.equal(sent.status, 200);
 * await sent.body?.cancel();
 * while (bob.inbox().length === 0) await new Promise((r) => setTimeout(r, 20));
 * const res = await fetch(`${bob.url}/messages?after=0`);
 * const { messages } = await res.json();
 * assert.equal(messages[0].msg, "hi bob");
 * assert.equal(messages[0].from.friendly_name, "alice");
 * ```
 */
export async function startNode(options: NodeOptions): Promise<OlafNode> {
  const nodeId = crypto.randomUUID();
  const name = options.name ?? `node-${nodeId.slice(0, 8)}`;
  if (!validName(name)) {
    throw new RangeError("name must be 1..64 characters without control characters");
  }
  const room = await joinRoom(options.room, { ...options.join, bootstraps: options.bootstraps });
  const node = new OlafNode(room, nodeId, name, options);
  const app = nodeRoutes(node, options.token);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // Deno.serve binds synchronously (and throws then, e.g. for an address in use).
    server = Deno.serve({
      hostname: options.httpHostname ?? "127.0.0.1",
      port: options.httpPort ?? 0,
      onListen: () => {},
    }, app.fetch);
  } catch (error) {
    await node.leave();
    throw error;
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  node.url = `http://${host}:${addr.port}`;
  let closing: Promise<void> | undefined;
  node._closeHttp = () => closing ??= server.shutdown();
  return node;
}

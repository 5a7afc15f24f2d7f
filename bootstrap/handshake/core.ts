/**
 * `HandshakeCore`: the JSON handshake dialect as a sans-IO state machine
 * (same pattern as `BootstrapCore`): datagrams and time go in, datagrams and
 * events come out; no sockets, timers or clock.
 *
 * @module
 */
import type { NetAddress } from "@olaf/protocol/net";
import {
  type HandshakeMessage,
  HandshakeParseError,
  type JsonValue,
  type MessageType,
  type NodeInfo,
  normaliseRef,
  parseMessage,
  parseNodeInfo,
  parseP2PConnect,
  parseRelayRequest,
  parseRetransmit,
  serializeMessage,
} from "./message.ts";
import { decodeStun, encodeBindingSuccess, STUN_BINDING_REQUEST } from "./stun.ts";

/** Settings of a {@linkcode HandshakeCore}; every one has a default. */
export interface HandshakeLimits {
  /**
   * The only network a node may join (the seed's `network_id`). Default
   * `undefined`: any network id, each its own group of nodes.
   */
  networkId?: string;
  /** Most handshaken nodes at once (the seed's `max_connections`), default 100. */
  maxConnections?: number;
  /** Heartbeat tick: idle nodes get a Ping, silent ones expire (`heartbeat_interval`), default 30 000 ms. */
  heartbeatIntervalMs?: number;
  /** A node not heard from for this long is removed (`connection_timeout`), default 60 000 ms. */
  connectionTimeoutMs?: number;
  /** Delay that coalesces node-list broadcasts (`peerlist_broadcast_debounce_ms`), default 300 ms. */
  broadcastDebounceMs?: number;
  /** Waits before each retransmission of an unacknowledged message, default `[500, 1000, 2000]`. */
  retransmitDelaysMs?: readonly number[];
  /** Forward `RelayRequest`s (the seed's `allow_symmetric_nat_relay`), default `false`. */
  relay?: boolean;
  /** Relayed bytes per second per node, default 16 384 (burst twice that). */
  relayBytesPerSecond?: number;
  /** Largest relayed `data`, default 1024 bytes. */
  maxRelayBytes?: number;
  /** `P2PConnect` introductions and relay messages per second per node, default 5 (burst 10). */
  requestsPerSecond?: number;
  /** Largest datagram read, default 8192 bytes. */
  maxDatagramBytes?: number;
  /** Largest datagram sent: node lists are cut to fit, default 8192 bytes. */
  maxReplyBytes?: number;
  /** Most unacknowledged messages tracked, default 4096 (past it, sent without tracking). */
  maxPending?: number;
  /** How long a received id or sequence number is remembered for dedup, default 30 000 ms. */
  dedupWindowMs?: number;
  /** Most remembered ids, default 8192. */
  maxDedupEntries?: number;
  /** Answer STUN Binding requests given to {@linkcode HandshakeCore.handleStun}, default `false`. */
  stun?: boolean;
  /** The server's node id in `HandshakeResponse`. Default: a random UUID. */
  serverId?: string;
  /** The server's node name. Default `"olaf-bootstrap"`. */
  serverName?: string;
  /** Where the server says it listens (informational). Default `""`. */
  listenAddr?: string;
  /** When the core started (ms since the epoch), for `uptimeMs`. Default 0. */
  startedAt?: number;
  /** Source of message ids and tokens. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
}

/** {@linkcode HandshakeLimits} with defaults applied. */
export type ResolvedHandshakeLimits =
  & Required<Omit<HandshakeLimits, "networkId" | "randomUUID">>
  & Pick<HandshakeLimits, "networkId">;

/** A datagram the driver must send. */
export interface HandshakeTransmit {
  /** Destination. */
  to: NetAddress;
  /** The bytes. */
  data: Uint8Array;
}

/** Membership changes, for logs and the control plane. */
export type HandshakeEvent =
  | { type: "node-joined"; network: string; id: string; addr: string }
  | {
    type: "node-left";
    network: string;
    id: string;
    addr: string;
    reason: "disconnect" | "expired" | "replaced";
  }
  | { type: "node-rebound"; network: string; id: string; from: string; addr: string };

/** Totals of the dialect, served in `/stats` (`handshake`) and `/handshake`. */
export type HandshakeStats = {
  /** When the core started, ms since the epoch. */
  startedAt: number;
  /** Milliseconds since then. */
  uptimeMs: number;
  /** Handshaken nodes. */
  nodes: number;
  /** Networks with at least one node. */
  networks: number;
  /** Datagrams received (JSON and STUN). */
  datagramsIn: number;
  /** Datagrams sent. */
  datagramsOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
  /** Valid messages received, by `message_type`. */
  messagesIn: Record<string, number>;
  /** Successful handshakes (new nodes and refreshes). */
  handshakes: number;
  /** Ids moved to a new address with their token. */
  rebinds: number;
  /** Handshakes refused because the id is bound elsewhere and no valid token came. */
  takeoversRefused: number;
  /** Our messages acknowledged. */
  acked: number;
  /** Retransmissions sent (timer or `Retransmit`). */
  retransmits: number;
  /** Our messages given up on after every retransmission. */
  unacked: number;
  /** Messages waiting for an Ack. */
  pending: number;
  /** Duplicates received (same id, or same sender and sequence number). */
  duplicates: number;
  /** `P2PConnect` introductions made. */
  introductions: number;
  /** `RelayData` messages forwarded and their data bytes. */
  relayed: number;
  /** Data bytes relayed. */
  relayedBytes: number;
  /** STUN Binding requests answered. */
  stunResponses: number;
  /** Datagrams or requests refused, by reason. */
  drops: Record<string, number>;
};

/** One node, as `/handshake/networks/:id` shows it. */
export type HandshakeNodeSummary = {
  /** The node's id. */
  id: string;
  /** Its name and version. */
  name: string;
  /** Its version. */
  version: string;
  /** Observed address, `ip:port`. */
  addr: string;
  /** Its capabilities. */
  capabilities: string[];
  /** When it handshook (ms since the epoch). */
  joinedAt: number;
  /** When it was last heard from (ms since the epoch). */
  lastSeen: number;
  /** Whether its address is proven (it acknowledged one of our messages). */
  validated: boolean;
};

/** A network and how many nodes it has. */
export interface HandshakeNetworkSummary {
  /** The `network_id`. */
  networkId: string;
  /** Nodes in it. */
  nodes: number;
}

const DEFAULTS: ResolvedHandshakeLimits = {
  networkId: undefined,
  maxConnections: 100,
  heartbeatIntervalMs: 30_000,
  connectionTimeoutMs: 60_000,
  broadcastDebounceMs: 300,
  retransmitDelaysMs: [500, 1000, 2000],
  relay: false,
  relayBytesPerSecond: 16_384,
  maxRelayBytes: 1024,
  requestsPerSecond: 5,
  maxDatagramBytes: 8192,
  maxReplyBytes: 8192,
  maxPending: 4096,
  dedupWindowMs: 30_000,
  maxDedupEntries: 8192,
  stun: false,
  serverId: "",
  serverName: "olaf-bootstrap",
  listenAddr: "",
  startedAt: 0,
};

/** The metadata key a client puts its token in to move its id to a new address. */
export const TOKEN_METADATA_KEY = "olaf_token";
/** Version the server reports in its node info. */
export const HANDSHAKE_SERVER_VERSION = "olaf-0.1.0";
/** Bytes an unvalidated address may receive per byte it sent. */
const AMPLIFICATION_FACTOR = 3;
const MAX_EVENTS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

interface Node {
  info: NodeInfo;
  addr: NetAddress;
  key: string;
  token: string;
  joinedAt: number;
  lastSeen: number;
  /** The network version of the last full list it got; a broadcast skips it when current. */
  listVersion: number;
  /** Our sequence numbers towards this node. */
  seq: number;
  /** Distinguishes handshakes from one address, so a restarted client's sequence numbers are new. */
  epoch: number;
  validated: boolean;
  /** Bytes we may still send while unvalidated. */
  budget: number;
  /** A list was cut by the budget: send a full one once validated. */
  trimmed: boolean;
  /** A list was given up on: send a fresh one when the node is next heard from. */
  stale: boolean;
  /** Id of the list on its way to it, if any. */
  listPending: string | undefined;
  requests: Bucket;
  relayBytes: Bucket;
}

interface Pending {
  id: string;
  type: MessageType;
  data: Uint8Array;
  to: NetAddress;
  key: string;
  seq: number | null;
  retries: number;
  nextAt: number;
}

interface Dedup {
  expiresAt: number;
  /** What the original got in reply; a reliable reply is resent only while unacknowledged. */
  replies: { data: Uint8Array; pendingId?: string }[];
}

interface Network {
  nodes: Set<string>;
  /** When the debounced list broadcast is due, or `undefined`. */
  broadcastAt: number | undefined;
  /** Bumped on every membership change. */
  version: number;
}

/**
 * The JSON handshake dialect, sans-IO. Feed it datagrams
 * ({@linkcode HandshakeCore.handleDatagram}) and time
 * ({@linkcode HandshakeCore.handleTimeout} once
 * {@linkcode HandshakeCore.pollTimeout} has passed); send what
 * {@linkcode HandshakeCore.pollTransmit} returns. See the README for the rules.
 *
 * @example A handshake, in memory
 * ```ts
 * import { HandshakeCore } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const core = new HandshakeCore({ networkId: "lan" });
 * const request = {
 *   id: crypto.randomUUID(), message_type: "HandshakeRequest", timestamp: 0,
 *   payload: { id: "node-1", name: "n", version: "1", listen_addr: "", capabilities: [],
 *     metadata: {}, network_id: "lan" },
 *   sender_addr: null, sequence_number: 1, requires_ack: false, ack_for: null,
 * };
 * core.handleDatagram(new TextEncoder().encode(JSON.stringify(request)),
 *   { hostname: "192.0.2.1", port: 4000 }, 1000);
 * const reply = JSON.parse(new TextDecoder().decode(core.pollTransmit()!.data));
 * assert.equal(reply.message_type, "HandshakeResponse");
 * assert.equal(reply.payload.public_addr, "192.0.2.1:4000");
 * assert.equal(core.stats(1000).nodes, 1);
 * ```
 */
export class HandshakeCore {
  /** The settings in force. */
  readonly limits: Readonly<ResolvedHandshakeLimits>;
  readonly #uuid: () => string;
  readonly #nodes = new Map<string, Node>();
  readonly #byAddr = new Map<string, Node>();
  readonly #networks = new Map<string, Network>();
  readonly #pending = new Map<string, Pending>();
  /** `${key}#${seq}` of our pending messages, for Acks that name the sequence number. */
  readonly #pendingBySeq = new Map<string, string>();
  readonly #dedup = new Map<string, Dedup>();
  readonly #transmits: HandshakeTransmit[] = [];
  #transmitHead = 0;
  readonly #events: HandshakeEvent[] = [];
  #eventHead = 0;
  #nextHeartbeat: number | undefined;
  #epochs = 0;
  /** While handling a datagram: the sender's key and what a stranger may still receive. */
  #from: string | undefined;
  #strangerBudget = 0;
  /** While handling a datagram: where its unreliable replies are recorded for duplicates. */
  #replyLog: Dedup["replies"] | undefined;
  readonly #s = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    handshakes: 0,
    rebinds: 0,
    takeoversRefused: 0,
    acked: 0,
    retransmits: 0,
    unacked: 0,
    duplicates: 0,
    introductions: 0,
    relayed: 0,
    relayedBytes: 0,
    stunResponses: 0,
  };
  readonly #messagesIn: Record<string, number> = {};
  readonly #drops: Record<string, number> = {};

  /**
   * Makes a core with no nodes.
   *
   * @param limits Settings; see {@linkcode HandshakeLimits}.
   * @throws {RangeError} For a limit out of range.
   */
  constructor(limits: HandshakeLimits = {}) {
    const resolved = { ...DEFAULTS };
    for (const [key, value] of Object.entries(limits)) {
      if (value !== undefined && key !== "randomUUID") {
        (resolved as Record<string, unknown>)[key] = value;
      }
    }
    for (
      const key of [
        "maxConnections",
        "heartbeatIntervalMs",
        "connectionTimeoutMs",
        "maxDatagramBytes",
        "maxReplyBytes",
        "maxPending",
        "dedupWindowMs",
        "maxDedupEntries",
        "relayBytesPerSecond",
        "maxRelayBytes",
        "requestsPerSecond",
      ] as const
    ) {
      const v = resolved[key];
      if (typeof v !== "number" || !(v > 0)) {
        throw new RangeError(`HandshakeCore: ${key} must be a positive number, got ${v}`);
      }
    }
    if (!(resolved.broadcastDebounceMs >= 0)) {
      throw new RangeError("HandshakeCore: broadcastDebounceMs must be >= 0");
    }
    if (
      resolved.retransmitDelaysMs.length === 0 ||
      !resolved.retransmitDelaysMs.every((d) => d > 0)
    ) {
      throw new RangeError("HandshakeCore: retransmitDelaysMs must be positive delays");
    }
    this.#uuid = limits.randomUUID ?? (() => crypto.randomUUID());
    if (resolved.serverId === "") resolved.serverId = this.#uuid();
    this.limits = resolved;
  }

  /**
   * Handles one JSON datagram. Never throws: bad input is counted in `drops`.
   *
   * @param data The datagram.
   * @param from Its source.
   * @param now Current time, ms since the epoch.
   */
  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void {
    this.#s.datagramsIn++;
    this.#s.bytesIn += data.length;
    let message: HandshakeMessage;
    try {
      message = parseMessage(data, { maxDatagramBytes: this.limits.maxDatagramBytes });
    } catch (error) {
      this.#drop(error instanceof HandshakeParseError ? error.reason : "invalid");
      return;
    }
    const key = addressKey(from);
    const node = this.#byAddr.get(key);
    this.#from = key;
    this.#strangerBudget = AMPLIFICATION_FACTOR * data.length;
    if (node) {
      node.lastSeen = now;
      if (!node.validated) {
        node.budget = Math.min(
          node.budget + AMPLIFICATION_FACTOR * data.length,
          AMPLIFICATION_FACTOR * this.limits.maxDatagramBytes * 4,
        );
      }
    }
    this.#messagesIn[message.message_type] = (this.#messagesIn[message.message_type] ?? 0) + 1;
    try {
      this.#dispatch(message, from, key, node, now);
      // Heard from again while its list was cut, blocked or given up on, and none is in
      // flight: it gets a fresh one (within its budget until its address is proven).
      if (
        node && (node.stale || node.trimmed) && node.listPending === undefined &&
        this.#byAddr.get(key) === node
      ) {
        node.stale = false;
        this.#sendList(node, now, true);
      }
    } finally {
      this.#from = undefined;
      this.#replyLog = undefined;
    }
  }

  /**
   * Handles one datagram from the STUN port: answers a Binding request with
   * its source as XOR-MAPPED-ADDRESS (RFC 8489). Never throws.
   *
   * @param data The datagram.
   * @param from Its source.
   * @returns The response to send back from the STUN socket, or `undefined`.
   */
  handleStun(data: Uint8Array, from: NetAddress): Uint8Array | undefined {
    this.#s.datagramsIn++;
    this.#s.bytesIn += data.length;
    if (!this.limits.stun) return this.#drop("stun-disabled"), undefined;
    const message = decodeStun(data);
    if (!message) return this.#drop("stun-malformed"), undefined;
    if (message.type !== STUN_BINDING_REQUEST || message.fingerprintOk === false) {
      return this.#drop("stun-unsupported"), undefined;
    }
    let response: Uint8Array;
    try {
      response = encodeBindingSuccess(message.transactionId, from);
    } catch {
      return this.#drop("stun-unsupported"), undefined;
    }
    // 32 or 44 bytes in reply to at least 20: within the amplification rule.
    if (response.length > AMPLIFICATION_FACTOR * data.length) {
      return this.#drop("amplification-limit"), undefined;
    }
    this.#s.stunResponses++;
    this.#s.datagramsOut++;
    this.#s.bytesOut += response.length;
    return response;
  }

  /**
   * Runs what is due at `now`: retransmissions, list broadcasts, heartbeats
   * and expiry.
   *
   * @param now Current time, ms since the epoch.
   */
  handleTimeout(now: number): void {
    for (const p of [...this.#pending.values()]) {
      if (p.nextAt > now) continue;
      const delays = this.limits.retransmitDelaysMs;
      if (p.retries >= delays.length) {
        this.#forget(p);
        this.#s.unacked++;
        const node = this.#byAddr.get(p.key);
        if (node && p.type === "DiscoveryResponse") node.stale = true;
        continue;
      }
      p.retries++;
      p.nextAt = now + delays[Math.min(p.retries, delays.length - 1)]!;
      this.#s.retransmits++;
      this.#transmit(p.to, p.key, p.data);
    }
    for (const [id, network] of this.#networks) {
      if (network.broadcastAt !== undefined && network.broadcastAt <= now) {
        network.broadcastAt = undefined;
        this.#broadcast(id, network, now);
      }
    }
    this.#nextHeartbeat ??= now + this.limits.heartbeatIntervalMs;
    if (this.#nextHeartbeat <= now) {
      this.#nextHeartbeat = now + this.limits.heartbeatIntervalMs;
      this.#heartbeat(now);
    }
  }

  /**
   * The next time {@linkcode HandshakeCore.handleTimeout} has work, or
   * `undefined` when nothing is scheduled.
   *
   * @returns Milliseconds since the epoch, or `undefined`.
   */
  pollTimeout(): number | undefined {
    let next = this.#nodes.size > 0 ? this.#nextHeartbeat : undefined;
    const take = (t: number) => (next = next === undefined || t < next ? t : next);
    for (const p of this.#pending.values()) take(p.nextAt);
    for (const n of this.#networks.values()) if (n.broadcastAt !== undefined) take(n.broadcastAt);
    return next;
  }

  /**
   * The next datagram to send, or `undefined`.
   *
   * @returns Destination and bytes.
   */
  pollTransmit(): HandshakeTransmit | undefined {
    if (this.#transmitHead >= this.#transmits.length) {
      if (this.#transmits.length > 0) this.#transmits.length = this.#transmitHead = 0;
      return undefined;
    }
    const t = this.#transmits[this.#transmitHead]!;
    this.#transmits[this.#transmitHead++] = undefined as unknown as HandshakeTransmit;
    return t;
  }

  /**
   * The next membership event, or `undefined`.
   *
   * @returns The event.
   */
  pollEvent(): HandshakeEvent | undefined {
    if (this.#eventHead >= this.#events.length) {
      if (this.#events.length > 0) this.#events.length = this.#eventHead = 0;
      return undefined;
    }
    const e = this.#events[this.#eventHead]!;
    this.#events[this.#eventHead++] = undefined as unknown as HandshakeEvent;
    return e;
  }

  /**
   * Current totals.
   *
   * @param now Current time, for `uptimeMs`.
   * @returns A fresh object.
   */
  stats(now: number): HandshakeStats {
    return {
      startedAt: this.limits.startedAt,
      uptimeMs: Math.max(0, now - this.limits.startedAt),
      nodes: this.#nodes.size,
      networks: this.#networks.size,
      ...this.#s,
      pending: this.#pending.size,
      messagesIn: { ...this.#messagesIn },
      drops: { ...this.#drops },
    };
  }

  /**
   * The networks with nodes, sorted by id.
   *
   * @returns One summary per network.
   */
  networks(): HandshakeNetworkSummary[] {
    return [...this.#networks].map(([networkId, n]) => ({ networkId, nodes: n.nodes.size }))
      .sort((a, b) => (a.networkId < b.networkId ? -1 : a.networkId > b.networkId ? 1 : 0));
  }

  /**
   * The nodes of one network, in join order.
   *
   * @param networkId The network.
   * @returns Its nodes, or `undefined` when it has none.
   */
  network(networkId: string): HandshakeNodeSummary[] | undefined {
    const network = this.#networks.get(networkId);
    if (!network) return undefined;
    return [...network.nodes].map((id) => {
      const n = this.#nodes.get(id)!;
      return {
        id,
        name: n.info.name,
        version: n.info.version,
        addr: n.key,
        capabilities: [...n.info.capabilities],
        joinedAt: n.joinedAt,
        lastSeen: n.lastSeen,
        validated: n.validated,
      };
    });
  }

  // ---- dispatch ----

  #dispatch(
    m: HandshakeMessage,
    from: NetAddress,
    key: string,
    node: Node | undefined,
    now: number,
  ): void {
    if (m.message_type === "Ack") return this.#onAck(m, key, node, now);
    // Dedup: by id, and by sender + sequence number within one handshake of that sender.
    // A HandshakeRequest starts a new epoch, so only its id counts.
    // Per sender: a copy from elsewhere must not be answered with the original's replies.
    const idKey = `i:${key}#${m.id}`;
    const seqKey = m.sequence_number !== null && m.message_type !== "HandshakeRequest"
      ? `s:${key}#${node?.epoch ?? 0}#${m.sequence_number}`
      : undefined;
    const seen = this.#dedup.get(idKey) ?? (seqKey ? this.#dedup.get(seqKey) : undefined);
    if (seen && seen.expiresAt > now) {
      this.#s.duplicates++;
      if (m.requires_ack) this.#ack(m, from, key, node, now);
      for (const reply of seen.replies) {
        if (reply.pendingId === undefined || this.#pending.has(reply.pendingId)) {
          this.#transmit(from, key, reply.data);
        }
      }
      return;
    }
    const entry: Dedup = { expiresAt: now + this.limits.dedupWindowMs, replies: [] };
    this.#remember(idKey, entry, now);
    if (seqKey) this.#remember(seqKey, entry, now);
    this.#replyLog = entry.replies;
    if (m.requires_ack) this.#ack(m, from, key, node, now);

    switch (m.message_type) {
      case "HandshakeRequest":
        return this.#onHandshake(m, from, key, node, now);
      case "Ping":
        return this.#send(from, key, node, "Pong", null, now);
      case "Data":
        return this.#send(from, key, node, "Data", {
          echo: m.payload,
          timestamp: Math.floor(now / 1000),
        }, now);
      case "Retransmit":
        return this.#onRetransmit(m, key);
      case "DiscoveryRequest":
      case "ListNodesRequest":
      case "Disconnect":
      case "P2PConnect":
      case "RelayRequest":
        if (!node) {
          this.#drop("not-handshaken");
          return this.#error(
            from,
            key,
            undefined,
            "not-handshaken",
            "send a HandshakeRequest first",
            m,
            now,
          );
        }
        return this.#onNodeRequest(m, node, now);
      case "Pong":
        return; // the answer to our heartbeat Ping: being heard from is all it means
      default:
        // Responses and Error are what a server sends, not what it is sent.
        this.#drop("unexpected-type");
    }
  }

  #onNodeRequest(m: HandshakeMessage, node: Node, now: number): void {
    switch (m.message_type) {
      case "DiscoveryRequest":
        return this.#sendList(node, now, false);
      case "ListNodesRequest": {
        const entries = this.#others(node).map((n) => ({ ...n.info, listen_addr: n.key }));
        const fixed = { id: this.#uuid(), seq: this.#nextSeq(node) };
        const fitted = this.#fit(
          node,
          entries,
          (list) =>
            this.#build("ListNodesResponse", { nodes: list }, node, false, now, null, fixed),
        );
        this.#transmit(node.addr, node.key, fitted, node);
        return;
      }
      case "Disconnect":
        this.#remove(node, "disconnect", now);
        return;
      case "P2PConnect":
        return this.#onP2PConnect(m, node, now);
      case "RelayRequest":
        return this.#onRelay(m, node, now);
    }
  }

  #onHandshake(
    m: HandshakeMessage,
    from: NetAddress,
    key: string,
    atAddress: Node | undefined,
    now: number,
  ): void {
    let info: NodeInfo;
    try {
      info = parseNodeInfo(m.payload);
    } catch (error) {
      this.#drop("invalid-payload");
      return this.#error(from, key, atAddress, "invalid-payload", (error as Error).message, m, now);
    }
    if (this.limits.networkId !== undefined && info.network_id !== this.limits.networkId) {
      this.#drop("network-mismatch");
      return this.#error(
        from,
        key,
        atAddress,
        "network-mismatch",
        "network_id does not match",
        m,
        now,
      );
    }
    const token = info.metadata[TOKEN_METADATA_KEY];
    const metadata = { ...info.metadata };
    delete metadata[TOKEN_METADATA_KEY];
    info = { ...info, metadata };

    let node = this.#nodes.get(info.id);
    if (node && node.key !== key) {
      if (token !== undefined && token === node.token) {
        // The rightful owner moved: rebind the id to the new address.
        if (atAddress && atAddress !== node) this.#remove(atAddress, "replaced", now);
        const fromKey = node.key;
        this.#byAddr.delete(node.key);
        // What was on its way to the old address is not retransmitted there any more.
        for (const p of [...this.#pending.values()]) if (p.key === fromKey) this.#forget(p);
        node.addr = { hostname: from.hostname, port: from.port };
        node.key = key;
        node.validated = false;
        node.budget = this.#strangerBudget;
        node.epoch = ++this.#epochs;
        this.#byAddr.set(key, node);
        this.#s.rebinds++;
        this.#event({
          type: "node-rebound",
          network: node.info.network_id,
          id: node.info.id,
          from: fromKey,
          addr: key,
        });
      } else if (now - node.lastSeen > this.limits.connectionTimeoutMs) {
        this.#remove(node, "expired", now);
        node = undefined;
      } else {
        this.#s.takeoversRefused++;
        this.#drop("takeover-refused");
        return this.#error(
          from,
          key,
          atAddress,
          "id-in-use",
          "this node id is bound to another address; send its token in metadata.olaf_token",
          m,
          now,
        );
      }
    }
    if (atAddress && atAddress !== node) {
      // The address now speaks for another id (a restarted client): the old node is gone.
      this.#remove(atAddress, "replaced", now);
    }
    if (!node) {
      if (this.#nodes.size >= this.limits.maxConnections) {
        this.#drop("max-connections");
        return this.#error(from, key, undefined, "server-full", "max_connections reached", m, now);
      }
      node = {
        info,
        addr: { hostname: from.hostname, port: from.port },
        key,
        token: this.#uuid().replaceAll("-", ""),
        joinedAt: now,
        lastSeen: now,
        listVersion: -1,
        seq: 0,
        epoch: ++this.#epochs,
        validated: false,
        budget: this.#strangerBudget,
        trimmed: false,
        stale: false,
        listPending: undefined,
        requests: { tokens: 2 * this.limits.requestsPerSecond, at: now },
        relayBytes: { tokens: 2 * this.limits.relayBytesPerSecond, at: now },
      };
      this.#nodes.set(info.id, node);
      this.#byAddr.set(key, node);
      this.#join(node, now);
    } else {
      if (node.info.network_id !== info.network_id) {
        this.#leaveNetwork(node, now);
        node.info = info;
        this.#join(node, now);
      } else {
        node.info = info;
        this.#scheduleBroadcast(info.network_id, now);
      }
      node.lastSeen = now;
    }
    // Every handshake starts a new sequence space (a restarted client counts from 1 again).
    node.epoch = ++this.#epochs;
    this.#s.handshakes++;
    this.#send(
      node.addr,
      node.key,
      node,
      "HandshakeResponse",
      {
        node_info: this.#serverInfo(info.network_id),
        success: true,
        error_message: null,
        public_addr: node.key,
        token: node.token,
      },
      now,
      true,
    );
    this.#sendList(node, now, true);
  }

  #onAck(m: HandshakeMessage, key: string, node: Node | undefined, now: number): void {
    let ref: string | number | null = m.ack_for !== null ? normaliseRef(m.ack_for) : null;
    if (ref === null) {
      const p = m.payload;
      const seq = typeof p === "object" && p !== null && !Array.isArray(p)
        ? p.sequence_number
        : undefined;
      ref = typeof seq === "number" ? seq : m.sequence_number;
    }
    const pending = this.#lookupPending(ref, key);
    if (!pending) return this.#drop("ack-unknown");
    this.#forget(pending);
    this.#s.acked++;
    if (node && !node.validated) {
      node.validated = true;
      if (node.trimmed) this.#sendList(node, now, true);
    }
  }

  #onRetransmit(m: HandshakeMessage, key: string): void {
    let ref: string | number;
    try {
      ref = parseRetransmit(m);
    } catch {
      return this.#drop("invalid-payload");
    }
    const pending = this.#lookupPending(ref, key);
    if (!pending) return this.#drop("retransmit-unknown");
    this.#s.retransmits++;
    this.#transmit(pending.to, pending.key, pending.data);
  }

  #onP2PConnect(m: HandshakeMessage, node: Node, now: number): void {
    let peerId: string;
    try {
      peerId = parseP2PConnect(m.payload);
    } catch (error) {
      this.#drop("invalid-payload");
      return this.#error(
        node.addr,
        node.key,
        node,
        "invalid-payload",
        (error as Error).message,
        m,
        now,
      );
    }
    const peer = this.#nodes.get(peerId);
    if (!peer || peer === node || peer.info.network_id !== node.info.network_id) {
      this.#drop("unknown-peer");
      return this.#error(
        node.addr,
        node.key,
        node,
        "unknown-peer",
        "no such peer in this network",
        m,
        now,
      );
    }
    if (!take(node.requests, 1, now, this.limits.requestsPerSecond)) {
      this.#drop("rate-limited");
      return this.#error(node.addr, node.key, node, "rate-limited", "too many requests", m, now);
    }
    this.#s.introductions++;
    const intro = (to: Node, other: Node) =>
      this.#send(
        to.addr,
        to.key,
        to,
        "P2PConnect",
        {
          peer_id: other.info.id,
          peer_addr: other.key,
          node_info: { ...other.info, listen_addr: other.key },
        },
        now,
        true,
      );
    intro(node, peer);
    intro(peer, node);
  }

  #onRelay(m: HandshakeMessage, node: Node, now: number): void {
    const fail = (reason: string, message: string, target: JsonValue = null) => {
      this.#drop(reason);
      this.#send(node.addr, node.key, node, "RelayResponse", {
        success: false,
        target_peer_id: target,
        error_message: message,
      }, now);
    };
    if (!this.limits.relay) return fail("relay-disabled", "relaying is off on this server");
    const payload = m.payload;
    const data = typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? payload.data
      : undefined;
    if (Array.isArray(data) && data.length > this.limits.maxRelayBytes) {
      return fail("relay-too-large", `data is limited to ${this.limits.maxRelayBytes} bytes`);
    }
    let relay: { targetPeerId: string; data: Uint8Array };
    try {
      relay = parseRelayRequest(payload, this.limits);
    } catch (error) {
      return fail("invalid-payload", (error as Error).message);
    }
    const target = this.#nodes.get(relay.targetPeerId);
    if (!target || target === node || target.info.network_id !== node.info.network_id) {
      return fail("unknown-peer", "no such peer in this network", relay.targetPeerId);
    }
    if (
      !take(node.requests, 1, now, this.limits.requestsPerSecond) ||
      !take(node.relayBytes, relay.data.length, now, this.limits.relayBytesPerSecond)
    ) {
      return fail("relay-rate-limited", "relay rate exceeded", relay.targetPeerId);
    }
    this.#s.relayed++;
    this.#s.relayedBytes += relay.data.length;
    this.#send(
      target.addr,
      target.key,
      target,
      "RelayData",
      {
        from_peer_id: node.info.id,
        data: [...relay.data],
      },
      now,
      true,
    );
    this.#send(node.addr, node.key, node, "RelayResponse", {
      success: true,
      target_peer_id: relay.targetPeerId,
      error_message: null,
    }, now);
  }

  // ---- membership ----

  #join(node: Node, now: number): void {
    const id = node.info.network_id;
    let network = this.#networks.get(id);
    if (!network) {
      network = { nodes: new Set(), broadcastAt: undefined, version: 0 };
      this.#networks.set(id, network);
    }
    network.nodes.add(node.info.id);
    this.#nextHeartbeat ??= now + this.limits.heartbeatIntervalMs;
    this.#event({ type: "node-joined", network: id, id: node.info.id, addr: node.key });
    this.#scheduleBroadcast(id, now);
  }

  #leaveNetwork(node: Node, now: number): void {
    const id = node.info.network_id;
    const network = this.#networks.get(id);
    if (!network) return;
    network.nodes.delete(node.info.id);
    if (network.nodes.size === 0) this.#networks.delete(id);
    else this.#scheduleBroadcast(id, now);
  }

  #remove(node: Node, reason: "disconnect" | "expired" | "replaced", now: number): void {
    if (this.#nodes.get(node.info.id) !== node) return;
    this.#nodes.delete(node.info.id);
    this.#byAddr.delete(node.key);
    this.#leaveNetwork(node, now);
    // Nothing more will reach it: stop retransmitting to it.
    for (const p of [...this.#pending.values()]) if (p.key === node.key) this.#forget(p);
    this.#event({
      type: "node-left",
      network: node.info.network_id,
      id: node.info.id,
      addr: node.key,
      reason,
    });
  }

  #scheduleBroadcast(networkId: string, now: number): void {
    const network = this.#networks.get(networkId);
    if (!network) return;
    network.version++;
    network.broadcastAt ??= now + this.limits.broadcastDebounceMs;
  }

  #broadcast(_id: string, network: Network, now: number): void {
    for (const id of network.nodes) {
      const node = this.#nodes.get(id)!;
      // A node that got a full list after the change already knows it.
      if (node.listVersion === network.version) continue;
      this.#sendList(node, now, true);
    }
  }

  #heartbeat(now: number): void {
    for (const node of [...this.#nodes.values()]) {
      if (now - node.lastSeen > this.limits.connectionTimeoutMs) {
        this.#remove(node, "expired", now);
      } else if (now - node.lastSeen >= this.limits.heartbeatIntervalMs) {
        this.#send(node.addr, node.key, node, "Ping", null, now);
      }
    }
  }

  #others(node: Node): Node[] {
    const network = this.#networks.get(node.info.network_id);
    const out: Node[] = [];
    for (const id of network?.nodes ?? []) if (id !== node.info.id) out.push(this.#nodes.get(id)!);
    return out;
  }

  #sendList(node: Node, now: number, reliable: boolean): void {
    const entries = this.#others(node).map((n) => ({
      id: n.info.id,
      addr: n.key,
      last_seen: Math.floor(n.lastSeen / 1000),
      capabilities: n.info.capabilities,
    }));
    let cut = false;
    const fixed = { id: this.#uuid(), seq: this.#nextSeq(node) };
    const data = this.#fit(node, entries, (list) => {
      cut = list.length < entries.length;
      return this.#build("DiscoveryResponse", list, node, reliable, now, null, fixed);
    });
    const message = this.#lastBuilt!;
    const sent = this.#transmit(node.addr, node.key, data, node);
    // A list the budget cut or blocked is sent again in full once the address is proven.
    node.trimmed = (cut || !sent) && !node.validated;
    if (sent && !cut) node.listVersion = this.#networks.get(node.info.network_id)?.version ?? -1;
    if (sent && reliable && this.#track(message, data, node, now)) node.listPending = message.id;
    if (sent && node.key === this.#from) {
      this.#replyLog?.push({ data, pendingId: reliable ? message.id : undefined });
    }
  }

  // ---- sending ----

  #lastBuilt: HandshakeMessage | undefined;

  #build(
    type: MessageType,
    payload: JsonValue,
    node: Node | undefined,
    requiresAck: boolean,
    now: number,
    ackFor: string | number | null = null,
    fixed?: { id: string; seq: number | null },
  ): Uint8Array {
    const message: HandshakeMessage = {
      id: fixed?.id ?? this.#uuid(),
      message_type: type,
      timestamp: Math.floor(now / 1000),
      payload,
      // Our own address is in node_info; repeating it in every envelope only costs bytes.
      sender_addr: null,
      sequence_number: fixed ? fixed.seq : node ? this.#nextSeq(node) : null,
      requires_ack: requiresAck,
      ack_for: ackFor,
    };
    this.#lastBuilt = message;
    return serializeMessage(message);
  }

  #nextSeq(node: Node): number {
    return node.seq = (node.seq + 1) >>> 0;
  }

  /** Cuts a list so its message fits `maxReplyBytes` and the node's amplification budget. */
  #fit(node: Node, entries: JsonValue[], build: (list: JsonValue[]) => Uint8Array): Uint8Array {
    const limit = Math.min(this.limits.maxReplyBytes, node.validated ? Infinity : node.budget);
    let lo = 0;
    let hi = entries.length;
    let data = build(entries);
    if (data.length <= limit) return data;
    // Binary search the longest prefix that fits (sizes grow with the prefix).
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (build(entries.slice(0, mid)).length <= limit) lo = mid;
      else hi = mid - 1;
    }
    this.#drop(node.validated ? "list-cut" : "amplification-trimmed");
    data = build(entries.slice(0, lo));
    return data;
  }

  #send(
    to: NetAddress,
    key: string,
    node: Node | undefined,
    type: MessageType,
    payload: JsonValue,
    now: number,
    reliable = false,
  ): void {
    const data = this.#build(type, payload, node, reliable, now);
    const message = this.#lastBuilt!;
    if (!this.#transmit(to, key, data, node)) return;
    if (reliable) this.#track(message, data, node!, now);
    if (key === this.#from) {
      this.#replyLog?.push({ data, pendingId: reliable ? message.id : undefined });
    }
  }

  #ack(
    m: HandshakeMessage,
    to: NetAddress,
    key: string,
    node: Node | undefined,
    now: number,
  ): void {
    const data = this.#build("Ack", null, undefined, false, now, m.id);
    this.#transmit(to, key, data, node);
  }

  #error(
    to: NetAddress,
    key: string,
    node: Node | undefined,
    code: string,
    message: string,
    request: HandshakeMessage,
    now: number,
  ): void {
    this.#send(to, key, node, "Error", { code, message, request_id: request.id }, now);
  }

  /** Queues a datagram unless it breaks the amplification rule. */
  #transmit(to: NetAddress, key: string, data: Uint8Array, node = this.#byAddr.get(key)): boolean {
    if (!node || !node.validated) {
      const budget = node ? node.budget : key === this.#from ? this.#strangerBudget : 0;
      if (data.length > budget) {
        this.#drop("amplification-limit");
        return false;
      }
      if (node) node.budget -= data.length;
      else this.#strangerBudget -= data.length;
    }
    this.#transmits.push({ to, data });
    this.#s.datagramsOut++;
    this.#s.bytesOut += data.length;
    return true;
  }

  #track(message: HandshakeMessage, data: Uint8Array, node: Node, now: number): boolean {
    if (this.#pending.size >= this.limits.maxPending) {
      this.#drop("pending-full");
      return false;
    }
    const p: Pending = {
      id: message.id,
      type: message.message_type,
      data,
      to: node.addr,
      key: node.key,
      seq: message.sequence_number,
      retries: 0,
      nextAt: now + this.limits.retransmitDelaysMs[0]!,
    };
    this.#pending.set(p.id, p);
    if (p.seq !== null) this.#pendingBySeq.set(`${p.key}#${p.seq}`, p.id);
    return true;
  }

  #lookupPending(ref: string | number | null, key: string): Pending | undefined {
    if (ref === null) return undefined;
    const id = typeof ref === "number" ? this.#pendingBySeq.get(`${key}#${ref}`) : ref;
    const p = id === undefined ? undefined : this.#pending.get(id);
    // Only the destination may acknowledge or ask again: nobody else saw the message.
    return p && p.key === key ? p : undefined;
  }

  #forget(p: Pending): void {
    this.#pending.delete(p.id);
    const node = this.#byAddr.get(p.key);
    if (node?.listPending === p.id) node.listPending = undefined;
    if (p.seq !== null) this.#pendingBySeq.delete(`${p.key}#${p.seq}`);
  }

  #remember(key: string, entry: Dedup, now: number): void {
    // Entries are added in time order, so the oldest are first.
    for (const [k, e] of this.#dedup) {
      if (e.expiresAt > now && this.#dedup.size < this.limits.maxDedupEntries) break;
      this.#dedup.delete(k);
    }
    this.#dedup.delete(key);
    this.#dedup.set(key, entry);
  }

  #serverInfo(networkId: string): NodeInfo {
    const capabilities = ["discovery", "list-nodes", "ping", "data-echo", "p2p-connect", "ack"];
    if (this.limits.relay) capabilities.push("relay");
    if (this.limits.stun) capabilities.push("stun");
    return {
      id: this.limits.serverId,
      name: this.limits.serverName,
      version: HANDSHAKE_SERVER_VERSION,
      listen_addr: this.limits.listenAddr,
      capabilities,
      metadata: {},
      network_id: networkId,
    };
  }

  #event(event: HandshakeEvent): void {
    if (this.#events.length - this.#eventHead >= MAX_EVENTS) return this.#drop("events-overflow");
    this.#events.push(event);
  }

  #drop(reason: string): void {
    this.#drops[reason] = (this.#drops[reason] ?? 0) + 1;
  }
}

/**
 * `ip:port` of an address, IPv6 in brackets: how the dialect writes addresses.
 *
 * @param address The address.
 * @returns Its text form.
 *
 * @example
 * ```ts
 * import { addressKey } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(addressKey({ hostname: "::1", port: 5 }), "[::1]:5");
 * ```
 */
export function addressKey(address: NetAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

function take(bucket: Bucket, cost: number, now: number, rate: number): boolean {
  bucket.tokens = Math.min(2 * rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
  bucket.at = now;
  if (bucket.tokens < cost) return false;
  bucket.tokens -= cost;
  return true;
}

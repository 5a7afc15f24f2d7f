/**
 * The sans-IO state machine of one peer in one room: datagrams and time go in,
 * datagrams, events and the next timer come out. No sockets, no clocks.
 *
 * @module
 */
import {
  BYE,
  decode,
  encode,
  isBye,
  isIPv4,
  type Message,
  type PeerList,
  type PeerRecord,
  peersThatFit,
  ProtocolError,
  V1_RECEIVE_BUFFER_BYTES,
} from "@olaf/protocol";
import { Fifo, type NetAddress, type Transmit } from "@olaf/protocol/sans-io";

export type { Transmit } from "@olaf/protocol/sans-io";
import { addressKey, normaliseHostname, rendezvousOrder } from "./_util.ts";

/** Why a member left: it said `bye`, or it was not heard from for the peer timeout. */
export type PeerLeftReason = "bye" | "timeout";

/**
 * What went wrong:
 * - `room-full`: the bootstrap refused the room (`ROOM_FULL`); it has no room for a new room.
 * - `bootstrap-unreachable`: the bootstrap in use did not answer several requests
 *   in a row; the peer moves on to the next one in the list (if there is one).
 */
export type PeerErrorCode = "room-full" | "bootstrap-unreachable";

/**
 * Something the application should hear about. Peers are v1 records
 * (`{ ip, port, id }`); an `id` of 0 means "not known yet" (a deployed v1 peer
 * that was heard from directly before anyone told us its id).
 */
export type PeerEvent =
  | {
    /** The first `BOOTSTRAP_R` arrived: we are in the room and know our public record. */
    readonly type: "joined";
    /** Our own record as the bootstrap sees us. */
    readonly self: PeerRecord;
  }
  | {
    /** A member was heard from directly for the first time (or again after leaving). */
    readonly type: "peer-joined";
    /** The member. */
    readonly peer: PeerRecord;
  }
  | {
    /** A member left. */
    readonly type: "peer-left";
    /** The member. */
    readonly peer: PeerRecord;
    /** `bye` (it said so) or `timeout` (silent for the peer timeout). */
    readonly reason: PeerLeftReason;
  }
  | {
    /** Application bytes from a peer (`APP_R`). */
    readonly type: "message";
    /** The sender. */
    readonly from: PeerRecord;
    /** The payload (a copy, owned by the receiver). */
    readonly data: Uint8Array;
  }
  | {
    /** A problem the application may want to show. The machine keeps running. */
    readonly type: "error";
    /** Machine-readable cause. */
    readonly code: PeerErrorCode;
    /** Human-readable description. */
    readonly message: string;
  };

/** Options of a {@linkcode PeerMachine}. */
export interface PeerMachineOptions {
  /** Room name (UTF-8, at most 1000 bytes). */
  room: string;
  /** Bootstrap addresses: IPv4 text and port. At least one. */
  bootstraps: readonly NetAddress[];
  /** Heartbeat interval in ms, default 3000 (the deployed value). */
  heartbeatMs?: number;
  /** A member not heard from directly for this long is dropped, default 15000. */
  peerTimeoutMs?: number;
  /** Unanswered bootstrap requests in a row before moving to the next bootstrap, default 3. */
  bootstrapMisses?: number;
  /** After this long on a fallback bootstrap, try the preferred one again, default 60000. */
  bootstrapRetryMs?: number;
  /**
   * Largest datagram this peer sends with a peer list, default 1024 (what
   * deployed peers can read). Lists longer than fits are sent in rotating windows.
   */
  datagramBudget?: number;
  /**
   * Most members named in one heartbeat `PING` (besides ourselves), default 20.
   * Each member gets a different window, rotating every heartbeat, so the
   * whole list still spreads within a heartbeat; newcomers get the full list
   * (up to the budget) in the immediate answer to their first ping.
   */
  gossipSize?: number;
  /** Most members plus candidates kept, default 1000. */
  maxPeers?: number;
  /** Time of creation; the first `JOIN_B` is due at once. Default 0. */
  now?: number;
}

/** Counters of one machine's traffic. */
export interface PeerMachineStats {
  /** Datagrams handed to {@linkcode PeerMachine.handleDatagram}. */
  datagramsIn: number;
  /** Datagrams produced by {@linkcode PeerMachine.pollTransmit}. */
  datagramsOut: number;
  /** Bytes in. */
  bytesIn: number;
  /** Bytes out. */
  bytesOut: number;
  /** Dropped datagrams by reason (codec reasons, `unexpected-sender`, `unknown-type`, ...). */
  drops: Record<string, number>;
}

interface Member {
  readonly key: string;
  readonly address: NetAddress;
  id: number; // 0 = not known yet
  lastSeen: number;
  /** It puts its own record first in its lists, as Olaf peers do (deployed peers do not). */
  olaf: boolean;
}

interface Candidate {
  readonly address: NetAddress;
  id: number;
  readonly addedAt: number;
}

/** Full-list answers to unknown senders per heartbeat (bounds reflection by spoofed pings). */
const WELCOMES_PER_HEARTBEAT = 64;

/** Answers to members' pings that did not name us, per heartbeat (same reason). */
const ANSWERS_PER_HEARTBEAT = 64;

/** `JOIN_B` retry interval before the first answer (then the heartbeat takes over). */
const JOIN_RETRY_MS = 1000;

/** Candidates are pinged again this often (not just every heartbeat) until they answer. */
const CANDIDATE_RETRY_MS = 1000;

const EMPTY = new Uint8Array();

/** The collector re-joins at least this often: deployed bootstraps forget rooms idle for 15 s. */
const JOIN_REFRESH_MS = 10_000;

/** Largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

/**
 * One peer in one room, as a pure state machine (the v1 peer of the spec,
 * with the deployed defects fixed):
 *
 * - **Liveness** comes only from direct evidence: any datagram from a
 *   member's ip:port refreshes it; being named in someone's list does not.
 * - **Membership**: anyone we hear from directly (`PING` or `APP_R`) becomes
 *   a member at once. Peers we only hear *about* (bootstrap reply, gossip)
 *   are *candidates*: we ping them at once and every second, and they turn
 *   into members when they answer. Crashed peers that deployed peers keep
 *   gossiping therefore never come back, and ghosts never show up as members.
 *   A peer that hears from an unknown sender pings it back at once with its
 *   list, so a newcomer learns the whole room in about two round trips.
 * - **Repair**: our pings name their destination when it is our member, so
 *   an Olaf peer whose ping to us does not name us has not counted us yet (a
 *   datagram was lost): we answer at once with a small ping naming it. With
 *   the one-second candidate pings, a lost datagram costs about a second,
 *   not a heartbeat.
 * - **Ids**: our `PING` and `APP_R` lists carry our own record, so receivers
 *   learn a sender's id from its first datagram. (Deployed peers add listed
 *   peers, so this also makes them add us without waiting for the
 *   collector.) The id of a deployed peer heard from directly is taken from
 *   the bootstrap reply or gossip; until then it is 0 ("unknown") and the
 *   peer does not take part in the collector election nor in our gossip.
 * - **Collector**: the Olaf member with the lowest id (ties: lowest ip:port;
 *   Olaf peers are recognised by their own record first in their lists;
 *   deployed peers are left out because their collector duty does not keep a
 *   room alive, see defect 2) sends
 *   `PEER_COLLECTOR` every heartbeat with the live member report (itself
 *   first), which keeps the room alive at an Olaf bootstrap and recreates it
 *   if it was forgotten. If a request goes unanswered, or the reply does not
 *   list the collector, it re-joins with `JOIN_B` + own record (recreates the
 *   room at a deployed bootstrap too, keeping the id); it also sends that
 *   instead of the report every ~10 s, because a deployed bootstrap only
 *   counts `JOIN_B` as room activity.
 * - **Failover**: bootstraps are ranked by rendezvous hashing of the room
 *   name, so every member prefers the same one; after `bootstrapMisses`
 *   unanswered requests in a row the peer moves to the next, and after
 *   `bootstrapRetryMs` on a fallback it tries the preferred one again. Until
 *   the first answer, `JOIN_B` is retried every second rather than every
 *   heartbeat, so a dead bootstrap costs a joining peer ~3 s.
 * - **Budget**: every datagram with a peer list fits `datagramBudget` (1024).
 *   Heartbeat pings name at most `gossipSize` (20) members, in windows that
 *   differ per destination and rotate every heartbeat (a 200-member room
 *   costs ~230-byte pings instead of 1 KB ones); answers to newcomers carry
 *   as many as fit.
 *
 * @example Two peers and a bootstrap, driven by hand
 * ```ts
 * import { PeerMachine } from "@olaf/peer";
 * import { decode, encode } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 *
 * const bootstrap = { hostname: "10.0.0.1", port: 5000 };
 * const alice = new PeerMachine({ room: "lobby", bootstraps: [bootstrap] });
 * alice.handleTimeout(0); // heartbeat due at once: alone, so JOIN_B
 * const join = alice.pollTransmit()!;
 * assert.equal(decode(join.data).type, "JOIN_B");
 *
 * const aliceRecord = { ip: "10.0.0.2", port: 4000, id: 1 };
 * const bobRecord = { ip: "10.0.0.3", port: 4000, id: 2 };
 * alice.handleDatagram(
 *   encode({ type: "BOOTSTRAP_R", peers: [aliceRecord, bobRecord], self: aliceRecord }),
 *   bootstrap,
 *   10,
 * );
 * assert.deepEqual(alice.pollEvent(), { type: "joined", self: aliceRecord });
 * // Bob is a candidate until he answers: Alice pings him at once.
 * const ping = alice.pollTransmit()!;
 * assert.deepEqual(ping.to, { hostname: "10.0.0.3", port: 4000 });
 * alice.handleDatagram(
 *   encode({ type: "PING", peers: [bobRecord], payload: new Uint8Array() }),
 *   { hostname: "10.0.0.3", port: 4000 },
 *   20,
 * );
 * assert.deepEqual(alice.pollEvent(), { type: "peer-joined", peer: bobRecord });
 * assert.deepEqual(alice.peers, [bobRecord]);
 * ```
 */
export class PeerMachine {
  readonly #room: string;
  readonly #roomBytes: number;
  readonly #bootstraps: NetAddress[];
  readonly #bootstrapKeys: Set<string>;
  readonly #heartbeatMs: number;
  readonly #peerTimeoutMs: number;
  readonly #bootstrapMisses: number;
  readonly #bootstrapRetryMs: number;
  readonly #budget: number;
  readonly #gossipSize: number;
  readonly #maxPeers: number;

  #self: PeerRecord | undefined;
  #selfKey = "";
  #members = new Map<string, Member>();
  #candidates = new Map<string, Candidate>();
  /** Peers that left or timed out -> last time gossip named them; gossip cannot bring them back. */
  #tombstones = new Map<string, number>();

  #transmits = new Fifo<Transmit>();
  #events = new Fifo<PeerEvent>();
  #nextHeartbeat: number;
  #nextCandidateRetry = 0;
  #left = false;
  #heartbeats = 0;
  #pingCache: Uint8Array | undefined;
  #smallPing: Uint8Array | undefined;
  #welcomesLeft = WELCOMES_PER_HEARTBEAT;
  #answersLeft = ANSWERS_PER_HEARTBEAT;

  #bootstrapIndex = 0;
  #fallbackSince = 0;
  #awaitingReply = false;
  #misses = 0;
  #rejoinNeeded = false;
  #collectorRounds = 1;
  readonly #joinRefreshRounds: number;
  #roomFullReported = false;
  #unreachableReported = false;

  /** Traffic counters. */
  readonly stats: PeerMachineStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: {},
  };

  /**
   * Creates the machine; its first heartbeat (a `JOIN_B`) is due at `options.now`.
   *
   * @param options Room, bootstraps and timing.
   * @throws {RangeError} Without bootstraps, with a non-IPv4 bootstrap, a room name over
   *   1000 bytes or with a lone surrogate, or bad timings (not positive, or a peer timeout not longer than the heartbeat).
   */
  constructor(options: PeerMachineOptions) {
    this.#room = options.room;
    // Checked here: the codec would refuse such a name later, inside a timer.
    if (!options.room.isWellFormed()) {
      throw new RangeError("room name is not valid Unicode (it has a lone surrogate)");
    }
    this.#roomBytes = new TextEncoder().encode(options.room).length;
    if (this.#roomBytes > 1000) throw new RangeError("room name is over 1000 UTF-8 bytes");
    if (options.bootstraps.length === 0) throw new RangeError("at least one bootstrap is needed");
    for (const b of options.bootstraps) {
      if (!isIPv4(b.hostname)) {
        throw new RangeError(`bootstrap address must be IPv4 text, got ${b.hostname}`);
      }
    }
    this.#bootstraps = rendezvousOrder(options.room, options.bootstraps);
    this.#bootstrapKeys = new Set(this.#bootstraps.map((b) => addressKey(b.hostname, b.port)));
    this.#heartbeatMs = positive("heartbeatMs", options.heartbeatMs ?? 3000);
    this.#peerTimeoutMs = positive("peerTimeoutMs", options.peerTimeoutMs ?? 15_000);
    if (this.#peerTimeoutMs <= this.#heartbeatMs) {
      // Members ping once a heartbeat: a shorter timeout would drop live members every round.
      throw new RangeError(
        `peerTimeoutMs (${this.#peerTimeoutMs}) must be longer than heartbeatMs (${this.#heartbeatMs})`,
      );
    }
    this.#bootstrapMisses = positive("bootstrapMisses", options.bootstrapMisses ?? 3);
    this.#bootstrapRetryMs = positive("bootstrapRetryMs", options.bootstrapRetryMs ?? 60_000);
    this.#budget = options.datagramBudget ?? V1_RECEIVE_BUFFER_BYTES;
    if (peersThatFit(this.#budget, { type: "PEER_COLLECTOR", payloadBytes: this.#roomBytes }) < 1) {
      throw new RangeError(`datagramBudget ${this.#budget} cannot carry a single peer record`);
    }
    this.#maxPeers = positive("maxPeers", options.maxPeers ?? 1000);
    this.#gossipSize = positive("gossipSize", options.gossipSize ?? 20);
    this.#joinRefreshRounds = Math.max(1, Math.floor(JOIN_REFRESH_MS / this.#heartbeatMs));
    this.#nextHeartbeat = options.now ?? 0;
  }

  /** The room name. */
  get room(): string {
    return this.#room;
  }

  /** Our own record as the bootstrap sees us, once joined. */
  get self(): PeerRecord | undefined {
    return this.#self;
  }

  /** Whether the first `BOOTSTRAP_R` has arrived. */
  get joined(): boolean {
    return this.#self !== undefined;
  }

  /** Whether {@linkcode PeerMachine.leave} was called. */
  get left(): boolean {
    return this.#left;
  }

  /** Current members (heard from directly, not timed out), oldest id first. */
  get peers(): PeerRecord[] {
    return [...this.#members.values()].sort(byId).map(record);
  }

  /** The bootstrap currently in use (the preferred one unless it stopped answering). */
  get bootstrap(): NetAddress {
    return this.#bootstraps[this.#bootstrapIndex]!;
  }

  /** Whether this peer currently holds the collector duty (lowest id among members). */
  get isCollector(): boolean {
    const self = this.#self;
    if (self === undefined || this.#members.size === 0) return false;
    for (const m of this.#members.values()) {
      // Only Olaf members count: a deployed collector sends an empty PEER_COLLECTOR,
      // which a deployed bootstrap does not even count as activity (defect 2).
      if (!m.olaf || m.id === 0) continue;
      if (m.id < self.id || (m.id === self.id && m.key < this.#selfKey)) return false;
    }
    return true;
  }

  /**
   * Feeds one received datagram. Never throws: malformed or unexpected
   * datagrams are counted in {@linkcode PeerMachine.stats} and dropped.
   *
   * @param data The datagram.
   * @param from Its source address.
   * @param now Current time in ms.
   */
  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void {
    if (this.#left) return;
    this.stats.datagramsIn++;
    this.stats.bytesIn += data.length;
    const hostname = normaliseHostname(from.hostname);
    if (!isIPv4(hostname)) return this.#drop("non-ipv4-source");
    let message: Message;
    try {
      message = decode(data);
    } catch (error) {
      if (error instanceof ProtocolError) return this.#drop(error.reason);
      throw error;
    }
    const key = addressKey(hostname, from.port);
    if (this.#bootstrapKeys.has(key)) return this.#fromBootstrap(message, key, now);
    if (key === this.#selfKey) return this.#drop("own-address");
    switch (message.type) {
      case "PING": {
        if (isBye(message.payload)) return this.#bye(key, now);
        const stranger = !this.#members.has(key) && !this.#candidates.has(key);
        const member = this.#heardFrom(key, hostname, from.port, message.peers, now);
        // Olaf pings name their destination when it is a member of the sender: one that does
        // not name us says a datagram between us was lost. Tell the sender now, not at our
        // next heartbeat (a stranger already got our whole list from #heardFrom).
        if (member?.olaf && !stranger && !this.#namesSelf(message.peers)) this.#answer(member);
        return;
      }
      case "APP_R": {
        const member = this.#heardFrom(key, hostname, from.port, message.peers, now);
        if (member !== undefined) {
          this.#events.push({
            type: "message",
            from: record(member),
            data: message.payload.slice(),
          });
        }
        return;
      }
      case "EXTENSION":
        return this.#drop("unknown-type");
      default:
        return this.#drop("unexpected-sender");
    }
  }

  /**
   * Runs whatever is due at `now`: the heartbeat, or pinging candidates
   * again. Call it when the time from {@linkcode PeerMachine.pollTimeout}
   * has come; early calls do nothing.
   *
   * @param now Current time in ms.
   */
  handleTimeout(now: number): void {
    if (this.#left) return;
    if (now >= this.#nextHeartbeat) {
      // Until the first BOOTSTRAP_R, retry (and fail over) faster than the heartbeat.
      this.#nextHeartbeat = now +
        (this.#self === undefined ? Math.min(this.#heartbeatMs, JOIN_RETRY_MS) : this.#heartbeatMs);
      this.#nextCandidateRetry = now + CANDIDATE_RETRY_MS;
      this.#heartbeat(now); // pings the candidates too
    } else if (this.#candidates.size > 0 && now >= this.#nextCandidateRetry) {
      this.#nextCandidateRetry = now + CANDIDATE_RETRY_MS;
      for (const c of this.#candidates.values()) this.#pingNow(c.address);
    }
  }

  /**
   * The next datagram to send, or `undefined` when there is none.
   *
   * @returns A datagram and its destination.
   */
  pollTransmit(): Transmit | undefined {
    const t = this.#transmits.shift();
    if (t !== undefined) {
      this.stats.datagramsOut++;
      this.stats.bytesOut += t.data.length;
    }
    return t;
  }

  /**
   * The next event for the application, or `undefined` when there is none.
   *
   * @returns An event.
   */
  pollEvent(): PeerEvent | undefined {
    return this.#events.shift();
  }

  /**
   * When {@linkcode PeerMachine.handleTimeout} is next due (ms, same clock as
   * `now`), or `undefined` after leaving.
   *
   * @returns A time, possibly in the past (then it is due at once).
   */
  pollTimeout(): number | undefined {
    if (this.#left) return undefined;
    return this.#candidates.size > 0
      ? Math.min(this.#nextHeartbeat, this.#nextCandidateRetry)
      : this.#nextHeartbeat;
  }

  /**
   * Queues `payload` as an `APP_R` to every current member, and to the peers
   * the bootstrap or gossip listed that have not answered yet. Right after
   * joining, those are the whole room: a message sent then still reaches it
   * (a receiver makes the sender a member on the spot).
   *
   * @param payload Application bytes (up to 1007 bytes reach deployed v1 peers).
   * @returns How many peers it was sent to.
   * @throws {RangeError} When the payload does not fit a UDP datagram, or after leaving.
   */
  send(payload: Uint8Array): number {
    return this.#toEveryone(this.#appDatagram(payload));
  }

  /**
   * Queues `payload` as an `APP_R` to one peer (usually a member).
   *
   * @param peer The peer's ip and port.
   * @param payload Application bytes.
   * @throws {RangeError} When the payload does not fit a UDP datagram, or after leaving.
   */
  sendTo(peer: { readonly ip: string; readonly port: number }, payload: Uint8Array): void {
    if (!isIPv4(peer.ip)) throw new RangeError(`peer address must be IPv4 text, got ${peer.ip}`);
    const data = this.#appDatagram(payload);
    this.#transmits.push({ data, to: { hostname: peer.ip, port: peer.port } });
  }

  /**
   * Leaves the room: queues a `bye` `PING` to every member and candidate, then
   * stops (no more timers, incoming datagrams are ignored). Idempotent.
   */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#toEveryone(encode({ type: "PING", peers: [], payload: BYE }));
    this.#members.clear();
    this.#candidates.clear();
    this.#tombstones.clear();
  }

  // --- incoming ---------------------------------------------------------------

  #drop(reason: string): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
  }

  #fromBootstrap(message: Message, key: string, now: number): void {
    const current = this.bootstrap;
    if (key === addressKey(current.hostname, current.port)) {
      this.#awaitingReply = false;
      this.#misses = 0;
      this.#unreachableReported = false;
    }
    if (message.type === "ROOM_FULL") {
      if (!this.#roomFullReported) {
        this.#roomFullReported = true;
        this.#events.push({
          type: "error",
          code: "room-full",
          message: `bootstrap ${key} refused room ${JSON.stringify(this.#room)}: ROOM_FULL ` +
            "(it is at its room or member limit)",
        });
      }
      return;
    }
    if (message.type !== "BOOTSTRAP_R") return this.#drop("unexpected-from-bootstrap");
    this.#roomFullReported = false;
    const reported = message.self;
    if (reported.port !== 0 && reported.ip !== "0.0.0.0") {
      const first = this.#self === undefined;
      if (
        first || reported.id !== this.#self!.id || reported.ip !== this.#self!.ip ||
        reported.port !== this.#self!.port
      ) {
        this.#setSelf(reported);
      }
      if (first) {
        this.#events.push({ type: "joined", self: reported });
        for (const m of this.#members.values()) {
          this.#events.push({ type: "peer-joined", peer: record(m) });
        }
      }
    } else if (this.#self !== undefined) {
      this.#rejoinNeeded = true; // the bootstrap does not know us: the room was forgotten
    }
    if (this.#self !== undefined && message.peers.indexOf(this.#self.ip, this.#self.port) < 0) {
      this.#rejoinNeeded = true; // the room lost us (e.g. it expired meanwhile)
    }
    this.#learn(message.peers, undefined, now);
  }

  #setSelf(self: PeerRecord): void {
    const oldKey = this.#selfKey;
    this.#self = { ip: self.ip, port: self.port, id: self.id };
    this.#selfKey = addressKey(self.ip, self.port);
    this.#pingCache = undefined;
    this.#smallPing = undefined;
    if (oldKey !== this.#selfKey) {
      this.#members.delete(this.#selfKey);
      this.#candidates.delete(this.#selfKey);
    }
  }

  #bye(key: string, now: number): void {
    const member = this.#members.get(key);
    this.#candidates.delete(key);
    if (member === undefined) return;
    this.#members.delete(key);
    this.#pingCache = undefined;
    this.#tombstones.set(key, now); // late gossip about it must not bring it back
    this.#events.push({ type: "peer-left", peer: record(member), reason: "bye" });
  }

  /** Direct evidence from `key`: refresh or add the member, then learn its list. */
  #heardFrom(
    key: string,
    ip: string,
    port: number,
    peers: PeerList,
    now: number,
  ): Member | undefined {
    let member = this.#members.get(key);
    const claimedId = ownId(peers, ip, port);
    const olaf = peers.length > 0 && peers.portAt(0) === port && peers.ipAt(0) === ip;
    if (member !== undefined) {
      member.lastSeen = now;
      if (olaf) member.olaf = true;
      if (claimedId !== 0 && claimedId !== member.id) {
        member.id = claimedId;
        this.#pingCache = undefined;
      }
    } else {
      const candidate = this.#candidates.get(key);
      if (candidate === undefined && this.#members.size >= this.#maxPeers) {
        this.#drop("peer-limit");
        return undefined;
      }
      this.#candidates.delete(key);
      this.#tombstones.delete(key);
      member = {
        key,
        address: candidate?.address ?? { hostname: ip, port },
        id: claimedId || candidate?.id || 0,
        lastSeen: now,
        olaf,
      };
      this.#members.set(key, member);
      this.#pingCache = undefined;
      if (this.#self !== undefined) {
        this.#events.push({ type: "peer-joined", peer: record(member) });
      }
      // A sender we had not pinged yet may not know us: answer at once with our list.
      if (candidate === undefined) this.#welcome(member.address);
    }
    this.#learn(peers, key, now);
    return member;
  }

  /** Gossip or bootstrap list: fill in unknown ids, add unknown peers as candidates. */
  #learn(peers: PeerList, senderKey: string | undefined, now: number): void {
    for (let i = 0; i < peers.length; i++) {
      const port = peers.portAt(i);
      const ip = peers.ipAt(i);
      if (port === 0 || ip === "0.0.0.0") continue;
      const key = addressKey(ip, port);
      if (key === senderKey || key === this.#selfKey || this.#bootstrapKeys.has(key)) continue;
      const id = peers.idAt(i);
      const member = this.#members.get(key);
      if (member !== undefined) {
        if (member.id === 0 && id !== 0) {
          member.id = id;
          this.#pingCache = undefined;
        }
        continue;
      }
      const candidate = this.#candidates.get(key);
      if (candidate !== undefined) {
        if (candidate.id === 0) candidate.id = id;
        continue;
      }
      if (this.#tombstones.has(key)) {
        this.#tombstones.set(key, now);
        continue;
      }
      if (this.#members.size + this.#candidates.size >= this.#maxPeers) {
        this.#drop("peer-limit");
        return;
      }
      const address = { hostname: ip, port };
      if (this.#candidates.size === 0) this.#nextCandidateRetry = now + CANDIDATE_RETRY_MS;
      this.#candidates.set(key, { address, id, addedAt: now });
      this.#pingNow(address);
    }
  }

  // --- outgoing ---------------------------------------------------------------

  #heartbeat(now: number): void {
    this.#heartbeats++;
    this.#welcomesLeft = WELCOMES_PER_HEARTBEAT;
    this.#answersLeft = ANSWERS_PER_HEARTBEAT;
    const timeout = this.#peerTimeoutMs;
    for (const [key, m] of this.#members) {
      if (now - m.lastSeen >= timeout) {
        this.#members.delete(key);
        this.#pingCache = undefined;
        this.#tombstones.set(key, now);
        this.#events.push({ type: "peer-left", peer: record(m), reason: "timeout" });
      }
    }
    for (const [key, c] of this.#candidates) {
      if (now - c.addedAt >= timeout) {
        this.#candidates.delete(key);
        this.#tombstones.set(key, now);
      }
    }
    for (const [key, mentioned] of this.#tombstones) {
      if (now - mentioned >= timeout) this.#tombstones.delete(key);
    }

    this.#trackBootstrap(now);

    if (this.#members.size === 0) {
      this.#requestBootstrap("JOIN_B");
    } else {
      this.#pingMembers();
      // Members found us before our own BOOTSTRAP_R arrived (it was lost): keep asking.
      if (this.#self === undefined) this.#requestBootstrap("JOIN_B");
      if (this.isCollector) {
        // A deployed bootstrap only counts JOIN_B as activity (defect 2): re-join with our
        // record often enough that its 15 s room timeout never fires while we are alive.
        const refresh = this.#collectorRounds++ % this.#joinRefreshRounds === 0;
        const rejoin = refresh || this.#rejoinNeeded || this.#misses > 0;
        this.#requestBootstrap(rejoin ? "JOIN_B" : "PEER_COLLECTOR");
      } else {
        this.#collectorRounds = 1; // a new collector reports first, then refreshes
      }
    }
    for (const c of this.#candidates.values()) this.#pingNow(c.address);
  }

  #trackBootstrap(now: number): void {
    if (this.#awaitingReply) {
      this.#awaitingReply = false;
      this.#misses++;
    }
    if (this.#misses >= this.#bootstrapMisses) {
      const dead = this.bootstrap;
      this.#misses = 0;
      if (this.#bootstraps.length > 1) {
        this.#bootstrapIndex = (this.#bootstrapIndex + 1) % this.#bootstraps.length;
        this.#fallbackSince = now;
      }
      if (!this.#unreachableReported) {
        this.#unreachableReported = this.#bootstraps.length === 1;
        const next = this.bootstrap;
        this.#events.push({
          type: "error",
          code: "bootstrap-unreachable",
          message: `bootstrap ${dead.hostname}:${dead.port} did not answer ` +
            `${this.#bootstrapMisses} requests in a row` +
            (this.#bootstraps.length > 1 ? `; trying ${next.hostname}:${next.port}` : ""),
        });
      }
    } else if (this.#bootstrapIndex !== 0 && now - this.#fallbackSince >= this.#bootstrapRetryMs) {
      this.#bootstrapIndex = 0; // come back to the preferred bootstrap: it may be up again
      this.#misses = 0;
    }
  }

  #requestBootstrap(type: "JOIN_B" | "PEER_COLLECTOR"): void {
    let peers: PeerRecord[];
    if (type === "JOIN_B") {
      peers = this.#self === undefined ? [] : [this.#self];
      this.#rejoinNeeded = false;
    } else {
      const fit = peersThatFit(this.#budget, {
        type: "PEER_COLLECTOR",
        payloadBytes: this.#roomBytes,
      });
      // Oldest first; members whose id we do not know go last with id 0 (an Olaf
      // bootstrap keeps the id it has for them, or assigns one, and tells us in its reply).
      const members = [...this.#members.values()].sort(byId);
      peers = [this.#self!, ...members.slice(0, fit - 1).map(record)];
    }
    const data = encode({ type, peers, room: this.#room } as const);
    this.#transmits.push({ data, to: this.bootstrap });
    this.#awaitingReply = true;
  }

  /**
   * Heartbeat pings: the room's list cut into windows of `gossipSize`, a
   * different window for each member, rotating every heartbeat. Every ping
   * names its destination (when we know its id), so that a ping that does
   * not tells an Olaf receiver we have not counted it yet.
   */
  #pingMembers(): void {
    const members = [...this.#members.values()];
    const gossip = members.filter((m) => m.id !== 0);
    // Room for our own record and the destination's besides the window.
    const fit = Math.min(this.#gossipSize, peersThatFit(this.#budget, { type: "PING" }) - 2);
    if (gossip.length <= fit) {
      const data = this.#pingDatagram(); // names every member
      for (const m of members) this.#transmits.push({ data, to: m.address });
      return;
    }
    const windows = Math.ceil(gossip.length / fit);
    const slices: PeerRecord[][] = [];
    const datagrams: Uint8Array[] = [];
    const start = (this.#heartbeats * fit) % gossip.length;
    for (let w = 0; w < windows; w++) {
      const slice: PeerRecord[] = this.#self ? [this.#self] : [];
      for (let j = 0; j < fit; j++) {
        slice.push(record(gossip[(start + w * fit + j) % gossip.length]!));
      }
      slices.push(slice);
      datagrams.push(encode({ type: "PING", peers: slice, payload: EMPTY }));
    }
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      const slice = slices[i % windows]!;
      const named = m.id === 0 ||
        slice.some((r) => r.port === m.address.port && r.ip === m.address.hostname);
      const data = named
        ? datagrams[i % windows]!
        : encode({ type: "PING", peers: [...slice, record(m)], payload: EMPTY });
      this.#transmits.push({ data, to: m.address });
    }
  }

  /** Whether a received list names us. */
  #namesSelf(peers: PeerList): boolean {
    const self = this.#self;
    if (self === undefined) return true; // we cannot tell: do not answer
    return peers.indexOf(self.ip, self.port) >= 0;
  }

  /**
   * Answers an Olaf ping that did not name us with a small ping naming its
   * sender, which then counts us as a member and does not answer back.
   * Bounded per heartbeat: spoofed pings must not draw answers at will.
   */
  #answer(to: Member): void {
    if (this.#answersLeft <= 0) return;
    this.#answersLeft--;
    const peers = [this.#self!, record(to)];
    this.#transmits.push({ data: encode({ type: "PING", peers, payload: EMPTY }), to: to.address });
  }

  /** Our current list for an immediate ping: self first, then as many members as fit. */
  #pingDatagram(): Uint8Array {
    if (this.#pingCache === undefined) {
      const fit = peersThatFit(this.#budget, { type: "PING" });
      const peers: PeerRecord[] = this.#self ? [this.#self] : [];
      for (const m of this.#members.values()) {
        if (peers.length >= fit) break;
        if (m.id !== 0) peers.push(record(m));
      }
      this.#pingCache = encode({ type: "PING", peers, payload: EMPTY });
    }
    return this.#pingCache;
  }

  /**
   * Answers a sender we did not know. The full list makes a newcomer converge
   * in a round trip, but a 7-byte spoofed ping must not draw 1 KB replies at
   * will: past a budget per heartbeat the answer carries only our own record
   * (heartbeat gossip fills the newcomer in instead).
   */
  #welcome(to: NetAddress): void {
    if (this.#welcomesLeft > 0) {
      this.#welcomesLeft--;
      this.#pingNow(to);
    } else {
      this.#smallPing ??= encode({
        type: "PING",
        peers: this.#self ? [this.#self] : [],
        payload: EMPTY,
      });
      this.#transmits.push({ data: this.#smallPing, to });
    }
  }

  /** Queues `data` to every member and every candidate; returns how many. */
  #toEveryone(data: Uint8Array): number {
    for (const m of this.#members.values()) this.#transmits.push({ data, to: m.address });
    for (const c of this.#candidates.values()) this.#transmits.push({ data, to: c.address });
    return this.#members.size + this.#candidates.size;
  }

  #pingNow(to: NetAddress): void {
    this.#transmits.push({ data: this.#pingDatagram(), to });
  }

  #appDatagram(payload: Uint8Array): Uint8Array {
    if (this.#left) throw new RangeError("cannot send after leaving the room");
    const peers = this.#self ? [this.#self] : [];
    if (payload.length > MAX_DATAGRAM - 17) {
      throw new RangeError(`payload of ${payload.length} bytes does not fit a UDP datagram`);
    }
    return encode({ type: "APP_R", peers, payload });
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** The id a sender claims for itself: its own record in its list (Olaf peers put it there). */
function ownId(peers: PeerList, ip: string, port: number): number {
  const index = peers.indexOf(ip, port);
  return index < 0 ? 0 : peers.idAt(index);
}

function record(m: Member): PeerRecord {
  return { ip: m.address.hostname, port: m.address.port, id: m.id };
}

function byId(a: Member, b: Member): number {
  // Unknown ids (0) sort last: they belong to newcomers.
  const ia = a.id === 0 ? 2 ** 32 : a.id;
  const ib = b.id === 0 ? 2 ** 32 : b.id;
  return ia - ib || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

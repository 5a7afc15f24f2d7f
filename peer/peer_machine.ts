/**
 * The sans-IO state machine of one peer in one room: datagrams and time go in,
 * datagrams, events and the next timer come out. No sockets, no clocks.
 *
 * @module
 */
import {
  type AddressKey,
  addressKey,
  BYE,
  isBye,
  isIPv4,
  MAX_DATAGRAM_BYTES,
  MAX_ROOM_NAME_BYTES,
  type Message,
  MessageType,
  normaliseHostname,
  PeerList,
  type PeerRecord,
  peersThatFit,
  ProtocolError,
  type ProtocolErrorReason,
  V1_RECEIVE_BUFFER_BYTES,
} from "@olaf/protocol";
import {
  Fifo,
  type NetAddress,
  type SansIoMachine,
  Timers,
  type Transmit,
} from "@olaf/protocol/sans-io";
import {
  isReliableDatagram,
  ReliableLink,
  type ReliableLinkOptions,
} from "@olaf/protocol/reliable";
import { BootstrapClient, type OlafJoinOptions, type OlafJoinState } from "./_bootstrap_client.ts";
import { Collector } from "./_collector.ts";
import { Gossip } from "./_gossip.ts";
import { Frame, type Link, openUnlinked, type Outbox, PlaintextV1Link } from "./_link.ts";
import {
  byId,
  type Member,
  type MemberId,
  type MemberRecord,
  Membership,
  record,
  v1MemberId,
} from "./_membership.ts";
import { HandshakeBudget, pathOf, ReportLimiter, SealedLink } from "./_sealed_link.ts";
import {
  CHECK_AFTER_MS,
  EAGER_AFTER_MS,
  EAGER_MAX_MEMBERS,
  OpportunisticLink,
  Upgrades,
} from "./_opportunistic.ts";
import { HANDSHAKE_CODE, Step } from "./_secure/wire.ts";
import { SecureEndpoint } from "./_secure/endpoint.ts";
import { encodePublicKey, generateIdentity, type Identity } from "./identity.ts";
import { roomKeys } from "./_secure/room_keys.ts";
import {
  type NatClass,
  type NatTraversalOptions,
  type PathKind,
  PathTable,
  takeIntroductions,
} from "./_paths.ts";

export type { NatClass, NatTraversalOptions, PathKind } from "./_paths.ts";
import { HeldSends, MAX_PROBE_BYTES, SendBudget } from "./_send_budget.ts";
import { Admission } from "./_admission.ts";
import { DEFAULT_LARGE_ROOM_THRESHOLD, Swim } from "./_swim.ts";
import { decodeSwim, isSwimCode, type SwimMessage } from "./_swim_wire.ts";

export type { Transmit } from "@olaf/protocol/sans-io";
export { DeliveryError } from "@olaf/protocol/reliable";

/**
 * Why a reliable send to a member did not go out:
 * - `not-member`: no such member (never heard from, or it left);
 * - `not-olaf`: a deployed v1 peer, which cannot acknowledge;
 * - `blocked`: the member's in-flight window is full, wait for a `writable` event;
 * - `too-large`: over the message limit (`reliable.maxMessageBytes`, 1 MiB by default);
 * - `failed`: the link to the member gave up earlier.
 */
export type ReliableSendRefusal = "not-member" | "not-olaf" | "blocked" | "too-large" | "failed";

/** What {@linkcode PeerMachine.sendReliable} returns: a handle for the result event, or why not. */
export type ReliableSendResult =
  | { readonly ok: true; readonly handle: number }
  | { readonly ok: false; readonly reason: ReliableSendRefusal; readonly message: string };

/**
 * A reliable send failed because the member left the room (`bye` or silence)
 * before acknowledging it.
 *
 * @example
 * ```ts
 * import { PeerLeftError } from "@olaf/peer";
 * import assert from "node:assert/strict";
 *
 * assert.match(new PeerLeftError("10.0.0.2:4000", "bye").message, /left the room/);
 * ```
 */
export class PeerLeftError extends Error {
  /** How the member left. */
  readonly reason: PeerLeftReason;

  /**
   * Creates the error.
   *
   * @param peer The member's `ip:port`.
   * @param reason `bye` or `timeout`.
   */
  constructor(peer: string, reason: PeerLeftReason) {
    super(
      `${peer} left the room (${reason === "bye" ? "it said bye" : "it timed out"}) ` +
        "before acknowledging the message",
    );
    this.name = "PeerLeftError";
    this.reason = reason;
  }
}

/** Why a member left: it said `bye`, or it was not heard from for the peer timeout. */
export type PeerLeftReason = "bye" | "timeout";

/**
 * What went wrong:
 * - `room-full`: the bootstrap refused the room (`ROOM_FULL`); it has no room for a new room.
 * - `bootstrap-unreachable`: the bootstrap in use did not answer several requests
 *   in a row; the peer moves on to the next one in the list (if there is one).
 * - `wrong-secret` (secure rooms): a peer tried to handshake with a different room secret (its
 *   handshake's mac is not this room's); at most once per address per 10 s.
 * - `refused-key` (secure rooms with an allow-list): a peer proved a public key the allow-list
 *   does not hold; at most once per key per 10 s.
 */
export type PeerErrorCode =
  | "room-full"
  | "bootstrap-unreachable"
  | "wrong-secret"
  | "refused-key";

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
    readonly peer: MemberRecord;
    /** With NAT traversal on: how it is reached (`direct`, `lan` or `relayed`). */
    readonly path?: PathKind;
  }
  | {
    /** NAT traversal moved a member to another path (a better one, or the relay). */
    readonly type: "path-changed";
    /** The member (its public record: that does not change). */
    readonly peer: MemberRecord;
    /** The new path. */
    readonly path: PathKind;
    /** The path before. */
    readonly previous: PathKind;
  }
  | {
    /**
     * Open rooms (opportunistic encryption): a member's link became encrypted (a Noise session:
     * its application data is sealed both ways), or went back to plaintext (the session is gone:
     * the member restarted, say). Unauthenticated: the record carries no key.
     */
    readonly type: "link";
    /** The member. */
    readonly peer: MemberRecord;
    /** Whether its application data is encrypted now. */
    readonly encrypted: boolean;
  }
  | {
    /** A member left. */
    readonly type: "peer-left";
    /** The member. */
    readonly peer: MemberRecord;
    /** `bye` (it said so) or `timeout` (silent for the peer timeout). */
    readonly reason: PeerLeftReason;
  }
  | {
    /** Application bytes from a peer (`APP_R`). */
    readonly type: "message";
    /** The sender. */
    readonly from: MemberRecord;
    /** The payload (a copy, owned by the receiver). */
    readonly data: Uint8Array;
    /** `true` when it came reliably (`DATA`): exactly once; absent for plain `APP_R`. */
    readonly reliable?: true;
    /** For reliable messages: whether it was sent ordered (delivered in order). */
    readonly ordered?: boolean;
  }
  | {
    /** A reliable send was acknowledged by the member's transport (not its application). */
    readonly type: "delivered";
    /** The member. */
    readonly peer: MemberRecord;
    /** The handle {@linkcode PeerMachine.sendReliable} returned. */
    readonly handle: number;
    /** Ms from the send to the acknowledgement. */
    readonly latencyMs: number;
  }
  | {
    /** A reliable send failed: the link gave up, or the member left. */
    readonly type: "delivery-failed";
    /** The member. */
    readonly peer: MemberRecord;
    /** The handle {@linkcode PeerMachine.sendReliable} returned. */
    readonly handle: number;
    /** A {@linkcode DeliveryError} or a {@linkcode PeerLeftError}. */
    readonly error: Error;
  }
  | {
    /** The member's window has room again: a `blocked` reliable send may be retried. */
    readonly type: "writable";
    /** The member. */
    readonly peer: MemberRecord;
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
  /** Room name (UTF-8, at most `MAX_ROOM_NAME_BYTES` = 255 bytes, the bootstrap limit). */
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
  /**
   * Rooms with more Olaf members than this use partial views (SWIM, codes 32..37,
   * see protocol/EXTENSIONS.md): each member probes 3 others per heartbeat
   * and membership changes spread by gossip, so per-member traffic stays
   * flat as the room grows. At or below it, everyone pings everyone each
   * heartbeat (v1 behaviour, convergence within one heartbeat). Default 64.
   */
  largeRoomThreshold?: number;
  /** Time of creation; the first `JOIN_B` is due at once. Default 0. */
  now?: number;
  /**
   * Options of every member's reliable link (window, give-up after
   * `maxTransmissions` = 10 tries or `giveUpMs` = 30000, `maxMessageBytes` = 1 MiB).
   */
  reliable?: ReliableLinkOptions;
  /**
   * Room secret (issue 10): non-empty makes this a secure room. Only peers that know it get a
   * session; every datagram but HANDSHAKE/SEALED from a non-bootstrap address is dropped; the
   * bootstrap sees the room tag (32 hex digits derived from secret and name) as the room name.
   */
  secret?: Uint8Array | string;
  /** Our Ed25519 identity; a fresh one per machine by default. */
  identity?: Identity;
  /** Secure rooms: the only public keys (32 bytes each) that may have a session; all if absent. */
  allow?: readonly Uint8Array[];
  /**
   * Open rooms: encrypt application data to Olaf members opportunistically (default `true`).
   * Once a member's link has a Noise session its `APP_R` and reliable datagrams are sealed;
   * membership (`PING`, SWIM) stays plaintext v1, and deployed v1 peers are never sent a
   * handshake. The first application datagram to an Olaf member starts one (it goes in
   * plaintext itself: nothing waits), and in rooms of at most 16 members the lower address
   * starts one in the background; paced, backed off on failure. A `link` event says when a
   * member's link is encrypted. `false`: every datagram is exactly v1's (no handshake answered).
   */
  opportunistic?: boolean;
  /**
   * NAT traversal (issue 11): `PROBE`s confirm a path per member (LAN, public, a
   * symmetric NAT's new mapping), keepalives hold it, and when punching fails
   * datagrams go through the bootstrap's relay (when it runs with `--relay`).
   * `peer-joined` then carries `path`, and `path-changed` reports moves. Default off.
   */
  nat?: boolean | NatTraversalOptions;
  /**
   * Join through the Olaf bootstrap dialect (address token, public key, LAN
   * candidates, introductions); an open room falls back to v1 `JOIN_B` when
   * the bootstrap answers no `JOIN_O` twice. Default: v1 only.
   */
  dialect?: OlafJoinOptions;
  /**
   * Probes per second toward addresses never heard from (candidates named by
   * the bootstrap or gossip), every address together; default 100, 0 = no
   * bound. Each probe is one small `PING` (our own record); a candidate gets
   * nothing else until it answers. See `_send_budget.ts`.
   */
  probeRate?: number;
  /**
   * Strangers (senders neither members nor candidates) that may become
   * members per heartbeat; default 64, 0 = no bound. The rest are dropped
   * without a reply until the next heartbeat.
   */
  strangersPerHeartbeat?: number;
}

/**
 * Why a datagram was dropped: a codec reason, or
 * - `non-ipv4-source`: v1 is IPv4 only;
 * - `own-address`: it came from our own public address;
 * - `unexpected-from-bootstrap`: a bootstrap sent something but `BOOTSTRAP_R`/`ROOM_FULL`;
 * - `unexpected-sender`: a peer sent a bootstrap message;
 * - `unknown-type`: an extension message this peer does not speak;
 * - `peer-limit`: a new peer past `maxPeers`;
 * - `reliable-from-stranger`: a `DATA`/`ACK` from someone who is not a member (no reply);
 * - `reliable-invalid`: a malformed `DATA`/`ACK` from a member;
 * - `stranger-limit`: a stranger past `strangersPerHeartbeat` this heartbeat (no reply);
 * - `send-budget` (outgoing): not sent, it would exceed 3x the bytes the address sent us
 *   (unvalidated), or a probe not earned yet toward an address never heard from;
 * - `probe-rate` (outgoing): a probe to an address never heard from, past `probeRate`;
 * - `not-sealed`: a secure room got something other than HANDSHAKE/SEALED from a peer address;
 * - `secure`: a HANDSHAKE/SEALED the secure layer dropped (why: `stats.secure`);
 * - `sealed-from-bootstrap`: a HANDSHAKE/SEALED from a bootstrap's address.
 */
export type PeerDropReason =
  | ProtocolErrorReason
  | "non-ipv4-source"
  | "own-address"
  | "unexpected-from-bootstrap"
  | "unexpected-sender"
  | "unknown-type"
  | "peer-limit"
  | "reliable-from-stranger"
  | "reliable-invalid"
  | "stranger-limit"
  | "send-budget"
  | "probe-rate"
  | "not-sealed"
  | "secure"
  | "handshake-refused"
  | "sealed-from-bootstrap";

/** Counters of one machine's traffic (a snapshot: reading it again gives fresh numbers). */
export interface PeerMachineStats {
  /** Datagrams handed to {@linkcode PeerMachine.handleDatagram}. */
  datagramsIn: number;
  /** Datagrams produced by {@linkcode PeerMachine.pollTransmit}. */
  datagramsOut: number;
  /** Bytes in. */
  bytesIn: number;
  /** Bytes out. */
  bytesOut: number;
  /** Dropped datagrams by reason. */
  drops: Partial<Record<PeerDropReason, number>>;
  /**
   * HANDSHAKE/SEALED datagrams the secure layer dropped, by reason: `malformed`, `bad-step`,
   * `bad-mac` (not this room's secret), `replay`, `bad-tag` (tampered), `unknown-session`,
   * `unexpected-handshake`, `handshake-failed`, `simultaneous-open`, `amplification-limit`.
   */
  secure: Record<string, number>;
  /**
   * Open rooms, opportunistic encryption: handshakes we `started` (background, lazy, session
   * checks), members' first handshake messages we `answered` and `refused` (from a non-member,
   * or over the answer budget), links `sealed`, and application datagrams sent in `plaintext`
   * to an Olaf member whose link was not sealed yet.
   */
  opportunistic: {
    started: number;
    answered: number;
    refused: number;
    sealed: number;
    plaintext: number;
  };
  /**
   * Partial views (issue 15): `probes`, `indirectProbes`, `suspicions`, `confirmations`,
   * `refutations`, `stalls` (late ticks that stretched deadlines) and `health` (0 healthy, up
   * to 8 while our own probes keep failing: probes and pushes slow down, timeouts stretch).
   */
  swim?: Record<string, number>;
}

/** `JOIN_B` retry interval before the first answer (then the heartbeat takes over). */
const JOIN_RETRY_MS = 1000;

/** Candidates are pinged again this often (not just every heartbeat) until they answer. */
const CANDIDATE_RETRY_MS = 1000;

const EMPTY = new Uint8Array();

/** The machine's timers: one table, one `pollTimeout`. */
type TimerName = "heartbeat" | "candidates" | "reliable" | "swim" | "secure" | "nat";

/** Handshakes we start towards learned addresses: sustained per second, and burst. */
const HANDSHAKES_PER_SECOND = 50;
const HANDSHAKE_BURST = 100;

/** SEALED framing around an inner datagram (header 19 + tag 16). */
const SEALED_OVERHEAD = 35;

/** What the machine wants sent: a frame for a member's link, or for an address with none. */
interface Intent {
  readonly frame: Frame;
  readonly link: Link | undefined;
  readonly to: NetAddress | undefined;
}

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
 * - **Hostile input** (issue 12): toward an address not validated (heard
 *   from and listed by the bootstrap) the peer sends at most 3x what it
 *   received from it; candidates get rate-bounded probes (`probeRate`);
 *   at most `strangersPerHeartbeat` strangers become members per
 *   heartbeat; only ids the bootstrap issued count in the collector
 *   election (see `_send_budget.ts`, `_admission.ts`, peer README).
 * - **Budget**: every datagram with a peer list fits `datagramBudget` (1024).
 *   Heartbeat pings name at most `gossipSize` (20) members, in windows that
 *   differ per destination and rotate every heartbeat (a 200-member room
 *   costs ~230-byte pings instead of 1 KB ones); answers to newcomers carry
 *   as many as fit.
 * - **Structure**: a room-level coordinator over one module per job
 *   (bootstrap client, membership keyed by member identity with a path
 *   index, gossip, collector election) and one link per member. The modules
 *   queue intents (a message and a link or address); the link builds the
 *   bytes only in {@linkcode PeerMachine.pollTransmit}, so per-destination
 *   state (sealing, acknowledgements) has one place. Deadlines live in one
 *   `Timers` table (see ARCHITECTURE.md).
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
export class PeerMachine implements SansIoMachine<PeerEvent> {
  readonly #room: string;
  #roomBytes: number;
  readonly #heartbeatMs: number;
  readonly #peerTimeoutMs: number;
  readonly #budget: number;

  readonly #bootstrap: BootstrapClient;
  readonly #membership: Membership;
  readonly #gossip: Gossip;
  readonly #collector: Collector;
  readonly #swim: Swim;
  readonly #timers = new Timers<TimerName>();
  readonly #paths: PathTable | undefined; // NAT traversal (issue 11)
  /** Issue 12: bytes toward unvalidated addresses, probes, held sends, admission, trusted ids. */
  readonly #sendBudget: SendBudget;
  readonly #held = new HeldSends<Frame>();
  readonly #admission: Admission;

  #self: PeerRecord | undefined;
  #selfKey: AddressKey | "" = "";
  #intents = new Fifo<Intent>();
  readonly #reliableOptions: ReliableLinkOptions;
  /** Members with a reliable link, for draining, timers and events. */
  readonly #reliable = new Set<Member>();
  /** Machine-wide handles of unsettled reliable sends, per member: engine handle -> ours. */
  readonly #pending = new Map<Member, Map<number, number>>();
  #nextHandle = 0;
  #events = new Fifo<PeerEvent>();
  #left = false;
  /** The latest time given, for `pollTransmit()` called without one. */
  #now: number;
  readonly #stats: PeerMachineStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: {},
    secure: {},
    opportunistic: { started: 0, answered: 0, refused: 0, sealed: 0, plaintext: 0 },
  };
  readonly #outbox: Outbox = {
    toLink: (link, frame) => void this.#intents.push({ frame, link, to: undefined }),
    toPath: (to, frame) => this.#toPath(to, frame),
  };
  /** The room's secure layer (issue 10): one Noise endpoint, one session per Olaf member. */
  readonly #endpoint: SecureEndpoint;
  /** A secure room: sealed links only. */
  readonly #secure: boolean;
  readonly #handshakeBudget: HandshakeBudget;
  readonly #refusedReports = new ReportLimiter(10_000);
  /** Members with a sealed link, by public key hex. */
  readonly #sealed = new Map<string, Member>();
  /** Open rooms: which Olaf members' links get a session, and their held application data. */
  readonly #opp: Upgrades;
  readonly #opportunistic: boolean;

  /**
   * Creates the machine; its first heartbeat (a `JOIN_B`) is due at `options.now`.
   *
   * @param options Room, bootstraps and timing.
   * @throws {RangeError} Without bootstraps, with a non-IPv4 bootstrap, a room name over
   *   255 bytes (MAX_ROOM_NAME_BYTES) or with a lone surrogate, or bad timings (not positive, or a peer timeout not longer than the heartbeat).
   */
  constructor(options: PeerMachineOptions) {
    this.#room = options.room;
    // Checked here: the codec would refuse such a name later, inside a timer.
    if (!options.room.isWellFormed()) {
      throw new RangeError("room name is not valid Unicode (it has a lone surrogate)");
    }
    this.#roomBytes = new TextEncoder().encode(options.room).length;
    if (this.#roomBytes > MAX_ROOM_NAME_BYTES) { // issue 16: the bootstrap's limit, up front
      throw new RangeError(`room name is over ${MAX_ROOM_NAME_BYTES} UTF-8 bytes`);
    }
    if (options.bootstraps.length === 0) throw new RangeError("at least one bootstrap is needed");
    for (const b of options.bootstraps) {
      if (!isIPv4(b.hostname)) {
        throw new RangeError(`bootstrap address must be IPv4 text, got ${b.hostname}`);
      }
    }
    this.#heartbeatMs = positive("heartbeatMs", options.heartbeatMs ?? 3000);
    this.#peerTimeoutMs = positive("peerTimeoutMs", options.peerTimeoutMs ?? 15_000);
    if (this.#peerTimeoutMs <= this.#heartbeatMs) {
      // Members ping once a heartbeat: a shorter timeout would drop live members every round.
      throw new RangeError(
        `peerTimeoutMs (${this.#peerTimeoutMs}) must be longer than heartbeatMs (${this.#heartbeatMs})`,
      );
    }
    const keys = roomKeys(options.room, options.secret);
    this.#secure = keys.secure;
    this.#opportunistic = !keys.secure && (options.opportunistic ?? true);
    const allow = options.allow && new Set(options.allow.map(encodePublicKey));
    const identity = options.identity ?? generateIdentity();
    this.#endpoint = new SecureEndpoint({
      identity,
      room: keys,
      ...(allow ? { allow: (key: Uint8Array) => allow.has(encodePublicKey(key)) } : {}),
    });
    // A secure room is known to the bootstrap by its tag only (the Olaf join carries it).
    const bootstrapRoom = keys.secure ? keys.tagHex : options.room;
    if (keys.secure) this.#roomBytes = bootstrapRoom.length;
    this.#handshakeBudget = new HandshakeBudget(
      HANDSHAKES_PER_SECOND,
      HANDSHAKE_BURST,
      options.now ?? 0,
    );
    this.#opp = new Upgrades(
      this.#handshakeBudget,
      (key, now) => this.#endpoint.connect(now, key),
      options.maxPeers ?? 1000,
      options.now ?? 0,
    );
    this.#bootstrap = new BootstrapClient(
      bootstrapRoom,
      options.bootstraps,
      positive("bootstrapMisses", options.bootstrapMisses ?? 3),
      positive("bootstrapRetryMs", options.bootstrapRetryMs ?? 60_000),
      // A secure room joins with the Olaf dialect under its tag, with our key (never v1): the
      // WELCOME then gives members' keys, so handshakes to them can be IK.
      keys.secure
        ? { ...options.dialect, roomKey: keys.tagHex, secure: true, publicKey: identity.publicKey }
        : options.dialect,
    );
    this.#budget = options.datagramBudget ?? V1_RECEIVE_BUFFER_BYTES;
    if (peersThatFit(this.#budget, { type: "PEER_COLLECTOR", payloadBytes: this.#roomBytes }) < 1) {
      throw new RangeError(`datagramBudget ${this.#budget} cannot carry a single peer record`);
    }
    this.#membership = new Membership(positive("maxPeers", options.maxPeers ?? 1000));
    this.#gossip = new Gossip(
      this.#membership,
      this.#outbox,
      this.#budget,
      positive("gossipSize", options.gossipSize ?? 20),
      // Heartbeat gossip spreads validated members, or ones heard across a heartbeat: a flood
      // of one-shot spoofed pings is not passed on for the room to probe (issue 12).
      (m) =>
        this.#sendBudget.validated(m.link.pathKey) ||
        this.#sendBudget.seasoned(m.link.pathKey, this.#heartbeatMs),
    );
    this.#collector = new Collector(this.#heartbeatMs);
    this.#now = options.now ?? 0;
    this.#swim = new Swim(this.#membership, this.#outbox, {
      add: (peer, now) => this.#swimAdd(peer, now),
      remove: (member, reason, now) => this.#gone(member, reason, now),
      isBootstrap: (key) => this.#bootstrap.isBootstrap(key),
    }, {
      heartbeatMs: this.#heartbeatMs,
      peerTimeoutMs: this.#peerTimeoutMs,
      threshold: options.largeRoomThreshold ?? DEFAULT_LARGE_ROOM_THRESHOLD,
      budget: this.#budget,
      now: this.#now,
    });
    this.#gossip.partial = () => this.#swim.large;
    this.#reliableOptions = options.reliable ?? {};
    this.#sendBudget = new SendBudget({
      probeRate: limit("probeRate", options.probeRate ?? 100),
      probeIntervalMs: CANDIDATE_RETRY_MS / 2, // the candidate timer's pace, with slack
      capacity: Math.max(256, 4 * this.#membership.maxPeers),
    });
    this.#admission = new Admission(
      limit("strangersPerHeartbeat", options.strangersPerHeartbeat ?? 64),
      2 * this.#membership.maxPeers,
    );
    this.#timers.set("heartbeat", this.#now);
    if (options.nat) { // issue 11: members keep their public address; paths move under it
      const bootstrap = this.#bootstrap;
      this.#paths = new PathTable(
        options.nat === true ? {} : options.nat,
        (key) => bootstrap.isBootstrap(key),
        () => bootstrap.current,
        (key, path, previous) => {
          const member = this.#membership.byPath(key);
          if (member === undefined || previous === undefined || this.#self === undefined) return;
          this.#events.push({ type: "path-changed", peer: record(member), path, previous });
        },
        // A NAT's new port turned out to be a member's path: no member of its own.
        (pathKey) => this.#membership.forgetPath(pathKey),
        options.bootstraps,
      );
    }
  }

  /** The room name. */
  get room(): string {
    return this.#room;
  }

  /**
   * Our own record as the bootstrap sees us, once joined; in a secure room with our
   * `publicKey` (64 lowercase hex digits).
   */
  get self(): MemberRecord | undefined {
    const self = this.#self;
    if (self === undefined || !this.#secure) return self;
    return { ...self, publicKey: this.publicKey };
  }

  /** Our Ed25519 public key, 64 lowercase hex digits. */
  get publicKey(): string {
    return encodePublicKey(this.#endpoint.identity.publicKey);
  }

  /** Whether this is a secure room (a secret was given). */
  get secure(): boolean {
    return this.#secure;
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
  get peers(): MemberRecord[] {
    return [...this.#membership.members.values()].sort(byId).map(record);
  }

  /** The bootstrap currently in use (the preferred one unless it stopped answering). */
  get bootstrap(): NetAddress {
    return this.#bootstrap.current;
  }

  /** The Olaf join's state: mode, introductions queue, what the bootstrap said of members. */
  get olafJoin(): OlafJoinState {
    return this.#bootstrap;
  }

  /** Whether this peer currently holds the collector duty (lowest id among members). */
  get isCollector(): boolean {
    const members = this.#membership.members;
    const admission = this.#admission; // only ids the bootstrap issued count (issue 12)
    return Collector.elected(
      this.#self,
      this.#selfKey,
      members.values(),
      members.size,
      (m) => admission.trusted(m.link.pathKey, m.id),
    );
  }

  /** With NAT traversal on: our NAT's mapping behaviour, from `NAT_CHECK`; else `"unknown"`. */
  get natClass(): NatClass {
    return this.#paths?.natClass ?? "unknown";
  }

  /**
   * How a member is reached: `direct`, `lan` or `relayed` (always `direct` without NAT
   * traversal), or `undefined` for a non-member.
   *
   * @param peer The member's public ip and port.
   * @returns The path kind.
   */
  pathOf(peer: { readonly ip: string; readonly port: number }): PathKind | undefined {
    if (!isIPv4(peer.ip)) return undefined;
    const key = addressKey(peer.ip, peer.port);
    if (this.#membership.byPath(key) === undefined) return undefined;
    return this.#paths?.kind(key) ?? "direct";
  }

  /**
   * Rendezvous (issue 11): candidate addresses of a peer learnt elsewhere (the
   * `/games` REST rendezvous). The first is its public address (its `self` as
   * its bootstrap sees it); it becomes a candidate, pinged until it answers.
   * With NAT traversal on, the others (its LAN addresses) are probed too, LAN
   * first, and the relay is the fallback.
   *
   * @param addresses The peer's addresses, public first.
   * @throws {RangeError} Without addresses, or for a non-IPv4 one.
   */
  connect(addresses: readonly { readonly ip: string; readonly port: number }[]): void {
    if (addresses.length === 0) throw new RangeError("connect needs at least one address");
    for (const a of addresses) {
      if (!isIPv4(a.ip)) throw new RangeError(`peer address must be IPv4 text, got ${a.ip}`);
    }
    const first = addresses[0]!;
    const rest = addresses.slice(1);
    if (this.#left) return;
    this.#learn(PeerList.from([{ ip: first.ip, port: first.port, id: 0 }]), undefined, this.#now);
    const others = rest.map((a) => ({ hostname: a.ip, port: a.port }));
    this.#paths?.addCandidates({ hostname: first.ip, port: first.port }, others, this.#now);
  }

  /** Traffic counters: a snapshot, taken when read. */
  get stats(): PeerMachineStats {
    const s = this.#stats;
    return {
      ...s,
      drops: { ...s.drops },
      secure: { ...this.#endpoint.drops },
      opportunistic: { ...this.#opp.stats },
      swim: { ...this.#swim.stats, health: this.#swim.health },
    };
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
    this.#now = now;
    this.#stats.datagramsIn++;
    this.#stats.bytesIn += data.length;
    if (this.#paths !== undefined) { // issue 11: probes, relay; other paths -> public address
      const handed = this.#paths.incoming(data, from, now);
      if (handed === undefined) return;
      ({ data, from } = handed);
    }
    const hostname = normaliseHostname(from.hostname);
    if (!isIPv4(hostname)) return this.#drop("non-ipv4-source");
    const key = addressKey(hostname, from.port);
    const fromBootstrap = this.#bootstrap.isBootstrap(key);
    if (SecureEndpoint.isSecure(data) && (this.#secure || this.#opportunistic)) {
      if (fromBootstrap) return this.#drop("sealed-from-bootstrap");
      if (
        !this.#secure && data[0] === HANDSHAKE_CODE &&
        (data[7] === Step.XX1 || data[7] === Step.IK1)
      ) {
        // Opportunistic: only Olaf members get an answer, within budget (strangers: none).
        const olaf = this.#membership.byPath(key)?.olaf === true;
        if (!this.#opp.answer(key, olaf, now)) return this.#drop("handshake-refused");
      }
      this.#sendBudget.received(key, data.length, now); // heard from (issue 12's accounts)
      return this.#secureIn(data, key, now); // open rooms too: opportunistic encryption
    } else if (this.#secure && !fromBootstrap) {
      return this.#drop("not-sealed"); // no event, no member, no reply
    }
    const known = this.#membership.byPath(key);
    if (!fromBootstrap) {
      this.#sendBudget.received(key, data.length, now);
      // Application frames waiting for credit toward this address may fit now.
      if (known !== undefined) this.#releaseHeld(key, known.link);
    }
    if (
      known?.link instanceof OpportunisticLink && !fromBootstrap &&
      (isReliableDatagram(data) || data[0] === MessageType.APP_R)
    ) this.#plainFromSealed(known, now);
    if (isReliableDatagram(data) && !fromBootstrap && key !== this.#selfKey) {
      return this.#reliableIn(known, data, now);
    }
    let message: Message;
    try {
      message = known !== undefined ? known.link.open(data, now) : openUnlinked(data);
    } catch (error) {
      if (error instanceof ProtocolError) return this.#drop(error.reason);
      throw error;
    }
    if (fromBootstrap) return this.#fromBootstrap(message, key, now);
    if (key === this.#selfKey) return this.#drop("own-address");
    this.#fromPeer(message, known, key, hostname, from.port, now);
  }

  /** A message from a peer (plaintext, or the inner datagram of a SEALED from a member). */
  #fromPeer(
    message: Message,
    known: Member | undefined,
    key: AddressKey,
    hostname: string,
    port: number,
    now: number,
  ): void {
    switch (message.type) {
      case "PING": {
        if (isBye(message.payload)) return this.#bye(key, now);
        const stranger = known === undefined && !this.#membership.candidates.has(key);
        const member = this.#heardFrom(known, key, hostname, port, message.peers, now);
        // Olaf pings name their destination when it is a member of the sender: one that does
        // not name us says a datagram between us was lost. Tell the sender now, not at our
        // next heartbeat (a stranger already got our whole list from #heardFrom).
        if (member?.olaf && !stranger && !this.#namesSelf(message.peers)) {
          this.#gossip.answer(member);
        }
        return;
      }
      case "APP_R": {
        const member = this.#heardFrom(known, key, hostname, port, message.peers, now);
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
        if (isSwimCode(message.code)) {
          return this.#swimIn(
            known,
            key,
            hostname,
            port,
            message.code,
            message.peers,
            message.payload,
            now,
          );
        }
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
    this.#now = now;
    const timers = this.#timers;
    const due = timers.due(now);
    if (due.includes("secure")) {
      this.#endpoint.handleTimeout(now);
      this.#secureEvents(now);
    }
    if (due.includes("nat")) this.#paths!.handleTimeout(now); // issue 11
    if (due.includes("reliable")) {
      for (const m of this.#reliable) {
        m.link.reliable!.handleTimeout(now);
        this.#reliableEvents(m);
      }
    }
    if (due.includes("swim")) this.#swim.tick(now);
    if (due.includes("heartbeat")) {
      // Until the first BOOTSTRAP_R, retry (and fail over) faster than the heartbeat.
      const interval = this.#self === undefined
        ? Math.min(this.#heartbeatMs, JOIN_RETRY_MS)
        : this.#heartbeatMs;
      timers.set("heartbeat", now + interval);
      timers.set("candidates", now + CANDIDATE_RETRY_MS);
      this.#heartbeat(now); // pings the candidates too
      if (this.#eagerRoom()) {
        for (const m of this.#membership.members.values()) this.#eagerUpgrade(m, now);
      }
    } else if (due.includes("candidates")) {
      timers.set("candidates", now + CANDIDATE_RETRY_MS);
      this.#pingCandidates();
    }
    this.#candidatesChanged();
  }

  /**
   * The next datagram to send, or `undefined` when there is none. Its bytes
   * are built here, by the destination's link.
   *
   * @param now Current time in ms; default the latest time the machine was given.
   * @returns A datagram and its destination.
   */
  pollTransmit(now: number = this.#now): Transmit | undefined {
    const paths = this.#paths;
    // Handshakes, keepalives and messages that waited for a session go first; with NAT
    // traversal they too leave on the member's current path (the relay, say).
    const secure = this.#endpoint.pollTransmit();
    if (secure !== undefined) {
      const t = this.#counted({ data: secure.data, to: pathOf(secure.to) });
      return paths === undefined ? t : paths.outgoing(t, now);
    }
    if (paths === undefined) return this.#transmit(now);
    // NAT traversal (issue 11): its own probes first, then ours on each member's path.
    const own = paths.pollTransmit();
    if (own !== undefined) return this.#counted(own);
    const t = this.#transmit(now);
    return t === undefined ? undefined : paths.outgoing(t, now);
  }

  #counted(t: Transmit): Transmit {
    this.#stats.datagramsOut++;
    this.#stats.bytesOut += t.data.length;
    return t;
  }

  #transmit(now: number): Transmit | undefined {
    for (let intent = this.#intents.shift(); intent !== undefined; intent = this.#intents.shift()) {
      const link = intent.link;
      const to = link !== undefined ? link.path : intent.to!;
      let data: Uint8Array | undefined = link !== undefined
        ? link.seal(intent.frame, now)
        : intent.frame.plaintext();
      if (data !== undefined && link !== undefined && intent.frame.message.type === "APP_R") {
        this.#appOut(link, data, now);
      }
      if (data === undefined) continue; // queued in the secure layer until the session is up
      const key = link?.pathKey ?? addressKey(normaliseHostname(to.hostname), to.port);
      // A sealed link's peer proved its address with authenticated datagrams: no 3x bound.
      if (!this.#bootstrap.isBootstrap(key) && !(link instanceof SealedLink)) {
        data = this.#withinBudget(intent, key, data, now);
      }
      if (data === undefined) continue;
      return this.#counted({ data, to });
    }
    return this.#reliableOut(now);
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
    if (this.#left) return this.#timers.next();
    // Engines arm timers when they send, ACK or receive: take the earliest now.
    let earliest: number | undefined;
    for (const m of this.#reliable) {
      const t = m.link.reliable!.pollTimeout();
      if (t !== undefined && (earliest === undefined || t < earliest)) earliest = t;
    }
    this.#arm("reliable", earliest);
    this.#arm("swim", this.#swim.pollTimeout());
    this.#arm("secure", this.#endpoint.pollTimeout());
    this.#arm("nat", this.#paths?.pollTimeout()); // issue 11
    return this.#timers.next();
  }

  /** Keeps a module's timer entry at the time it asks for (none: cleared). */
  #arm(name: TimerName, at: number | undefined): void {
    if (at === undefined) this.#timers.clear(name);
    else this.#timers.set(name, at);
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
    return this.#toEveryone(this.#appFrame(payload));
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
    const frame = this.#appFrame(payload);
    const member = this.#membership.byPath(addressKey(peer.ip, peer.port));
    if (member !== undefined) this.#outbox.toLink(member.link, frame);
    else this.#outbox.toPath({ hostname: peer.ip, port: peer.port }, frame);
  }

  /**
   * Queues `payload` as a reliable message to an Olaf member: retransmitted
   * until its transport acknowledges it (a `delivered` event with the
   * handle), or given up on (`delivery-failed`). Messages larger than a
   * datagram are fragmented and reassembled (up to 1 MiB by default).
   *
   * @param peer The member's ip and port.
   * @param payload Application bytes (copied).
   * @param options `ordered`: delivered in order among this member's ordered messages.
   * @returns A handle, or why the message was not queued (nothing is sent then).
   * @throws {RangeError} After leaving.
   */
  sendReliable(
    peer: { readonly ip: string; readonly port: number },
    payload: Uint8Array,
    options: { readonly ordered?: boolean } = {},
  ): ReliableSendResult {
    if (this.#left) throw new RangeError("cannot send after leaving the room");
    const key = `${peer.ip}:${peer.port}`;
    const member = isIPv4(peer.ip)
      ? this.#membership.byPath(addressKey(peer.ip, peer.port))
      : undefined;
    if (member === undefined) {
      return { ok: false, reason: "not-member", message: `${key} is not a member of the room` };
    }
    if (!member.olaf) {
      return {
        ok: false,
        reason: "not-olaf",
        message: `${key} is a deployed v1 peer: it cannot acknowledge reliable messages`,
      };
    }
    const engine = this.#engine(member, true);
    const result = engine.send(payload, { ordered: options.ordered ?? false }, this.#now);
    this.#reliableEvents(member);
    if (!result.ok) {
      const message = result.reason === "blocked"
        ? `the window to ${key} is full: wait for a writable event`
        : result.reason === "too-large"
        ? `a message of ${payload.length} bytes is over the reliable message limit`
        : `the link to ${key} failed: ${engine.failure?.message ?? "it gave up"}`;
      return { ok: false, reason: result.reason, message };
    }
    const handle = this.#nextHandle++;
    let pending = this.#pending.get(member);
    if (pending === undefined) this.#pending.set(member, pending = new Map());
    pending.set(result.handle, handle);
    return { ok: true, handle };
  }

  /**
   * Smoothed round-trip time to a member in ms, from its reliable link's
   * acknowledgements; `undefined` before the first sample (or for a non-member).
   *
   * @param peer The member's ip and port.
   * @returns Ms, or `undefined`.
   */
  rtt(peer: { readonly ip: string; readonly port: number }): number | undefined {
    if (!isIPv4(peer.ip)) return undefined;
    return this.#membership.byPath(addressKey(peer.ip, peer.port))?.link.reliable?.srtt;
  }

  /**
   * Whether a reliable send to the member would be queued now (its window has room).
   *
   * @param peer The member's ip and port.
   * @returns `false` for a full window; `true` otherwise (also for no link yet).
   */
  writable(peer: { readonly ip: string; readonly port: number }): boolean {
    if (!isIPv4(peer.ip)) return false;
    return this.#membership.byPath(addressKey(peer.ip, peer.port))?.link.reliable?.writable ??
      true;
  }

  /**
   * Leaves the room: queues a `bye` `PING` to every member and candidate (in
   * a room of over 4x the large-room threshold of Olaf members, to 16 of them, whose gossip
   * spreads it), then
   * stops (no more timers, incoming datagrams are ignored). Idempotent.
   */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    const bye = new Frame({ type: "PING", peers: [], payload: BYE });
    const few = this.#swim.byeTargets(); // a large room: a few, and their gossip does the rest
    if (few === undefined) this.#toEveryone(bye);
    else {
      for (const m of few) this.#outbox.toLink(m.link, bye);
      for (const c of this.#membership.candidates.values()) this.#outbox.toPath(c.address, bye);
    }
    for (const m of this.#membership.members.values()) this.#memberGone(m, "bye");
    this.#membership.clear();
    this.#sealed.clear();
    this.#timers.clear("reliable");
    this.#timers.clear("heartbeat");
    this.#timers.clear("candidates");
    this.#timers.clear("swim");
    this.#timers.clear("secure");
  }

  // --- incoming ---------------------------------------------------------------

  /**
   * Issue 12: the bytes that may go to `key` for `intent`, or `undefined`.
   * Validated addresses get everything; heard-from ones 3x what they sent
   * (a ping that does not fit shrinks to what fits, else becomes a probe);
   * one never heard from gets a rate-bounded probe for a ping, an
   * application frame only when the bootstrap listed it (held until it
   * answers otherwise); any other frame (an extension's probe) only as a
   * probe (`SendBudget.allowProbe`). The application's own traffic to an
   * address heard from (`APP_R`, reliable) is not bounded here.
   */
  #withinBudget(
    intent: Intent,
    key: AddressKey,
    data: Uint8Array,
    now: number,
  ): Uint8Array | undefined {
    const budget = this.#sendBudget;
    if (budget.validated(key)) return data;
    const message = intent.frame.message;
    // SWIM's own traffic to members (a large room) runs at a fixed pace set by the protocol
    // (3 probes and a few gossip pushes per heartbeat across the room), not by what anyone sends
    // us, and its answers to strangers stay within 3x by construction (_swim.ts): not a lever.
    if (
      message.type === "EXTENSION" && isSwimCode(message.code) && intent.link !== undefined
    ) return data;
    const ping = message.type === "PING" && !isBye(message.payload);
    if (message.type === "PING" && !ping) {
      // Our bye: once per member at leave, 10 bytes (to a large room's members too, which gossip
      // or a sync page brought and which may not have sent us anything yet); also to peers the
      // bootstrap listed that have not answered yet (a one-shot `echo hi | olaf-peer` leaves
      // before they do).
      return intent.link !== undefined || budget.heard(key) || budget.vouched(key)
        ? data
        : undefined;
    }
    if (budget.heard(key)) {
      // The application's own frames to an address that talks to us are not ours to bound
      // (as reliable traffic); what strangers can draw is the protocol's answers.
      if (message.type === "APP_R") return data;
      if (budget.allowSend(key, data.length)) return data;
      if (ping) {
        // As much of the list as 3x allows (a newcomer still learns part of the room).
        const fitted = this.#smallPing(intent, key, now, budget.credit(key));
        if (fitted.length < data.length && budget.allowSend(key, fitted.length)) return fitted;
        // Out of credit (a datagram from it was lost, say): a probe as for a candidate, earned
        // by gossip naming it, so two members short of credit toward each other cannot stall.
        const probe = this.#smallPing(intent, key, now);
        const verdict = budget.allowProbe(key, probe.length, now);
        return verdict === true ? probe : void this.#drop(verdict);
      }
      return this.#probe(key, data, now);
    }
    if (ping) {
      // A probe: our record; toward a peer the bootstrap listed, a few more records fit (a
      // deployed peer learns the room from lists), within MAX_PROBE_BYTES.
      const probe = this.#smallPing(intent, key, now, budget.vouched(key) ? MAX_PROBE_BYTES : 0);
      const verdict = budget.allowProbe(key, probe.length, now);
      return verdict === true ? probe : void this.#drop(verdict);
    }
    if (message.type === "APP_R") {
      // The application's own send, right after the join, to the peers the bootstrap listed.
      if (budget.vouched(key)) return data;
      if (!this.#held.hold(key, intent.frame, data.length)) this.#drop("send-budget");
      return undefined;
    }
    return this.#probe(key, data, now); // e.g. a NAT hole-punch PROBE (code 20)
  }

  /** Any other frame toward an unvalidated address out of credit: only as a probe. */
  #probe(key: AddressKey, data: Uint8Array, now: number): Uint8Array | undefined {
    const verdict = this.#sendBudget.allowProbe(key, data.length, now);
    return verdict === true ? data : void this.#drop(verdict);
  }

  /** Queues again what was held for `key` (it answered, or sent more): it passes the gate again. */
  #releaseHeld(key: AddressKey, link: Link): void {
    if (this.#held.size === 0) return;
    for (const frame of this.#held.release(key)) this.#outbox.toLink(link, frame);
  }

  /**
   * Our record (and the destination's, when it is a member with an id): the
   * smallest useful ping; with `room` bytes, filled up with the intent's own
   * list as far as they allow.
   */
  #smallPing(intent: Intent, key: AddressKey, now: number, room = 0): Uint8Array {
    const peers: PeerRecord[] = this.#self ? [this.#self] : [];
    const member = this.#membership.byPath(key);
    if (member !== undefined && member.id !== 0 && this.#self) peers.push(record(member));
    const listed = intent.frame.message.peers;
    const max = Math.floor((room - 7) / 10); // 7-byte header, 10 bytes per record
    if (max > peers.length && listed.length > 0) {
      const all = Array.isArray(listed) ? listed : (listed as PeerList).toArray();
      const have = new Set(peers.map((p) => addressKey(p.ip, p.port)));
      for (const p of all) {
        if (peers.length >= max) break;
        if (!have.has(addressKey(p.ip, p.port))) peers.push(p);
      }
    }
    const frame = new Frame({ type: "PING", peers, payload: EMPTY });
    // Plaintext links only (sealed ones skip the budget): seal() returns the bytes.
    return intent.link?.seal(frame, now) ?? frame.plaintext();
  }

  #drop(reason: PeerDropReason): void {
    const drops = this.#stats.drops;
    drops[reason] = (drops[reason] ?? 0) + 1;
  }

  #fromBootstrap(message: Message, key: AddressKey, now: number): void {
    const bootstrap = this.#bootstrap;
    bootstrap.heardFrom(key);
    if (message.type === "EXTENSION") { // the Olaf dialect, _bootstrap_client.ts
      const outcome = bootstrap.dialectIn(message, now);
      if (outcome.type === "drop") return this.#drop(outcome.reason);
      if (outcome.type === "retry") return this.#requestBootstrap("JOIN_B");
      if (outcome.type === "introduce") { // the bootstrap vouches for the newcomer too
        this.#vouch(outcome.message.peers);
        if (this.#paths) takeIntroductions(this.#paths, bootstrap, now, false); // issue 11: punch
        return this.#learn(outcome.message.peers, undefined, now);
      }
      message = outcome.message;
      if (this.#paths) takeIntroductions(this.#paths, bootstrap, now, true); // issue 11 (WELCOME)
    }
    if (message.type === "ROOM_FULL") {
      const text = bootstrap.roomFull(key);
      if (text !== undefined) {
        this.#events.push({ type: "error", code: "room-full", message: text });
      }
      return;
    }
    if (message.type !== "BOOTSTRAP_R") return this.#drop("unexpected-from-bootstrap");
    bootstrap.replied();
    this.#vouch(message.peers);
    const reported = message.self;
    const first = this.#self === undefined;
    if (reported.port !== 0 && reported.ip !== "0.0.0.0") {
      if (
        first || reported.id !== this.#self!.id || reported.ip !== this.#self!.ip ||
        reported.port !== this.#self!.port
      ) {
        this.#setSelf(reported);
      }
      if (first) {
        this.#events.push({ type: "joined", self: reported });
        for (const m of this.#membership.members.values()) {
          this.#events.push(this.#joinedEvent(m));
        }
      }
    } else if (this.#self !== undefined) {
      bootstrap.rejoinNeeded = true; // the bootstrap does not know us: the room was forgotten
    }
    if (this.#self !== undefined && message.peers.indexOf(this.#self.ip, this.#self.port) < 0) {
      // The room lost us (it expired meanwhile), or this is an Olaf bootstrap's cut reply to an
      // address it has not validated (3x the request). A join echoing the id it issued fixes
      // both; after our first reply, send it now, so we meet the room within one heartbeat.
      if (first && bootstrap.mode === "v1") this.#requestBootstrap("JOIN_B");
      bootstrap.rejoinNeeded = true;
    }
    this.#learn(message.peers, undefined, now);
  }

  /** The bootstrap vouches for the peers it lists, with the ids it issued (issue 12). */
  #vouch(peers: PeerList): void {
    for (let i = 0; i < peers.length; i++) {
      const listed = addressKey(peers.ipAt(i), peers.portAt(i));
      this.#sendBudget.vouch(listed);
      if (this.#sendBudget.vouched(listed)) this.#admission.issued(listed, peers.idAt(i));
    }
  }

  #setSelf(self: PeerRecord): void {
    const oldKey = this.#selfKey;
    this.#self = { ip: self.ip, port: self.port, id: self.id };
    this.#selfKey = addressKey(self.ip, self.port);
    this.#gossip.setSelf(this.#self);
    this.#swim.setSelf(this.#self);
    this.#paths?.setSelf(this.#self); // issue 11
    if (oldKey !== this.#selfKey) {
      this.#membership.forgetPath(this.#selfKey);
      this.#candidatesChanged();
    }
  }

  #bye(key: AddressKey, now: number): void {
    const membership = this.#membership;
    const member = membership.byPath(key);
    membership.candidates.delete(key);
    this.#candidatesChanged();
    if (member === undefined) return;
    membership.remove(member, now); // late gossip about it must not bring it back
    this.#events.push({ type: "peer-left", peer: record(member), reason: "bye" });
    this.#memberGone(member, "bye");
    this.#forgetSession(member);
    this.#swim.left(member, now);
  }

  /** A SWIM message (large rooms): direct evidence of its sender, then the SWIM module. */
  #swimIn(
    known: Member | undefined,
    key: AddressKey,
    ip: string,
    port: number,
    code: number,
    peers: PeerList,
    payload: Uint8Array,
    now: number,
  ): void {
    let message: SwimMessage;
    try {
      message = decodeSwim(code as SwimMessage["code"], peers, payload);
    } catch (error) {
      if (error instanceof ProtocolError) return this.#drop(error.reason);
      throw error;
    }
    const stranger = known === undefined && !this.#membership.candidates.has(key);
    // Only the sender's own record counts as its list (the subjects are the module's).
    const own = PeerList.from([{ ip, port, id: message.sender.record.id }]);
    const member = this.#heardFrom(known, key, ip, port, own, now);
    if (member !== undefined) this.#swim.handle(member, message, stranger, now);
  }

  /** A member SWIM learnt of (gossip, sync page): added without a ping, as an Olaf member. */
  #swimAdd(peer: PeerRecord, now: number): Member | undefined {
    const key = addressKey(peer.ip, peer.port);
    const membership = this.#membership;
    if (key === this.#selfKey || this.#bootstrap.isBootstrap(key)) return undefined;
    if (this.#secure) {
      // A secure room's members are sealed links made by a handshake, never a gossiped address:
      // it becomes a candidate, which gets a (rate-limited) handshake like any other.
      this.#learn(PeerList.from([peer]), undefined, now);
      return undefined;
    }
    const candidate = membership.candidates.get(key);
    if (
      candidate === undefined && membership.size + membership.candidates.size >= membership.maxPeers
    ) {
      this.#drop("peer-limit");
      return undefined;
    }
    const memberId = v1MemberId(key);
    membership.candidates.delete(key);
    membership.tombstones.delete(memberId);
    this.#candidatesChanged();
    const address = candidate?.address ?? { hostname: peer.ip, port: peer.port };
    const member: Member = {
      memberId,
      link: new PlaintextV1Link(address, key),
      id: peer.id || candidate?.id || 0,
      lastSeen: now,
      olaf: true,
    };
    membership.add(member);
    if (this.#self !== undefined) this.#events.push({ type: "peer-joined", peer: record(member) });
    return member;
  }

  /** A member SWIM confirmed dead (`timeout`) or gone (`bye`). */
  #gone(member: Member, reason: PeerLeftReason, now: number): void {
    this.#membership.remove(member, now);
    this.#events.push({ type: "peer-left", peer: record(member), reason });
    this.#memberGone(member, reason);
    this.#forgetSession(member);
  }

  /** Direct evidence from `key` (`known`: its member, if any): refresh or add it, then learn its list. */
  #heardFrom(
    known: Member | undefined,
    key: AddressKey,
    ip: string,
    port: number,
    peers: PeerList,
    now: number,
  ): Member | undefined {
    const membership = this.#membership;
    let member = known;
    const claimedId = ownId(peers, ip, port);
    const olaf = peers.length > 0 && peers.portAt(0) === port && peers.ipAt(0) === ip;
    if (member !== undefined) {
      member.lastSeen = now;
      if (olaf) member.olaf = true;
      if (claimedId !== 0 && claimedId !== member.id) membership.setId(member, claimedId);
    } else {
      const candidate = membership.candidates.get(key);
      if (candidate === undefined && membership.size >= membership.maxPeers) {
        this.#drop("peer-limit");
        return undefined;
      }
      if (candidate === undefined && !this.#admission.admitStranger()) {
        this.#drop("stranger-limit");
        return undefined;
      }
      const memberId = v1MemberId(key);
      membership.candidates.delete(key);
      membership.tombstones.delete(memberId);
      this.#candidatesChanged();
      member = {
        memberId,
        link: new PlaintextV1Link(candidate?.address ?? { hostname: ip, port }, key),
        id: claimedId || candidate?.id || 0,
        lastSeen: now,
        olaf,
      };
      membership.add(member);
      if (this.#self !== undefined) {
        this.#events.push(this.#joinedEvent(member));
      }
      // A sender we had not pinged yet may not know us: answer at once with our list.
      if (candidate === undefined) this.#gossip.welcome(member);
      this.#releaseHeld(key, member.link);
      this.#swim.joined(member, now);
    }
    this.#learn(peers, key, now);
    return member;
  }

  /** A `peer-joined` event; with NAT traversal on, it says how the member is reached. */
  #joinedEvent(member: Member): PeerEvent {
    const peer = record(member);
    const paths = this.#paths;
    return paths === undefined
      ? { type: "peer-joined", peer }
      : { type: "peer-joined", peer, path: paths.kind(member.link.pathKey) };
  }

  /** Gossip or bootstrap list: fill in unknown ids, add unknown peers as candidates. */
  #learn(peers: PeerList, senderKey: AddressKey | undefined, now: number): void {
    const membership = this.#membership;
    const candidates = membership.candidates;
    const fresh: NetAddress[] = [];
    for (let i = 0; i < peers.length; i++) {
      const port = peers.portAt(i);
      const ip = peers.ipAt(i);
      if (port === 0 || ip === "0.0.0.0") continue;
      const key = addressKey(ip, port);
      if (key === senderKey || key === this.#selfKey || this.#bootstrap.isBootstrap(key)) continue;
      if (senderKey !== undefined) this.#sendBudget.mentioned(key); // gossip earns one probe
      const id = peers.idAt(i);
      const member = membership.byPath(key);
      if (member !== undefined) {
        if (member.id === 0 && id !== 0) membership.setId(member, id);
        continue;
      }
      const candidate = candidates.get(key);
      if (candidate !== undefined) {
        if (candidate.id === 0) candidate.id = id;
        continue;
      }
      const memberId = v1MemberId(key);
      if (membership.tombstones.has(memberId)) {
        membership.tombstones.set(memberId, now);
        continue;
      }
      if (membership.size + candidates.size >= membership.maxPeers) {
        this.#drop("peer-limit");
        return;
      }
      const address = { hostname: ip, port };
      if (candidates.size === 0) this.#timers.set("candidates", now + CANDIDATE_RETRY_MS);
      candidates.set(key, { address, id, addedAt: now });
      fresh.push(address);
    }
    // Pinged once the whole list is counted: a bootstrap reply naming 100 members of a large
    // room means a few pings (the sync brings the rest), not one to each of the first 64.
    const pings = Math.min(
      fresh.length,
      this.#swim.candidatePings() - (candidates.size - fresh.length),
    );
    for (let i = 0; i < pings; i++) this.#gossip.pingNow(fresh[i]!);
  }

  /** Pings the candidates (in a large room only a few: the member-list sync brings the rest). */
  #pingCandidates(): void {
    let left = this.#swim.candidatePings();
    for (const c of this.#membership.candidates.values()) {
      if (left-- <= 0) break;
      this.#gossip.pingNow(c.address);
    }
  }

  /** The candidate retry timer runs only while there are candidates. */
  #candidatesChanged(): void {
    if (this.#membership.candidates.size === 0) this.#timers.clear("candidates");
  }

  // --- secure rooms (issue 10) ----------------------------------------------

  /** A HANDSHAKE/SEALED from a peer address: to the secure layer, then its events. */
  #secureIn(data: Uint8Array, key: AddressKey, now: number): void {
    const endpoint = this.#endpoint;
    const before = endpoint.drops;
    let dropped = 0;
    for (const n of Object.values(before)) dropped += n;
    endpoint.handleDatagram(now, data, key);
    let after = 0;
    for (const n of Object.values(endpoint.drops)) after += n;
    if (after > dropped) this.#drop("secure");
    this.#secureEvents(now);
  }

  /** Turns the secure layer's events into members, messages and room events. */
  #secureEvents(now: number): void {
    const endpoint = this.#endpoint;
    for (let e = endpoint.pollEvent(); e !== undefined; e = endpoint.pollEvent()) {
      switch (e.type) {
        case "session":
          this.#onSession(e.publicKey, e.address as AddressKey, e.rekey, e.initiator, now);
          break;
        case "message": {
          const member = this.#sealedMember(e.publicKey, e.address as AddressKey, now);
          if (member === undefined) break;
          this.#sealedMessage(member, e.datagram, now);
          break;
        }
        case "wrong-secret":
          if (!this.#secure) break; // an open room has no secret to be wrong about
          this.#events.push({
            type: "error",
            code: "wrong-secret",
            message: `${e.address} tried to join room ${JSON.stringify(this.#room)} with a ` +
              "different room secret (its handshake is not for this room's secret); ignored",
          });
          break;
        case "refused-key":
          if (!this.#refusedReports.allow(encodePublicKey(e.publicKey), now)) break;
          this.#events.push({
            type: "error",
            code: "refused-key",
            message: `${e.address} proved public key ${encodePublicKey(e.publicKey)}, ` +
              "which is not on the allow-list; no session",
          });
          break;
        case "handshake-failed":
        case "handshake-timeout":
          // Counted by the secure layer (stats.secure); candidates time out as usual.
          if (!this.#secure) this.#handshakeLost(e.address as AddressKey, now);
          break;
      }
    }
  }

  /**
   * A session is up. The peer becomes a member only when a SEALED from it arrives (a responder
   * whose allow-list refused us has no session, and must not look like a member to us): send
   * it our list now, sealed, so that it answers.
   */
  #onSession(
    publicKey: Uint8Array,
    from: AddressKey,
    rekey: boolean,
    initiator: boolean,
    now: number,
  ): void {
    const member = this.#sealed.get(encodePublicKey(publicKey));
    if (member !== undefined) {
      this.#sealedMember(publicKey, from, now);
      return;
    }
    // Open room: the responder seals from now on and confirms at once with a sealed PING (its
    // own record, then the initiator's: it names its destination, so needs no answer); the
    // initiator seals once a SEALED shows the responder has the session (XX's message 3 may be
    // lost: sealing before would lose data until it is repeated).
    if (!this.#secure) {
      if (initiator || !this.#upgrade(publicKey, from) || this.#self === undefined) return;
      const peer = record(this.#membership.byPath(from)!);
      const confirm = new Frame({ type: "PING", peers: [this.#self, peer], payload: EMPTY });
      // If it is lost, the initiator's plaintext data makes us check the session in 3 s, and
      // that IK handshake's answer seals its side (#plainFromSealed).
      this.#endpoint.send(now, publicKey, confirm.plaintext());
      return;
    }
    if (rekey) return;
    this.#membership.candidates.delete(from); // no more handshakes to it
    this.#candidatesChanged();
    this.#endpoint.send(now, publicKey, this.#gossip.fullPing().plaintext());
  }

  /**
   * The member behind an authenticated SEALED: made on the first one (direct, verified
   * evidence), found by public key afterwards; its path follows the secure layer (roaming).
   */
  #sealedMember(publicKey: Uint8Array, from: AddressKey, now: number): Member | undefined {
    const membership = this.#membership;
    const hex = encodePublicKey(publicKey);
    let member = this.#sealed.get(hex);
    const path = (this.#endpoint.addressOf(publicKey) ?? from) as AddressKey;
    // A secure member is its key; an open room's is still its address (its key proves nothing).
    const memberId = (this.#secure ? hex : v1MemberId(path)) as MemberId;
    if (member !== undefined) {
      member.lastSeen = now;
      if (member.link.pathKey !== path && member.link instanceof SealedLink) {
        const link = member.link;
        const other = membership.byPath(path);
        if (other !== undefined && other !== member) membership.forgetPath(path);
        membership.move(member, path, (k) => link.moveTo(k));
      }
      return member;
    }
    if (path === this.#selfKey) return undefined;
    if (this.#upgrade(publicKey, path)) {
      member = membership.byPath(path)!;
      member.lastSeen = now;
      return member;
    }
    if (!this.#secure) return undefined; // open rooms: a session never makes a member
    const candidate = membership.candidates.get(path);
    if (candidate === undefined && membership.size >= membership.maxPeers) {
      this.#drop("peer-limit");
      return undefined;
    }
    membership.candidates.delete(path);
    membership.tombstones.delete(memberId);
    membership.tombstones.delete(v1MemberId(path));
    this.#candidatesChanged();
    member = {
      memberId,
      link: new SealedLink(this.#endpoint, publicKey, path, this.#secure),
      id: candidate?.id ?? 0,
      lastSeen: now,
      olaf: true,
    };
    const stale = membership.byPath(path);
    if (stale !== undefined) {
      // Another key now speaks from this address: the old member moved away or is gone.
      membership.remove(stale, now);
      this.#events.push({ type: "peer-left", peer: record(stale), reason: "timeout" });
      this.#memberGone(stale, "timeout");
      this.#forgetSession(stale);
    }
    membership.add(member);
    this.#sealed.set(hex, member);
    if (this.#self !== undefined) this.#events.push({ type: "peer-joined", peer: record(member) });
    return member; // it has our list: we sent it when the session came up
  }

  /** An inner datagram from a member: its sender is the member's verified key. */
  #sealedMessage(member: Member, datagram: Uint8Array, now: number): void {
    if (member.link instanceof OpportunisticLink) {
      member.link.sealedInAt = now;
      member.link.plainSince = -1;
    }
    if (isReliableDatagram(datagram)) return this.#reliableIn(member, datagram, now);
    let message: Message;
    try {
      message = member.link.open(datagram, now);
    } catch (error) {
      if (error instanceof ProtocolError) return this.#drop(error.reason);
      throw error;
    }
    const path = member.link.path;
    this.#fromPeer(message, member, member.link.pathKey, path.hostname, path.port, now);
  }

  /**
   * A frame for an address with no link. In a secure room only bootstraps get plaintext: a
   * member's address goes through its sealed link, any other address (candidate, stranger) gets
   * a handshake instead (at a bounded rate) and the frame is dropped; gossip reaches it once it
   * is a member.
   */
  #toPath(to: NetAddress, frame: Frame): void {
    if (this.#secure) {
      const key = addressKey(to.hostname, to.port);
      if (!this.#bootstrap.isBootstrap(key)) {
        const member = this.#membership.byPath(key);
        if (member !== undefined) return void this.#intents.push({ frame, link: member.link, to });
        if (this.#left) return; // a bye to a candidate: nothing to say without a session
        if (!this.#handshakeBudget.take(this.#now)) return;
        // IK when the bootstrap's WELCOME / INTRODUCE gave the member's key, else XX.
        this.#endpoint.connect(this.#now, key, this.#bootstrap.members.get(key)?.publicKey);
        return;
      }
    }
    this.#intents.push({ frame, link: undefined, to });
  }

  /**
   * Open room: the Olaf member at `path` has a session with `publicKey`: its link seals
   * application data from now on. Another key at the same address (the peer restarted) replaces
   * the old session.
   */
  #upgrade(publicKey: Uint8Array, path: AddressKey): boolean {
    const member = this.#membership.byPath(path);
    if (this.#secure || member === undefined || !member.olaf) return false;
    const old = member.link;
    if (old instanceof SealedLink) {
      if (old.keyHex === encodePublicKey(publicKey)) return true; // a rekey
      this.#endSession(old);
    }
    const link = new OpportunisticLink(this.#endpoint, publicKey, path, false);
    link.reliable = old.reliable;
    member.link = link;
    this.#sealed.set(link.keyHex, member);
    this.#opp.sealed(path);
    this.#events.push({ type: "link", peer: record(member), encrypted: true });
    return true;
  }

  /**
   * Open room: plaintext application data from a member whose link is sealed. Its side may have
   * lost the session (a restart keeps the address). A restarted Olaf peer starts a handshake
   * itself (it has data for us), which replaces the session; if plaintext still comes
   * CHECK_AFTER_MS later with no sealed data in between (it runs with opportunistic encryption
   * off, say), an IK handshake to the key we know tells; if that goes unanswered, the link goes
   * back to plaintext (#handshakeLost).
   */
  #plainFromSealed(member: Member, now: number): void {
    const link = member.link as OpportunisticLink;
    link.plainInAt = now;
    if (link.plainSince < 0) link.plainSince = now;
    if (now - link.plainSince >= CHECK_AFTER_MS && this.#opp.check(link.pathKey, now)) {
      this.#endpoint.connect(now, link.pathKey, link.publicKey);
    }
  }

  /** Open room: a handshake to `key` failed or went unanswered. */
  #handshakeLost(key: AddressKey, now: number): void {
    const member = this.#membership.byPath(key);
    if (member?.link instanceof OpportunisticLink) {
      // A rekey or a check went unanswered. Only when its latest application data came in
      // plaintext has the member lost our session (it restarted, say); else loss ate the
      // handshake and the session still works.
      const link = member.link;
      if (link.plainInAt <= link.sealedInAt) return;
      this.#forgetSession(member);
      const plain = new PlaintextV1Link(link.path, link.pathKey);
      plain.reliable = link.reliable;
      member.link = plain;
      this.#events.push({ type: "link", peer: record(member), encrypted: false });
      return;
    }
    this.#opp.failed(key, now);
  }

  /**
   * At a heartbeat, open rooms of at most EAGER_MAX_MEMBERS (not SWIM's large rooms): the lower
   * address of a pair upgrades a member heard from for EAGER_AFTER_MS in the background, paced,
   * so that most application data finds the link sealed (a one-shot sender gets nothing).
   */
  #eagerUpgrade(member: Member, now: number): void {
    const key = member.link.pathKey;
    if (
      !member.olaf || member.link.kind !== "v1-plaintext" ||
      this.#selfKey === "" || !(this.#selfKey < key) ||
      !this.#sendBudget.seasoned(key, Math.max(this.#heartbeatMs, EAGER_AFTER_MS))
    ) return;
    this.#opp.eager(key, now);
  }

  /** Whether this room upgrades eagerly at all (checked once a heartbeat, not per member). */
  #eagerRoom(): boolean {
    return this.#opportunistic && !this.#swim.large &&
      this.#membership.size <= EAGER_MAX_MEMBERS;
  }

  /** Open rooms: application data to an Olaf member on plaintext starts its upgrade (lazy). */
  #appOut(link: Link, datagram: Uint8Array, now: number): void {
    if (!this.#opportunistic || link.kind !== "v1-plaintext" || this.#selfKey === "") return;
    const member = this.#membership.byPath(link.pathKey);
    if (member?.olaf === true && member.link === link) this.#opp.out(link.pathKey, datagram, now);
  }

  /** A member left: its sessions stop decrypting. */
  #forgetSession(member: Member): void {
    this.#opp.forget(member.link.pathKey);
    if (member.link instanceof SealedLink) this.#endSession(member.link);
  }

  /** The link's session stops decrypting, and its key no longer finds the member. */
  #endSession(link: SealedLink): void {
    this.#endpoint.remove(link.publicKey);
    this.#sealed.delete(link.keyHex);
  }

  // --- reliable ---------------------------------------------------------------

  /**
   * The member's reliable engine, made on first use, and made again after it
   * gave up (a link that gave up fails every later send; the member is still
   * here, so try afresh: the peer sees a new incarnation and resets).
   */
  #engine(member: Member, renewFailed = false): ReliableLink {
    let engine = member.link.reliable;
    const failure = engine?.failure;
    if (renewFailed && failure !== undefined) {
      this.#reliableEvents(member); // settle what the old engine reported
      const pending = this.#pending.get(member);
      for (const handle of pending?.values() ?? []) {
        this.#events.push({
          type: "delivery-failed",
          peer: record(member),
          handle,
          error: failure,
        });
      }
      pending?.clear();
      engine = undefined;
    }
    if (engine === undefined) {
      engine = member.link.reliable = new ReliableLink(this.#reliableOptions);
      this.#reliable.add(member);
    }
    return engine;
  }

  /** A `DATA`/`ACK`: to the member's engine; from anyone else, dropped without a reply. */
  #reliableIn(known: Member | undefined, data: Uint8Array, now: number): void {
    if (known === undefined) return this.#drop("reliable-from-stranger");
    known.lastSeen = now; // direct evidence
    known.olaf = true; // only Olaf peers speak DATA/ACK
    if (this.#engine(known).handleDatagram(data, now) !== undefined) {
      this.#drop("reliable-invalid");
    }
    this.#reliableEvents(known);
  }

  /** The next datagram any engine wants sent, round-robin over members. */
  #reliableOut(now: number): Transmit | undefined {
    for (const m of this.#reliable) {
      const data = m.link.reliable!.pollTransmit(now);
      if (data === undefined) continue;
      // Next poll starts with the following member, so one bulk sender cannot starve the rest.
      this.#reliable.delete(m);
      this.#reliable.add(m);
      this.#reliableEvents(m);
      this.#appOut(m.link, data, now);
      const sealed = m.link.sealDatagram(data, now);
      if (sealed === undefined) continue; // waits in the secure layer for the session
      return this.#counted({ data: sealed, to: m.link.path });
    }
    return undefined;
  }

  /** Turns the engine's events into machine events. */
  #reliableEvents(member: Member): void {
    const engine = member.link.reliable;
    if (engine === undefined) return;
    const pending = this.#pending.get(member);
    for (let e = engine.pollEvent(); e !== undefined; e = engine.pollEvent()) {
      switch (e.type) {
        case "message":
          this.#events.push({
            type: "message",
            from: record(member),
            data: e.data,
            reliable: true,
            ordered: e.ordered,
          });
          break;
        case "delivered":
        case "failed": {
          const handle = pending?.get(e.handle);
          if (handle === undefined) break;
          pending!.delete(e.handle);
          this.#events.push(
            e.type === "delivered"
              ? { type: "delivered", peer: record(member), handle, latencyMs: e.latencyMs }
              : { type: "delivery-failed", peer: record(member), handle, error: e.error },
          );
          break;
        }
        case "writable":
          this.#events.push({ type: "writable", peer: record(member) });
          break;
      }
    }
  }

  /** A member left: its unsettled reliable sends fail, its engine goes. */
  #memberGone(member: Member, reason: PeerLeftReason): void {
    if (member.link.reliable === undefined) return;
    this.#reliableEvents(member); // what the engine settled first
    const pending = this.#pending.get(member);
    this.#pending.delete(member);
    this.#reliable.delete(member);
    member.link.reliable = undefined;
    if (pending === undefined) return;
    const peer = record(member);
    for (const handle of pending.values()) {
      this.#events.push({
        type: "delivery-failed",
        peer,
        handle,
        error: new PeerLeftError(member.link.pathKey, reason),
      });
    }
  }

  // --- outgoing ---------------------------------------------------------------

  #heartbeat(now: number): void {
    const membership = this.#membership;
    this.#gossip.newHeartbeat();
    this.#admission.newHeartbeat();
    this.#swim.heartbeat(now); // before expiry: leaving large-room mode refreshes members
    const swimWatched = this.#swim.large ? (m: Member) => m.olaf : undefined;
    for (const m of membership.expire(now, this.#peerTimeoutMs, swimWatched)) {
      this.#events.push({ type: "peer-left", peer: record(m), reason: "timeout" });
      this.#memberGone(m, "timeout");
      this.#forgetSession(m);
    }
    // Frames held for candidates that never answered go with them.
    const unsent = this.#held.prune((key) =>
      membership.candidates.has(key) || membership.byPath(key) !== undefined
    );
    for (let i = 0; i < unsent; i++) this.#drop("send-budget");

    const unreachable = this.#bootstrap.track(now);
    if (unreachable !== undefined) {
      this.#events.push({ type: "error", code: "bootstrap-unreachable", message: unreachable });
    }

    if (membership.size === 0) {
      this.#requestBootstrap("JOIN_B");
    } else {
      this.#gossip.heartbeat();
      // Members found us before our own BOOTSTRAP_R arrived (it was lost): keep asking.
      if (this.#self === undefined) this.#requestBootstrap("JOIN_B");
      if (this.isCollector) {
        // A deployed bootstrap only counts JOIN_B as activity (defect 2): re-join with our
        // record often enough that its 15 s room timeout never fires while we are alive.
        const bootstrap = this.#bootstrap;
        this.#requestBootstrap(
          this.#collector.nextRequest(bootstrap.rejoinNeeded, bootstrap.misses),
        );
      } else {
        this.#collector.stepDown();
        if (this.#bootstrap.refreshDue(now)) this.#requestBootstrap("JOIN_B");
      }
    }
    this.#pingCandidates();
  }

  #requestBootstrap(type: "JOIN_B" | "PEER_COLLECTOR"): void {
    let peers: PeerRecord[];
    if (type === "JOIN_B") {
      peers = this.#self === undefined ? [] : [this.#self];
    } else {
      const fit = peersThatFit(this.#budget, {
        type: "PEER_COLLECTOR",
        payloadBytes: this.#roomBytes,
      });
      // Oldest first; members whose id we do not know go last with id 0 (an Olaf
      // bootstrap keeps the id it has for them, or assigns one, and tells us in its reply).
      // Unvalidated members go with id 0, and the bootstrap's listing of them later proves
      // nothing (it is our own report coming back): issue 12.
      const budget = this.#sendBudget;
      peers = Collector.report(this.#self!, this.#membership.members.values(), fit, (m) => {
        if (budget.validated(m.link.pathKey)) return true;
        budget.introduce(m.link.pathKey);
        return false;
      });
    }
    const { frame, to } = this.#bootstrap.request(type, peers, this.#now);
    this.#outbox.toPath(to, frame);
  }

  /** Whether a received list names us. */
  #namesSelf(peers: PeerList): boolean {
    const self = this.#self;
    if (self === undefined) return true; // we cannot tell: do not answer
    return peers.indexOf(self.ip, self.port) >= 0;
  }

  /** Queues `frame` to every member and every candidate; returns how many. */
  #toEveryone(frame: Frame): number {
    const membership = this.#membership;
    for (const m of membership.members.values()) this.#outbox.toLink(m.link, frame);
    for (const c of membership.candidates.values()) this.#outbox.toPath(c.address, frame);
    return membership.size + membership.candidates.size;
  }

  #appFrame(payload: Uint8Array): Frame {
    if (this.#left) throw new RangeError("cannot send after leaving the room");
    const peers = this.#self ? [this.#self] : [];
    if (payload.length > MAX_DATAGRAM_BYTES - 17 - (this.#secure ? SEALED_OVERHEAD : 0)) {
      throw new RangeError(`payload of ${payload.length} bytes does not fit a UDP datagram`);
    }
    // A copy: the bytes are encoded at poll time, and the caller may reuse its buffer.
    return new Frame({ type: "APP_R", peers, payload: payload.slice() });
  }
}

/** A limit: a whole number >= 0, where 0 switches it off (no bound). */
function limit(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number >= 0 (0: no limit), got ${value}`);
  }
  return value === 0 ? Infinity : value;
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

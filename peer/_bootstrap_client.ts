/**
 * The peer's side of the bootstrap protocol: ranking of the bootstraps
 * (rendezvous hashing of the room name), failover after unanswered
 * requests, the way back to the preferred one, and the `JOIN_B` /
 * `PEER_COLLECTOR` requests themselves.
 *
 * With {@linkcode OlafJoinOptions} it speaks the Olaf dialect (codes 24..28,
 * `@olaf/protocol/dialect`): `JOIN_O` instead of `JOIN_B` (answering a
 * `TOKEN` by retrying with it, and caching the token), `REPORT_O` instead of
 * `PEER_COLLECTOR`; a `WELCOME` becomes the equivalent `BOOTSTRAP_R` for the
 * machine, and each `INTRODUCE` is queued on {@linkcode BootstrapClient.introductions}
 * (and its newcomer made a candidate at once, so both sides send together).
 * An open room whose bootstrap answers no `JOIN_O` twice in a row falls back
 * to v1 `JOIN_B` (a deployed Python bootstrap ignores code 24) and logs it
 * once; a secure room never falls back.
 */
import { getLogger } from "@logtape/logtape";
import {
  type AddressKey,
  addressKey,
  type BootstrapReplyMessage,
  decode,
  encode,
  type ExtensionMessage,
  type PeerRecord,
  ProtocolError,
  type ProtocolErrorReason,
} from "@olaf/protocol";
import {
  type DialectMember,
  type DialectMessage,
  encodeDialect,
  isDialectDatagram,
  parseDialect,
} from "@olaf/protocol/dialect";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { Frame } from "./_link.ts";
import { rendezvousOrder } from "./_util.ts";

/**
 * How an Olaf peer joins through the Olaf bootstrap dialect
 * (`PeerMachineOptions.dialect`). Without it, the peer speaks v1 only.
 */
export interface OlafJoinOptions {
  /** The room key the bootstrap sees; default the room name. A secure room's tag as 32 hex digits. */
  roomKey?: string;
  /** A secure room: `roomKey` is its tag, `publicKey` is required, no v1 fallback. */
  secure?: boolean;
  /** Our 32-byte public key (the identity of a secure room's member). */
  publicKey?: Uint8Array;
  /** Our LAN addresses (at most 4), told to the bootstrap for introductions. */
  candidates?: readonly { readonly ip: string; readonly port: number }[];
  /** Ask for introductions to the room's Olaf members, default `true`. */
  introductions?: boolean;
}

/** An `INTRODUCE` from the bootstrap: `peer` just joined and wants a path to us; punch now. */
export interface Introduction {
  /** The newcomer: record (public address, id), public key, LAN candidates, NAT hint. */
  readonly peer: DialectMember;
  /** The token both sides put in their path probes. */
  readonly punchToken: Uint8Array;
  /** When it arrived (machine time, ms). */
  readonly at: number;
}

/** A bounded FIFO of introductions; past its capacity the oldest goes. */
export class IntroductionQueue {
  readonly #items: Introduction[] = [];
  /** Most introductions kept. */
  readonly capacity: number;
  /** Introductions dropped because nobody took them. */
  dropped = 0;
  /**
   * Creates an empty queue.
   *
   * @param capacity Most introductions kept, default 64.
   */
  constructor(capacity = 64) {
    this.capacity = capacity;
  }
  /** Queued introductions. */
  get size(): number {
    return this.#items.length;
  }
  /** Adds one (the oldest goes when full). */
  push(item: Introduction): void {
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.dropped++;
    }
    this.#items.push(item);
  }
  /** The oldest introduction, removed, or `undefined`. */
  shift(): Introduction | undefined {
    return this.#items.shift();
  }
}

/** What the machine does with a dialect datagram from the bootstrap. */
export type DialectOutcome =
  /** A `TOKEN`: send the join again now (it carries the token). */
  | { readonly type: "retry" }
  /** A `WELCOME`, as the `BOOTSTRAP_R` it stands for (our record in the list too). */
  | { readonly type: "reply"; readonly message: BootstrapReplyMessage }
  /** An `INTRODUCE` (queued): these records are candidates to ping now. */
  | { readonly type: "introduce"; readonly message: BootstrapReplyMessage }
  /** Dropped, for this reason. */
  | { readonly type: "drop"; readonly reason: ProtocolErrorReason | "unexpected-from-bootstrap" };

/**
 * What the machine and the modules that punch may read of the Olaf join
 * (`PeerMachine.olafJoin`).
 */
export interface OlafJoinState {
  /** `"olaf"` while joining with the dialect, `"v1"` without it or after falling back. */
  readonly mode: "olaf" | "v1";
  /** Introductions from the bootstrap, oldest first (64 kept); whoever punches takes them. */
  readonly introductions: {
    /** Introductions waiting. */
    readonly size: number;
    /** Introductions dropped because nobody took them in time. */
    readonly dropped: number;
    /** The oldest introduction, removed, or `undefined`. */
    shift(): Introduction | undefined;
  };
  /** What the latest `WELCOME` (and later `INTRODUCE`s) said of each member, by `"ip:port"`. */
  readonly members: ReadonlyMap<AddressKey, DialectMember>;
  /** The punch token of our latest `WELCOME` (members flagged `introduced` hold it too). */
  readonly punchToken: Uint8Array | undefined;
}

/**
 * A member that is not the collector re-joins this often with `JOIN_O`, so
 * that its address stays validated at the bootstrap (`validationTtlMs`, 60 s by default) and it keeps
 * receiving introductions; within the token's life, so no `TOKEN` round trip.
 */
export const DIALECT_REFRESH_MS = 45_000;

/** Olaf joins answered by nothing, in a row, before an open room falls back to `JOIN_B`. */
export const DIALECT_FALLBACK_MISSES = 2;
/** Joins re-sent on `TOKEN`s within one heartbeat, at most (a looping bootstrap costs little). */
const MAX_TOKEN_RETRIES = 2;
const log = getLogger(["olaf", "peer", "bootstrap"]);

/** Bootstrap selection and request bookkeeping for one room. */
export class BootstrapClient implements OlafJoinState {
  readonly #room: string;
  readonly #list: NetAddress[];
  readonly #keys: Set<AddressKey>;
  readonly #maxMisses: number;
  readonly #retryMs: number;
  #index = 0;
  #fallbackSince = 0;
  #awaitingReply = false;
  #misses = 0;
  /** The bootstrap does not list us (it forgot the room): the next request is a `JOIN_B`. */
  rejoinNeeded = false;
  #roomFullReported = false;
  #unreachableReported = false;
  // The Olaf dialect (undefined: v1 only).
  readonly #dialect: OlafJoinOptions | undefined;
  #mode: "olaf" | "v1";
  #token: Uint8Array | undefined;
  #heardDialect = false;
  #dialectMisses = 0;
  #tokenRetries = 0;
  #fallbackLogged = false;
  #lastJoinAt = -Infinity;
  /** Introductions from the bootstrap, for the modules that punch (h-nat). */
  readonly introductions: IntroductionQueue = new IntroductionQueue();
  /** What the latest `WELCOME` said of each member (key, LAN candidates, NAT), by address. */
  readonly members: Map<AddressKey, DialectMember> = new Map();
  /** The punch token of our latest `WELCOME` (members flagged `introduced` hold it too). */
  punchToken: Uint8Array | undefined;

  constructor(
    room: string,
    bootstraps: readonly NetAddress[],
    misses: number,
    retryMs: number,
    dialect?: OlafJoinOptions,
  ) {
    if (dialect?.secure && dialect.publicKey === undefined) {
      throw new RangeError("a secure room's Olaf join needs the peer's public key");
    }
    if ((dialect?.candidates?.length ?? 0) > 4) {
      throw new RangeError("at most 4 LAN candidates are told to the bootstrap");
    }
    this.#dialect = dialect;
    this.#mode = dialect === undefined ? "v1" : "olaf";
    this.#room = room;
    this.#list = rendezvousOrder(room, bootstraps);
    this.#keys = new Set(this.#list.map((b) => addressKey(b.hostname, b.port)));
    this.#maxMisses = misses;
    this.#retryMs = retryMs;
  }

  /** `"olaf"` while joining with the dialect, `"v1"` without it or after falling back. */
  get mode(): "olaf" | "v1" {
    return this.#mode;
  }

  /** The bootstrap in use. */
  get current(): NetAddress {
    return this.#list[this.#index]!;
  }

  /** Unanswered requests in a row to the current bootstrap. */
  get misses(): number {
    return this.#misses;
  }

  /** Whether `pathKey` is one of the bootstraps. */
  isBootstrap(pathKey: AddressKey): boolean {
    return this.#keys.has(pathKey);
  }

  /** A datagram came from bootstrap `pathKey`: an answer, if it is the current one. */
  heardFrom(pathKey: AddressKey): void {
    const current = this.current;
    if (pathKey !== addressKey(current.hostname, current.port)) return;
    this.#awaitingReply = false;
    this.#misses = 0;
    this.#unreachableReported = false;
  }

  /**
   * A `ROOM_FULL`: the description to report, once until the next `BOOTSTRAP_R`.
   *
   * @returns The message, or `undefined` when it was reported already.
   */
  roomFull(pathKey: AddressKey): string | undefined {
    if (this.#roomFullReported) return undefined;
    this.#roomFullReported = true;
    return `bootstrap ${pathKey} refused room ${JSON.stringify(this.#room)}: ROOM_FULL ` +
      "(it is at its room or member limit)";
  }

  /** A `BOOTSTRAP_R` arrived: a later `ROOM_FULL` is news again. */
  replied(): void {
    this.#roomFullReported = false;
  }

  /**
   * Once a heartbeat: counts an unanswered request, fails over after too
   * many, and returns to the preferred bootstrap after the retry time.
   *
   * @returns A `bootstrap-unreachable` description to report, if any.
   */
  track(now: number): string | undefined {
    this.#tokenRetries = 0;
    if (this.#awaitingReply) {
      this.#awaitingReply = false;
      this.#misses++;
      if (this.#mode === "olaf" && !this.#heardDialect && !this.#dialect!.secure) {
        if (++this.#dialectMisses >= DIALECT_FALLBACK_MISSES) this.#fallBack();
      }
    }
    if (this.#misses >= this.#maxMisses) {
      const dead = this.current;
      const many = this.#list.length > 1;
      this.#misses = 0;
      if (many) {
        this.#index = (this.#index + 1) % this.#list.length;
        this.#fallbackSince = now;
        this.#newBootstrap();
      }
      if (this.#unreachableReported) return undefined;
      this.#unreachableReported = !many;
      const next = this.current;
      return `bootstrap ${dead.hostname}:${dead.port} did not answer ` +
        `${this.#maxMisses} requests in a row` +
        (many ? `; trying ${next.hostname}:${next.port}` : "");
    }
    if (this.#index !== 0 && now - this.#fallbackSince >= this.#retryMs) {
      this.#index = 0; // come back to the preferred bootstrap: it may be up again
      this.#misses = 0;
      this.#newBootstrap();
    }
    return undefined;
  }

  /**
   * A request to the current bootstrap (an answer is now awaited).
   *
   * @param peers `JOIN_B`: our record once known; `PEER_COLLECTOR`: the member report.
   */
  request(
    type: "JOIN_B" | "PEER_COLLECTOR",
    peers: PeerRecord[],
    now = 0,
  ): { frame: Frame; to: NetAddress } {
    if (type === "JOIN_B") this.rejoinNeeded = false;
    this.#awaitingReply = true;
    if (this.#mode === "v1") {
      return { frame: new Frame({ type, peers, room: this.#room }), to: this.current };
    }
    const d = this.#dialect!;
    if (type === "JOIN_B") this.#lastJoinAt = now;
    const room = d.roomKey ?? this.#room;
    const secure = d.secure ?? false;
    const token = this.#token ? { token: this.#token } : {};
    const message: DialectMessage = type === "JOIN_B"
      ? {
        type: "JOIN_O",
        room,
        secure,
        ...token,
        ...(d.publicKey ? { publicKey: d.publicKey } : {}),
        candidates: d.candidates ?? [],
        introductions: d.introductions ?? true,
      }
      : { type: "REPORT_O", room, secure, ...token, members: peers };
    return { frame: dialectFrame(message), to: this.current };
  }

  /**
   * A dialect datagram (code 24..28) from the current bootstrap.
   *
   * @param message The v1 decoder's `EXTENSION`.
   * @param now Machine time.
   * @returns What the machine does next.
   */
  dialectIn(message: ExtensionMessage, now: number): DialectOutcome {
    if (this.#dialect === undefined || !isDialectCode(message.code)) {
      return { type: "drop", reason: "unexpected-from-bootstrap" };
    }
    let m: DialectMessage;
    try {
      m = parseDialect(message);
    } catch (error) {
      if (error instanceof ProtocolError) return { type: "drop", reason: error.reason };
      throw error;
    }
    this.#heardDialect = true;
    this.#dialectMisses = 0;
    if (this.#mode === "v1") this.#mode = "olaf"; // it speaks the dialect after all
    switch (m.type) {
      case "TOKEN":
        this.#token = m.token;
        if (this.#tokenRetries >= MAX_TOKEN_RETRIES) {
          return { type: "drop", reason: "unexpected-from-bootstrap" };
        }
        this.#tokenRetries++;
        return { type: "retry" };
      case "WELCOME": {
        this.#token = m.token;
        this.punchToken = m.punchToken;
        this.members.clear();
        for (const member of m.members) {
          this.members.set(addressKey(member.record.ip, member.record.port), member);
        }
        const peers = [...m.members.map((x) => x.record), m.self];
        return { type: "reply", message: asReply(peers, m.self) };
      }
      case "INTRODUCE":
        this.introductions.push({ peer: m.peer, punchToken: m.punchToken, at: now });
        this.members.set(addressKey(m.peer.record.ip, m.peer.record.port), m.peer);
        return { type: "introduce", message: asReply([m.peer.record], m.peer.record) };
      default:
        return { type: "drop", reason: "unexpected-from-bootstrap" };
    }
  }

  /** Whether a member that is not the collector should re-join now (Olaf dialect only). */
  refreshDue(now: number): boolean {
    return this.#mode === "olaf" && now - this.#lastJoinAt >= DIALECT_REFRESH_MS;
  }

  #fallBack(): void {
    this.#mode = "v1";
    this.#dialectMisses = 0;
    if (this.#fallbackLogged) return;
    this.#fallbackLogged = true;
    const b = this.current;
    log.warn(
      "bootstrap {bootstrap} answered no Olaf join (code 24) twice: joining room {room} with v1 " +
        "JOIN_B (a v1 bootstrap; no address tokens, keys or introductions)",
      { bootstrap: `${b.hostname}:${b.port}`, room: this.#room },
    );
  }

  /** Another bootstrap: its tokens and dialect support are its own. */
  #newBootstrap(): void {
    this.#token = undefined;
    this.#heardDialect = false;
    this.#dialectMisses = 0;
    if (this.#dialect !== undefined) this.#mode = "olaf";
  }
}

function isDialectCode(code: number): boolean {
  return code >= 24 && code <= 28;
}

/** A dialect message as a frame the machine's outbox takes. */
function dialectFrame(message: DialectMessage): Frame {
  const bytes = encodeDialect(message);
  const m = decode(bytes);
  if (m.type !== "EXTENSION" || !isDialectDatagram(bytes)) throw new Error("unreachable");
  return new Frame({
    type: "EXTENSION",
    code: m.code,
    peers: m.peers.toArray(),
    payload: m.payload,
  });
}

/** The `BOOTSTRAP_R` that lists `peers` for `self`: how the machine reads a welcome. */
function asReply(peers: PeerRecord[], self: PeerRecord): BootstrapReplyMessage {
  const m = decode(encode({ type: "BOOTSTRAP_R", peers, self }));
  if (m.type !== "BOOTSTRAP_R") throw new Error("unreachable");
  return m;
}

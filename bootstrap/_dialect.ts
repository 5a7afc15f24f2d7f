/**
 * The bootstrap side of the Olaf dialect (codes 24..28, `@olaf/protocol/dialect`):
 * stateless address tokens, `JOIN_O` -> `TOKEN` or `WELCOME`, `INTRODUCE` to
 * the room's other Olaf members, and `REPORT_O` from validated members.
 *
 * It owns only what v1 has no place for (each Olaf member's public key, LAN
 * candidates and wish for introductions) and drives the core's rooms through
 * a small {@linkcode DialectHost}, so v1 and Olaf members share one room:
 * v1 members appear in `WELCOME` without a key, Olaf members in v1
 * `BOOTSTRAP_R` as plain records.
 *
 * Amplification: the only reply to an address that has not echoed a token is
 * a 31-byte `TOKEN` (the smallest `JOIN_O` is 11 bytes), and nothing at all
 * answers an unvalidated `REPORT_O`. `WELCOME` and `INTRODUCE` go only to
 * validated addresses.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  decode,
  type DecodeOptions,
  formatIPv4,
  type PeerList,
  ProtocolError,
} from "@olaf/protocol";
import {
  type Candidate,
  type DialectMember,
  encodeDialect,
  type JoinOMessage,
  type NatHint,
  parseDialect,
  PUNCH_TOKEN_BYTES,
  TOKEN_BYTES,
  TOKEN_DATAGRAM_BYTES,
  WELCOME_BASE_BYTES,
  welcomeMemberBytes,
} from "@olaf/protocol/dialect";
import { endpointKey, endpointKeyIPv4, endpointKeyPort } from "@olaf/protocol/internal";
import type { NetAddress } from "@olaf/protocol/sans-io";
import type { Room } from "./_room.ts";
import { type SourceBucket, takeBytes } from "./_rate_limiter.ts";
import { AddressValidation } from "./_validation.ts";
import type { DialectStats, DropReason } from "./types.ts";

/** A token is good for the time bucket it was made in and the next one. */
export const TOKEN_LIFETIME_MS = 120_000;
/** Without the core's table: validation lasts this long after the last proof (its default). */
export const DIALECT_VALIDATION_TTL_MS = 60_000;
/** Most validated addresses remembered when the core does not share its table. */
export const DIALECT_VALIDATION_CAPACITY = 65_536;
/** Most `INTRODUCE`s one join sends (to the most recently seen members). */
export const MAX_INTRODUCTIONS_PER_JOIN = 8;

/** What the dialect needs of the core: its rooms, ids and output. */
export interface DialectHost {
  /** The largest reply in bytes (`replyBudgetBytes`). */
  readonly replyBudgetBytes: number;
  /** Most members per room. */
  readonly maxMembersPerRoom: number;
  /** v1 decoding limits. */
  readonly decodeOptions: DecodeOptions;
  /** The room `name`, if it exists. */
  room(name: string): Room | undefined;
  /**
   * The room `name`, created if need be; `undefined` after answering
   * `ROOM_FULL`. `key` is the (validated) source's endpoint key, for per-source quotas.
   */
  openRoom(
    name: string,
    to: NetAddress,
    bucket: SourceBucket,
    key: number,
    now: number,
  ): Room | undefined;
  /** Marks the room active. */
  touchRoom(room: Room, now: number): void;
  /** Adds a member with a fresh id; returns its index. */
  addMember(room: Room, ipv4: number, port: number, now: number): number;
  /** Applies a member report whose sender is record `selfInReport`; returns the sender's index. */
  reconcile(room: Room, report: PeerList, selfInReport: number, key: number, now: number): number;
  /** Answers `ROOM_FULL` to a validated source (within its reply bytes). */
  sendRoomFull(to: NetAddress, bucket: SourceBucket): void;
  /**
   * Whether `bytes` more may go to an address not yet validated (a `TOKEN`):
   * the hook for a global budget of such replies; counts the drop itself.
   */
  mayReplyUnvalidated(bytes: number): boolean;
  /** Queues a datagram. */
  transmit(data: Uint8Array, to: NetAddress): void;
  /** Counts a drop. */
  drop(reason: DropReason): void;
}

/** Options of a {@linkcode BootstrapDialect}. */
export interface BootstrapDialectOptions {
  /** Key of the address tokens; default 32 random bytes (per process). */
  tokenSecret?: Uint8Array;
  /** The core's validation table, when it has one to share with the v1 paths. */
  validation?: AddressValidation;
}

/** What an Olaf member told the bootstrap beyond its v1 record. */
interface OlafInfo {
  publicKey?: Uint8Array;
  candidates: readonly Candidate[];
  introductions: boolean;
  nat: NatHint;
}

const TOKEN_LABEL = new TextEncoder().encode("olaf token");
const PUNCH_LABEL = new TextEncoder().encode("olaf punch");
/** The punch token of a welcome that introduces nobody. */
const NO_PUNCH = new Uint8Array(PUNCH_TOKEN_BYTES);

/** The dialect's state and handlers; one per {@linkcode BootstrapCore}. */
export class BootstrapDialect {
  readonly validation: AddressValidation;
  readonly #host: DialectHost;
  /** HMAC-SHA256 keyed with the secret, cloned per token (the key schedule is paid once). */
  readonly #mac: ReturnType<typeof hmac.create>;
  /** Olaf members by room name, then endpoint key. */
  readonly #olaf = new Map<string, Map<number, OlafInfo>>();
  #punches = 0;
  readonly #stats = {
    joins: 0,
    tokensSent: 0,
    welcomesSent: 0,
    introductionsSent: 0,
    reportsAccepted: 0,
  };

  constructor(host: DialectHost, options: BootstrapDialectOptions = {}) {
    this.#host = host;
    this.#mac = hmac.create(
      sha256,
      options.tokenSecret ?? crypto.getRandomValues(new Uint8Array(32)),
    );
    this.validation = options.validation ??
      new AddressValidation({
        ttlMs: DIALECT_VALIDATION_TTL_MS,
        capacity: DIALECT_VALIDATION_CAPACITY,
      });
  }

  /** Counters for `dialectStats()`. */
  stats(): DialectStats {
    let members = 0;
    for (const room of this.#olaf.values()) members += room.size;
    return { ...this.#stats, olafMembers: members, validatedAddresses: this.validation.size };
  }

  /** The core calls this for every member that leaves, whatever the reason. */
  memberLeft(room: Room, key: number): void {
    const members = this.#olaf.get(room.name);
    if (members === undefined) return;
    members.delete(key);
    if (members.size === 0) this.#olaf.delete(room.name);
  }

  /** The Olaf fields of member `key` of `room`, for the control plane. */
  member(room: string, key: number): { publicKey?: Uint8Array; olaf: boolean } {
    const info = this.#olaf.get(room)?.get(key);
    if (info === undefined) return { olaf: false };
    return info.publicKey ? { olaf: true, publicKey: info.publicKey } : { olaf: true };
  }

  /** Handles one datagram of code 24..28 (already rate-limited by source). */
  handle(
    bytes: Uint8Array,
    ipv4: number,
    port: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
  ): void {
    let v1;
    let message;
    try {
      v1 = decode(bytes, this.#host.decodeOptions);
      if (v1.type !== "EXTENSION") return this.#host.drop("unexpected-type");
      message = parseDialect(v1);
    } catch (error) {
      return this.#host.drop(error instanceof ProtocolError ? error.reason : "malformed");
    }
    const key = endpointKey(ipv4, port);
    switch (message.type) {
      case "JOIN_O":
        return this.#join(message, bytes.length, ipv4, port, key, to, bucket, now);
      case "REPORT_O": {
        if (!this.#proves(message.token, ipv4, port, key, now)) {
          // No reply: the smallest REPORT_O is too small for a TOKEN within 3x.
          return this.#host.drop("dialect-unvalidated");
        }
        return this.#report(message.room, v1.peers, ipv4, port, key, to, bucket, now);
      }
      default:
        // TOKEN, WELCOME and INTRODUCE go from a bootstrap, not to one.
        return this.#host.drop("unexpected-type");
    }
  }

  // ---------------------------------------------------------------- tokens

  /** The address token of `ipv4:port` for time bucket `bucket`. */
  token(ipv4: number, port: number, bucket: number): Uint8Array {
    const data = new Uint8Array(TOKEN_LABEL.length + 10);
    data.set(TOKEN_LABEL);
    const view = new DataView(data.buffer);
    view.setUint32(TOKEN_LABEL.length, ipv4);
    view.setUint16(TOKEN_LABEL.length + 4, port);
    view.setUint32(TOKEN_LABEL.length + 6, bucket);
    return this.#mac.clone().update(data).digest().subarray(0, TOKEN_BYTES);
  }

  #tokenNow(ipv4: number, port: number, now: number): Uint8Array {
    return this.token(ipv4, port, Math.floor(now / TOKEN_LIFETIME_MS));
  }

  /**
   * Whether `token` is this address's token of the current bucket
   * (`"current"`), of the previous one (`"previous"`), or neither.
   */
  #checkToken(
    token: Uint8Array,
    ipv4: number,
    port: number,
    now: number,
  ): "current" | "previous" | undefined {
    const bucket = Math.floor(now / TOKEN_LIFETIME_MS);
    if (equal(token, this.token(ipv4, port, bucket))) return "current";
    if (equal(token, this.token(ipv4, port, bucket - 1))) return "previous";
    return undefined;
  }

  /** Whether the sender is validated now: by the token it echoes, or by a recent one. */
  #proves(
    token: Uint8Array | undefined,
    ipv4: number,
    port: number,
    key: number,
    now: number,
  ): boolean {
    if (token !== undefined && this.#checkToken(token, ipv4, port, now) !== undefined) {
      this.validation.validate(key, now);
      return true;
    }
    return this.validation.isValidated(key, now);
  }

  // ---------------------------------------------------------------- JOIN_O

  #join(
    join: JoinOMessage,
    requestBytes: number,
    ipv4: number,
    port: number,
    key: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
  ): void {
    const host = this.#host;
    this.#stats.joins++;
    const age = join.token === undefined
      ? undefined
      : this.#checkToken(join.token, ipv4, port, now);
    if (age === undefined) {
      host.drop(join.token === undefined ? "dialect-token-missing" : "dialect-token-invalid");
      // A TOKEN is 31 bytes and a JOIN_O at least 11: within 3x by construction.
      if (TOKEN_DATAGRAM_BYTES > 3 * requestBytes) return host.drop("dialect-unvalidated");
      if (!takeBytes(bucket, TOKEN_DATAGRAM_BYTES)) return host.drop("rate-limited-reply");
      if (!host.mayReplyUnvalidated(TOKEN_DATAGRAM_BYTES)) return;
      this.#stats.tokensSent++;
      return host.transmit(
        encodeDialect({
          type: "TOKEN",
          token: this.#tokenNow(ipv4, port, now),
          observed: { ip: formatIPv4(ipv4), port },
          lifetimeSeconds: TOKEN_LIFETIME_MS / 1000,
        }),
        to,
      );
    }
    this.validation.validate(key, now);

    const room = host.openRoom(join.room, to, bucket, key, now);
    if (room === undefined) return;
    let index = room.indexOfKey(key);
    const isNew = index < 0;
    if (isNew && room.count >= host.maxMembersPerRoom) {
      host.drop("member-limit");
      return host.sendRoomFull(to, bucket);
    }
    host.touchRoom(room, now);
    if (isNew) index = host.addMember(room, ipv4, port, now);
    else room.touch(index, now);

    const self = formatIPv4(ipv4);
    const info: OlafInfo = {
      candidates: join.candidates,
      introductions: join.introductions,
      // A public address among its own LAN candidates: no NAT in between.
      nat: join.candidates.some((c) => c.ip === self && c.port === port) ? "none" : "unknown",
      ...(join.publicKey ? { publicKey: join.publicKey } : {}),
    };
    let members = this.#olaf.get(room.name);
    if (members === undefined) this.#olaf.set(room.name, members = new Map());
    members.set(key, info);

    // Everyone else, most recently seen first.
    const order = new Int32Array(room.count);
    const n = room.mostRecent(room.count, index, -1, now, order);

    // Introductions only for a newcomer (a refresh re-introduces nobody).
    const introducing = isNew && join.introductions;
    const punchToken = introducing ? this.#punchToken(key, now) : NO_PUNCH;
    const introduced = new Set<number>();
    if (introducing) {
      const intro = encodeDialect({
        type: "INTRODUCE",
        peer: { ...this.#entry(room, index, info), introduced: false },
        punchToken,
      });
      for (let k = 0; k < n && introduced.size < MAX_INTRODUCTIONS_PER_JOIN; k++) {
        const i = order[k]!;
        const other = members.get(room.keyAt(i));
        if (other === undefined || !other.introductions) continue;
        if (!this.validation.isValidated(room.keyAt(i), now)) continue;
        introduced.add(i);
        this.#stats.introductionsSent++;
        host.transmit(intro, addressOf(room.keyAt(i)));
      }
    }
    // An echo of this bucket's token is what WELCOME would carry: no second HMAC.
    const fresh = age === "current" ? join.token : undefined;
    this.#welcome(room, index, order, n, introduced, punchToken, to, bucket, now, fresh);
  }

  // ---------------------------------------------------------------- REPORT_O

  #report(
    name: string,
    report: PeerList,
    ipv4: number,
    port: number,
    key: number,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
  ): void {
    const host = this.#host;
    const room = host.room(name);
    let index = room?.indexOfKey(key) ?? -1;
    // Only a validated Olaf member of the room may report for it.
    if (room === undefined || index < 0 || !this.#olaf.get(name)?.has(key)) {
      return host.drop("dialect-not-member");
    }
    host.touchRoom(room, now);
    const selfInReport = report.indexOf(ipv4, port);
    // Like v1 reports (issue 12): only the room's collector, the lowest id, speaks for the room.
    if (selfInReport >= 0 && room.lowestIndex() === index) {
      this.#stats.reportsAccepted++;
      index = host.reconcile(room, report, selfInReport, key, now);
    } else {
      host.drop("untrusted-report");
      room.touch(index, now);
    }
    const order = new Int32Array(room.count);
    const n = room.mostRecent(room.count, index, -1, now, order);
    this.#welcome(
      room,
      index,
      order,
      n,
      new Set(),
      NO_PUNCH,
      to,
      bucket,
      now,
    );
  }

  // ---------------------------------------------------------------- WELCOME

  /**
   * Sends `WELCOME` to member `index`: the introduced members first, then the
   * most recently seen, as many as the reply budget (and the source's reply
   * bytes) pay for.
   */
  #welcome(
    room: Room,
    index: number,
    order: Int32Array,
    n: number,
    introduced: ReadonlySet<number>,
    punchToken: Uint8Array,
    to: NetAddress,
    bucket: SourceBucket,
    now: number,
    freshToken?: Uint8Array,
  ): void {
    const host = this.#host;
    const olaf = this.#olaf.get(room.name);
    const ranked = [...introduced];
    for (let k = 0; k < n; k++) if (!introduced.has(order[k]!)) ranked.push(order[k]!);
    const budget = Math.min(host.replyBudgetBytes, WELCOME_BASE_BYTES + bucket.bytes);
    const members: DialectMember[] = [];
    let size = WELCOME_BASE_BYTES;
    for (const i of ranked) {
      const entry = this.#entry(room, i, olaf?.get(room.keyAt(i)));
      const cost = welcomeMemberBytes(entry);
      if (size + cost > budget) break;
      size += cost;
      members.push({ ...entry, introduced: introduced.has(i) });
    }
    if (members.length < n) host.drop("reply-budget");
    if (!takeBytes(bucket, size)) return host.drop("rate-limited-reply");
    const key = room.keyAt(index);
    this.#stats.welcomesSent++;
    host.transmit(
      encodeDialect({
        type: "WELCOME",
        self: {
          ip: formatIPv4(endpointKeyIPv4(key)),
          port: endpointKeyPort(key),
          id: room.idAt(index),
        },
        token: freshToken ?? this.#tokenNow(endpointKeyIPv4(key), endpointKeyPort(key), now),
        punchToken,
        total: Math.min(n, 0xffff),
        members,
      }),
      to,
    );
  }

  #entry(room: Room, index: number, info: OlafInfo | undefined): DialectMember {
    const key = room.keyAt(index);
    const record = {
      ip: formatIPv4(endpointKeyIPv4(key)),
      port: endpointKeyPort(key),
      id: room.idAt(index),
    };
    if (info === undefined) {
      return { record, olaf: false, candidates: [], nat: "unknown", introduced: false };
    }
    return {
      record,
      olaf: true,
      ...(info.publicKey ? { publicKey: info.publicKey } : {}),
      candidates: info.candidates,
      nat: info.nat,
      introduced: false,
    };
  }

  /** 8 bytes no one else can guess, one per join. */
  #punchToken(key: number, now: number): Uint8Array {
    const data = new Uint8Array(PUNCH_LABEL.length + 20);
    data.set(PUNCH_LABEL);
    const view = new DataView(data.buffer);
    view.setFloat64(PUNCH_LABEL.length, key);
    view.setFloat64(PUNCH_LABEL.length + 8, now);
    view.setUint32(PUNCH_LABEL.length + 16, this.#punches = (this.#punches + 1) >>> 0);
    return this.#mac.clone().update(data).digest().slice(0, PUNCH_TOKEN_BYTES);
  }
}

function addressOf(key: number): NetAddress {
  return { hostname: formatIPv4(endpointKeyIPv4(key)), port: endpointKeyPort(key) };
}

/** Constant-time comparison of two tokens. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

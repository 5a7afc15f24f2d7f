/**
 * The Olaf bootstrap dialect: an address-validated join with introductions,
 * type codes 24..28. Pure functions, no state, no I/O.
 *
 * Every message keeps v1 framing, `type u8 | peer count u16 | N x 10-byte
 * records | u32 length | payload`, so a deployed v1 bootstrap or peer skips
 * it as an unknown type. The layouts (all integers big-endian) are in
 * `protocol/EXTENSIONS.md`, section "Bootstrap dialect":
 *
 * - `JOIN_O` (24, peer -> bootstrap): room key, optional address token,
 *   optional public key, up to 4 LAN candidates, flags.
 * - `TOKEN` (25, bootstrap -> peer): "retry with this token"; never more than
 *   3x the smallest `JOIN_O`.
 * - `WELCOME` (26, bootstrap -> validated peer): the room's members as v1
 *   records plus, per member, key, LAN candidates and a NAT hint.
 * - `REPORT_O` (27, collector -> bootstrap): the collector's member report.
 * - `INTRODUCE` (28, bootstrap -> member): a newcomer's key, candidates and
 *   the punch token both sides share.
 *
 * @example Round-trip a first join and its token reply
 * ```ts
 * import { decodeDialect, encodeDialect } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * const join = encodeDialect({
 *   type: "JOIN_O", room: "lobby", secure: false, introductions: true,
 *   candidates: [{ ip: "192.168.1.20", port: 40000 }],
 * });
 * const decoded = decodeDialect(join);
 * assert.equal(decoded.type, "JOIN_O");
 * if (decoded.type === "JOIN_O") assert.equal(decoded.room, "lobby");
 *
 * const token = encodeDialect({
 *   type: "TOKEN", token: new Uint8Array(16), observed: { ip: "203.0.113.7", port: 40000 },
 *   lifetimeSeconds: 120,
 * });
 * assert.ok(token.length <= 3 * join.length);
 * ```
 *
 * @module
 */
import {
  decode,
  type DecodeOptions,
  type ExtensionMessage,
  formatIPv4,
  MAX_ROOM_NAME_BYTES,
  parseIPv4,
  type PeerRecord,
  ProtocolError,
  type ProtocolErrorReason,
} from "./mod.ts";

/** Type code of `JOIN_O`. */
export const JOIN_O_TYPE = 24;
/** Type code of `TOKEN`. */
export const TOKEN_TYPE = 25;
/** Type code of `WELCOME`. */
export const WELCOME_TYPE = 26;
/** Type code of `REPORT_O`. */
export const REPORT_O_TYPE = 27;
/** Type code of `INTRODUCE`. */
export const INTRODUCE_TYPE = 28;

/** Bytes of an address token (a truncated HMAC-SHA256). */
export const TOKEN_BYTES = 16;
/** Bytes of a punch token (shared by the two sides of one introduction). */
export const PUNCH_TOKEN_BYTES = 8;
/** Bytes of a public key (Ed25519 or X25519). */
export const PUBLIC_KEY_BYTES = 32;
/** Bytes of a secure room's tag (sent raw; the room key is its 32 hex digits). */
export const ROOM_TAG_BYTES = 16;
/** Most LAN candidates per peer (decoders refuse more). */
export const MAX_LAN_CANDIDATES = 4;
/** Bytes of one candidate: IPv4 u32 | port u16. */
export const CANDIDATE_BYTES = 6;
/** Bytes of v1 framing: type, peer count, payload length (peer records not counted). */
export const DIALECT_FRAMING_BYTES = 7;
/** Size of the smallest `JOIN_O` (a one-byte open room name, nothing else). */
export const MIN_JOIN_O_BYTES = 11;
/** Size of every `TOKEN` datagram. */
export const TOKEN_DATAGRAM_BYTES: number = DIALECT_FRAMING_BYTES + TOKEN_BYTES + CANDIDATE_BYTES +
  2;

/** `JOIN_O` / `REPORT_O` flag T: an address token follows the room. */
export const FLAG_TOKEN = 0x01;
/** `JOIN_O` / `REPORT_O` flag K: a public key follows (`JOIN_O` only). */
export const FLAG_KEY = 0x02;
/** `JOIN_O` / `REPORT_O` flag S: the room is secure; its key is a 16-byte tag. */
export const FLAG_SECURE = 0x04;
/** `JOIN_O` flag I: the peer wants introductions (and takes `INTRODUCE`). */
export const FLAG_INTRODUCTIONS = 0x08;
/** `WELCOME` flag: more members than the reply carries (it was trimmed). */
export const FLAG_TRIMMED = 0x01;
/** Member flag O: an Olaf member (NAT hint and LAN candidates follow). */
export const MEMBER_OLAF = 0x01;
/** Member flag K: the member's public key follows. */
export const MEMBER_KEY = 0x02;
/** Member flag P: this member got an `INTRODUCE` for the recipient with the welcome's punch token. */
export const MEMBER_INTRODUCED = 0x04;

/** A transport address a peer may be reached at. */
export interface Candidate {
  /** IPv4 dotted quad. */
  readonly ip: string;
  /** UDP port, 0..65535. */
  readonly port: number;
}

/**
 * What the bootstrap knows of a member's NAT, u8 on the wire: 0 `unknown`,
 * 1 `none` (its public address is one of its LAN candidates), 2
 * `independent` (endpoint-independent mapping), 3 `dependent` (symmetric).
 * Values a newer sender may add decode as `unknown`.
 */
export type NatHint = "unknown" | "none" | "independent" | "dependent";

const NAT_HINTS: readonly NatHint[] = ["unknown", "none", "independent", "dependent"];

/** `JOIN_O` (24): a peer joins (or refreshes) its room at a bootstrap. */
export interface JoinOMessage {
  /** Discriminant. */
  readonly type: "JOIN_O";
  /** The room key: a v1 room name, or 32 lowercase hex digits of a secure room's tag. */
  readonly room: string;
  /** Whether `room` is a secure room's tag (flag S, which requires a public key). */
  readonly secure: boolean;
  /** The address token the bootstrap last sent this address (flag T), absent on a first join. */
  readonly token?: Uint8Array;
  /** The peer's 32-byte public key (flag K); required in secure rooms. */
  readonly publicKey?: Uint8Array;
  /** The peer's LAN candidates, at most {@linkcode MAX_LAN_CANDIDATES}. */
  readonly candidates: readonly Candidate[];
  /** Flag I: the peer wants introductions to the room's Olaf members. */
  readonly introductions: boolean;
}

/** `TOKEN` (25): retry the join echoing this token. */
export interface TokenMessage {
  /** Discriminant. */
  readonly type: "TOKEN";
  /** {@linkcode TOKEN_BYTES} opaque bytes to echo in the next `JOIN_O` / `REPORT_O`. */
  readonly token: Uint8Array;
  /** The source address the bootstrap saw (the peer's public candidate). */
  readonly observed: Candidate;
  /** Seconds the token stays valid (u16); a peer re-asks after that. */
  readonly lifetimeSeconds: number;
}

/** One member as `WELCOME` and `INTRODUCE` describe it. */
export interface DialectMember {
  /** The member's v1 record: public address as the bootstrap sees it, and id. */
  readonly record: PeerRecord;
  /** Whether it joined with `JOIN_O` (`false`: a v1 member, no further fields). */
  readonly olaf: boolean;
  /** Its 32-byte public key, when it gave one. */
  readonly publicKey?: Uint8Array;
  /** Its LAN candidates (empty for v1 members). */
  readonly candidates: readonly Candidate[];
  /** What the bootstrap knows of its NAT (`unknown` for v1 members). */
  readonly nat: NatHint;
  /** Whether it was sent an `INTRODUCE` for the recipient (flag P; `WELCOME` only). */
  readonly introduced: boolean;
}

/** `WELCOME` (26): the room, sent only to a validated address. */
export interface WelcomeMessage {
  /** Discriminant. */
  readonly type: "WELCOME";
  /** The recipient as the bootstrap sees it, with the id it holds. */
  readonly self: PeerRecord;
  /** A fresh address token, to echo in the next refresh (no `TOKEN` round trip then). */
  readonly token: Uint8Array;
  /** The punch token of this join, shared with every member flagged `introduced`. */
  readonly punchToken: Uint8Array;
  /** Members in the room besides the recipient (u16), at least `members.length`. */
  readonly total: number;
  /** The members carried (the reply budget may trim them; `total` says). */
  readonly members: readonly DialectMember[];
}

/** `REPORT_O` (27): the collector's report of the room's live members. */
export interface ReportOMessage {
  /** Discriminant. */
  readonly type: "REPORT_O";
  /** The room key, as in `JOIN_O`. */
  readonly room: string;
  /** Whether `room` is a secure room's tag. */
  readonly secure: boolean;
  /** The collector's address token (flag T), so the report proves its address by itself. */
  readonly token?: Uint8Array;
  /** The live members the collector sees (itself included), as v1 records. */
  readonly members: readonly PeerRecord[];
}

/** `INTRODUCE` (28): a peer of the room wants a path to the recipient; punch now. */
export interface IntroduceMessage {
  /** Discriminant. */
  readonly type: "INTRODUCE";
  /** The newcomer (its `introduced` is always `false` on the wire). */
  readonly peer: DialectMember;
  /** The punch token the newcomer got in its `WELCOME`. */
  readonly punchToken: Uint8Array;
}

/** Any message of the bootstrap dialect. */
export type DialectMessage =
  | JoinOMessage
  | TokenMessage
  | WelcomeMessage
  | ReportOMessage
  | IntroduceMessage;

/** The `type` names of the dialect's messages. */
export type DialectMessageType = DialectMessage["type"];

const CODES: Readonly<Record<DialectMessageType, number>> = {
  JOIN_O: JOIN_O_TYPE,
  TOKEN: TOKEN_TYPE,
  WELCOME: WELCOME_TYPE,
  REPORT_O: REPORT_O_TYPE,
  INTRODUCE: INTRODUCE_TYPE,
};

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

function fail(reason: ProtocolErrorReason, message: string): never {
  throw new ProtocolError(reason, message);
}

/**
 * Whether a datagram belongs to the bootstrap dialect, by its first byte.
 *
 * @param datagram The bytes.
 * @returns `true` for type codes 24..28.
 *
 * @example
 * ```ts
 * import { isDialectDatagram } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isDialectDatagram(new Uint8Array([24, 0, 0])));
 * assert.ok(!isDialectDatagram(new Uint8Array([1, 0, 0]))); // JOIN_B
 * ```
 */
export function isDialectDatagram(datagram: Uint8Array): boolean {
  const type = datagram[0];
  return type !== undefined && type >= JOIN_O_TYPE && type <= INTRODUCE_TYPE;
}

// ---------------------------------------------------------------- encoding

/** A growable byte buffer: `bytes()` is what was written. */
class Writer {
  #buf: Uint8Array;
  #n = 0;
  constructor(capacity = 256) {
    this.#buf = new Uint8Array(capacity);
  }
  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(2 * this.#buf.length, this.#n + k));
    grown.set(this.#buf.subarray(0, this.#n));
    this.#buf = grown;
  }
  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#n++] = v;
  }
  u16(v: number): void {
    this.#room(2);
    this.#buf[this.#n++] = v >>> 8;
    this.#buf[this.#n++] = v;
  }
  u32(v: number): void {
    this.#room(4);
    const b = this.#buf;
    b[this.#n++] = v >>> 24;
    b[this.#n++] = v >>> 16;
    b[this.#n++] = v >>> 8;
    b[this.#n++] = v;
  }
  raw(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
  }
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#n);
  }
}

function checkInt(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    fail("field-out-of-range", `${field} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

function checkBytes(value: Uint8Array, size: number, field: string): Uint8Array {
  if (value.length !== size) {
    fail("field-out-of-range", `${field} must be ${size} bytes, got ${value.length}`);
  }
  return value;
}

function writeAddress(w: Writer, ip: string, port: number): void {
  w.u32(parseIPv4(ip));
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    fail("port-out-of-range", `port ${port} is not in 0..65535`);
  }
  w.u16(port);
}

function writeRecord(w: Writer, record: PeerRecord): void {
  writeAddress(w, record.ip, record.port);
  if (!Number.isInteger(record.id) || record.id < 0 || record.id > 0xffff_ffff) {
    fail("id-out-of-range", `id ${record.id} is not a u32`);
  }
  w.u32(record.id);
}

function writeCandidates(w: Writer, candidates: readonly Candidate[]): void {
  if (candidates.length > MAX_LAN_CANDIDATES) {
    fail("too-many-peers", `${candidates.length} LAN candidates (at most ${MAX_LAN_CANDIDATES})`);
  }
  w.u8(candidates.length);
  for (const c of candidates) writeAddress(w, c.ip, c.port);
}

function writeRoom(w: Writer, room: string, secure: boolean): void {
  if (secure) {
    if (!/^[0-9a-f]{32}$/.test(room)) {
      fail("field-out-of-range", "a secure room key is 32 lowercase hex digits (its tag)");
    }
    for (let i = 0; i < 32; i += 2) w.u8(parseInt(room.slice(i, i + 2), 16));
    return;
  }
  if (!room.isWellFormed()) fail("room-not-utf8", "room name has lone surrogates");
  const bytes = utf8Encoder.encode(room);
  if (bytes.length > MAX_ROOM_NAME_BYTES) {
    fail("room-too-long", `room name of ${bytes.length} bytes (at most ${MAX_ROOM_NAME_BYTES})`);
  }
  w.u8(bytes.length);
  w.raw(bytes);
}

function writeMember(w: Writer, m: DialectMember, inWelcome: boolean): void {
  if (!m.olaf) {
    if (m.publicKey !== undefined || m.candidates.length > 0) {
      fail("field-out-of-range", "a v1 member has no public key or LAN candidates");
    }
    w.u8(inWelcome && m.introduced ? MEMBER_INTRODUCED : 0);
    return;
  }
  w.u8(
    MEMBER_OLAF | (m.publicKey ? MEMBER_KEY : 0) |
      (inWelcome && m.introduced ? MEMBER_INTRODUCED : 0),
  );
  w.u8(NAT_HINTS.indexOf(m.nat) < 0 ? 0 : NAT_HINTS.indexOf(m.nat));
  if (m.publicKey) w.raw(checkBytes(m.publicKey, PUBLIC_KEY_BYTES, "publicKey"));
  writeCandidates(w, m.candidates);
}

function payloadOf(message: DialectMessage): { records: readonly PeerRecord[]; w: Writer } {
  const w = new Writer();
  switch (message.type) {
    case "JOIN_O": {
      if (message.secure && !message.publicKey) {
        fail("invalid-flags", "a secure room's JOIN_O carries the peer's public key");
      }
      w.u8(
        (message.token ? FLAG_TOKEN : 0) | (message.publicKey ? FLAG_KEY : 0) |
          (message.secure ? FLAG_SECURE : 0) | (message.introductions ? FLAG_INTRODUCTIONS : 0),
      );
      writeRoom(w, message.room, message.secure);
      if (message.token) w.raw(checkBytes(message.token, TOKEN_BYTES, "token"));
      if (message.publicKey) w.raw(checkBytes(message.publicKey, PUBLIC_KEY_BYTES, "publicKey"));
      writeCandidates(w, message.candidates);
      return { records: [], w };
    }
    case "TOKEN":
      w.raw(checkBytes(message.token, TOKEN_BYTES, "token"));
      writeAddress(w, message.observed.ip, message.observed.port);
      w.u16(checkInt(message.lifetimeSeconds, 0xffff, "lifetimeSeconds"));
      return { records: [], w };
    case "WELCOME": {
      writeRecord(w, message.self);
      w.raw(checkBytes(message.token, TOKEN_BYTES, "token"));
      w.raw(checkBytes(message.punchToken, PUNCH_TOKEN_BYTES, "punchToken"));
      const total = checkInt(message.total, 0xffff, "total");
      if (total < message.members.length) {
        fail("field-out-of-range", `total ${total} is below the ${message.members.length} carried`);
      }
      w.u8(total > message.members.length ? FLAG_TRIMMED : 0);
      w.u16(total);
      for (const m of message.members) writeMember(w, m, true);
      return { records: message.members.map((m) => m.record), w };
    }
    case "REPORT_O":
      w.u8((message.token ? FLAG_TOKEN : 0) | (message.secure ? FLAG_SECURE : 0));
      writeRoom(w, message.room, message.secure);
      if (message.token) w.raw(checkBytes(message.token, TOKEN_BYTES, "token"));
      return { records: message.members, w };
    case "INTRODUCE":
      writeRecord(w, message.peer.record);
      writeMember(w, message.peer, false);
      w.raw(checkBytes(message.punchToken, PUNCH_TOKEN_BYTES, "punchToken"));
      return { records: [], w };
  }
}

/**
 * Encodes a dialect message (v1 framing).
 *
 * @param message The message.
 * @returns A new datagram.
 * @throws {ProtocolError} `field-out-of-range` (a token, key or number of the
 *   wrong size), `invalid-ipv4`, `port-out-of-range`, `id-out-of-range`,
 *   `room-too-long` (over 255 UTF-8 bytes), `room-not-utf8`, `too-many-peers`
 *   (more than 4 LAN candidates or 65535 members), `invalid-flags` (a secure
 *   join without a public key).
 *
 * @example A secure room's join echoes its token and carries the peer's key
 * ```ts
 * import { decodeDialect, encodeDialect } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeDialect({
 *   type: "JOIN_O", room: "cca9a2ab3e8b5700058207ea3ca90c3f", secure: true,
 *   token: new Uint8Array(16).fill(7), publicKey: new Uint8Array(32).fill(1),
 *   candidates: [], introductions: true,
 * });
 * assert.equal(bytes.length, 7 + 1 + 16 + 16 + 32 + 1);
 * const join = decodeDialect(bytes);
 * assert.ok(join.type === "JOIN_O" && join.secure && join.publicKey?.length === 32);
 * ```
 */
export function encodeDialect(message: DialectMessage): Uint8Array {
  const { records, w } = payloadOf(message);
  if (records.length > 0xffff) fail("too-many-peers", `${records.length} records`);
  const payload = w.bytes();
  const headBytes = 3 + 10 * records.length + 4;
  const out = new Writer(headBytes + payload.length);
  out.u8(CODES[message.type]);
  out.u16(records.length);
  for (const r of records) writeRecord(out, r);
  out.u32(payload.length);
  out.raw(payload);
  return out.bytes();
}

// ---------------------------------------------------------------- decoding

class Reader {
  o = 0;
  constructor(readonly b: Uint8Array, readonly what: string) {}
  need(n: number): void {
    if (this.o + n > this.b.length) {
      fail("truncated-payload", `${this.what} payload ends inside a field`);
    }
  }
  u8(): number {
    this.need(1);
    return this.b[this.o++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!;
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.b, o = this.o;
    this.o += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    // A copy: decoded tokens and keys outlive the receive buffer.
    const v = this.b.slice(this.o, this.o + n);
    this.o += n;
    return v;
  }
  end(): void {
    if (this.o < this.b.length) {
      fail("trailing-bytes", `${this.b.length - this.o} bytes after the ${this.what} payload`);
    }
  }
}

function readCandidate(r: Reader): Candidate {
  const ip = formatIPv4(r.u32());
  return { ip, port: r.u16() };
}

function readRecord(r: Reader): PeerRecord {
  const ip = formatIPv4(r.u32());
  const port = r.u16();
  return { ip, port, id: r.u32() };
}

function readCandidates(r: Reader): Candidate[] {
  const n = r.u8();
  if (n > MAX_LAN_CANDIDATES) {
    fail("too-many-peers", `${n} LAN candidates (at most ${MAX_LAN_CANDIDATES})`);
  }
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) out.push(readCandidate(r));
  return out;
}

function readRoom(r: Reader, secure: boolean): string {
  if (secure) {
    const tag = r.bytes(ROOM_TAG_BYTES);
    return [...tag].map((x) => x.toString(16).padStart(2, "0")).join("");
  }
  const n = r.u8();
  const bytes = r.bytes(n);
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return fail("room-not-utf8", "room name is not well-formed UTF-8");
  }
}

function readMember(r: Reader, record: PeerRecord, inWelcome: boolean): DialectMember {
  const flags = r.u8();
  const known = MEMBER_OLAF | MEMBER_KEY | (inWelcome ? MEMBER_INTRODUCED : 0);
  if ((flags & ~known) !== 0 || ((flags & MEMBER_KEY) !== 0 && (flags & MEMBER_OLAF) === 0)) {
    fail("invalid-flags", `member flags 0x${flags.toString(16)}`);
  }
  const introduced = (flags & MEMBER_INTRODUCED) !== 0;
  if ((flags & MEMBER_OLAF) === 0) {
    return { record, olaf: false, candidates: [], nat: "unknown", introduced };
  }
  const nat = NAT_HINTS[r.u8()] ?? "unknown";
  const publicKey = (flags & MEMBER_KEY) !== 0 ? r.bytes(PUBLIC_KEY_BYTES) : undefined;
  const candidates = readCandidates(r);
  return publicKey
    ? { record, olaf: true, publicKey, candidates, nat, introduced }
    : { record, olaf: true, candidates, nat, introduced };
}

/**
 * Parses a dialect message the v1 decoder returned as an `EXTENSION` (how a
 * bootstrap or peer that already decoded the datagram routes it).
 *
 * @param message The v1 `EXTENSION` message of code 24..28.
 * @returns The dialect message; tokens and keys are copies, safe to keep.
 * @throws {ProtocolError} `unexpected-type` (another code), `truncated-payload`,
 *   `trailing-bytes`, `invalid-flags` (unknown flag bits, a secure join
 *   without a key, a key on a v1 member), `too-many-peers` (over 4 LAN
 *   candidates), `room-not-utf8`, `field-out-of-range` (a welcome's total
 *   below the members it carries).
 *
 * @example Route through the v1 decoder first
 * ```ts
 * import { decode } from "@olaf/protocol";
 * import { encodeDialect, parseDialect } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeDialect({ type: "REPORT_O", room: "lobby", secure: false, members: [] });
 * const message = decode(bytes);
 * assert.ok(message.type === "EXTENSION");
 * if (message.type === "EXTENSION") assert.equal(parseDialect(message).type, "REPORT_O");
 * ```
 */
export function parseDialect(message: ExtensionMessage): DialectMessage {
  const r = new Reader(message.payload, `type ${message.code}`);
  switch (message.code) {
    case JOIN_O_TYPE: {
      const flags = r.u8();
      const known = FLAG_TOKEN | FLAG_KEY | FLAG_SECURE | FLAG_INTRODUCTIONS;
      if ((flags & ~known) !== 0) fail("invalid-flags", `JOIN_O flags 0x${flags.toString(16)}`);
      const secure = (flags & FLAG_SECURE) !== 0;
      if (secure && (flags & FLAG_KEY) === 0) {
        fail("invalid-flags", "a secure room's JOIN_O must carry a public key");
      }
      const room = readRoom(r, secure);
      const token = (flags & FLAG_TOKEN) !== 0 ? r.bytes(TOKEN_BYTES) : undefined;
      const publicKey = (flags & FLAG_KEY) !== 0 ? r.bytes(PUBLIC_KEY_BYTES) : undefined;
      const candidates = readCandidates(r);
      r.end();
      const introductions = (flags & FLAG_INTRODUCTIONS) !== 0;
      return {
        type: "JOIN_O",
        room,
        secure,
        ...(token ? { token } : {}),
        ...(publicKey ? { publicKey } : {}),
        candidates,
        introductions,
      };
    }
    case TOKEN_TYPE: {
      const token = r.bytes(TOKEN_BYTES);
      const observed = readCandidate(r);
      const lifetimeSeconds = r.u16();
      r.end();
      return { type: "TOKEN", token, observed, lifetimeSeconds };
    }
    case WELCOME_TYPE: {
      const self = readRecord(r);
      const token = r.bytes(TOKEN_BYTES);
      const punchToken = r.bytes(PUNCH_TOKEN_BYTES);
      const flags = r.u8();
      if ((flags & ~FLAG_TRIMMED) !== 0) {
        fail("invalid-flags", `WELCOME flags 0x${flags.toString(16)}`);
      }
      const total = r.u16();
      const records = message.peers.toArray();
      if (total < records.length || (total > records.length) !== ((flags & FLAG_TRIMMED) !== 0)) {
        fail("field-out-of-range", `total ${total} does not match ${records.length} members`);
      }
      const members = records.map((record) => readMember(r, record, true));
      r.end();
      return { type: "WELCOME", self, token, punchToken, total, members };
    }
    case REPORT_O_TYPE: {
      const flags = r.u8();
      if ((flags & ~(FLAG_TOKEN | FLAG_SECURE)) !== 0) {
        fail("invalid-flags", `REPORT_O flags 0x${flags.toString(16)}`);
      }
      const secure = (flags & FLAG_SECURE) !== 0;
      const room = readRoom(r, secure);
      const token = (flags & FLAG_TOKEN) !== 0 ? r.bytes(TOKEN_BYTES) : undefined;
      r.end();
      const members = message.peers.toArray();
      return { type: "REPORT_O", room, secure, ...(token ? { token } : {}), members };
    }
    case INTRODUCE_TYPE: {
      const record = readRecord(r);
      const peer = readMember(r, record, false);
      const punchToken = r.bytes(PUNCH_TOKEN_BYTES);
      r.end();
      return { type: "INTRODUCE", peer, punchToken };
    }
    default:
      return fail("unexpected-type", `type ${message.code} is not in the bootstrap dialect`);
  }
}

/**
 * Decodes one datagram of the bootstrap dialect.
 *
 * @param datagram The bytes.
 * @param options v1 decoder limits (datagram size, peer records).
 * @returns The message.
 * @throws {ProtocolError} Every reason of {@linkcode parseDialect} and of the v1
 *   decoder; `unexpected-type` for a datagram outside 24..28.
 *
 * @example
 * ```ts
 * import { decodeDialect, encodeDialect } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeDialect({
 *   type: "INTRODUCE", punchToken: new Uint8Array(8),
 *   peer: {
 *     record: { ip: "198.51.100.4", port: 50000, id: 42 }, olaf: true, nat: "independent",
 *     candidates: [{ ip: "10.0.0.4", port: 50000 }], introduced: false,
 *   },
 * });
 * const intro = decodeDialect(bytes);
 * assert.ok(intro.type === "INTRODUCE" && intro.peer.record.id === 42);
 * ```
 */
export function decodeDialect(datagram: Uint8Array, options?: DecodeOptions): DialectMessage {
  const message = decode(datagram, options);
  if (message.type !== "EXTENSION") {
    return fail("unexpected-type", `a v1 ${message.type} is not in the bootstrap dialect`);
  }
  return parseDialect(message);
}

/**
 * Bytes one member takes in a `WELCOME`: its 10-byte record plus its fields.
 * A reply writer sums these to stay within its budget.
 *
 * @param member The member (only `olaf`, `publicKey` and `candidates` count).
 * @returns Bytes.
 *
 * @example A v1 member costs 11 bytes, an Olaf one with a key and a LAN address 51
 * ```ts
 * import { welcomeMemberBytes } from "@olaf/protocol/dialect";
 * import assert from "node:assert/strict";
 *
 * assert.equal(welcomeMemberBytes({ olaf: false, candidates: [] }), 11);
 * const key = new Uint8Array(32);
 * assert.equal(
 *   welcomeMemberBytes({ olaf: true, publicKey: key, candidates: [{ ip: "10.0.0.2", port: 1 }] }),
 *   51,
 * );
 * ```
 */
export function welcomeMemberBytes(
  member: Pick<DialectMember, "olaf" | "publicKey" | "candidates">,
): number {
  if (!member.olaf) return 11;
  return 10 + 3 + (member.publicKey ? PUBLIC_KEY_BYTES : 0) +
    CANDIDATE_BYTES * member.candidates.length;
}

/** Bytes of a `WELCOME` carrying no members: framing, self record, tokens, flags, total. */
export const WELCOME_BASE_BYTES: number = DIALECT_FRAMING_BYTES + 10 + TOKEN_BYTES +
  PUNCH_TOKEN_BYTES +
  3;

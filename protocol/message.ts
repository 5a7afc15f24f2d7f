import type { PeerList, PeerListLike, PeerRecord } from "./peer_list.ts";

/**
 * v1 type codes as they are on the wire. (Some older prose lists other
 * numbers; no deployed implementation uses them.) Codes 6..15 are reserved,
 * Olaf extensions use 16 and up.
 *
 * @example
 * ```ts
 * import { MessageType } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(MessageType.JOIN_B, 1);
 * ```
 */
export const MessageType = {
  PING: 0,
  JOIN_B: 1,
  BOOTSTRAP_R: 2,
  APP_R: 3,
  ROOM_FULL: 4,
  PEER_COLLECTOR: 5,
} as const;

/** Names of the v1 message types. */
export type MessageTypeName = keyof typeof MessageType;

/** Codes of the v1 message types (0..5). */
export type MessageTypeCode = (typeof MessageType)[MessageTypeName];

const NAMES: readonly MessageTypeName[] = [
  "PING",
  "JOIN_B",
  "BOOTSTRAP_R",
  "APP_R",
  "ROOM_FULL",
  "PEER_COLLECTOR",
];

/**
 * The name of a v1 type code, or `undefined` for codes v1 does not define.
 *
 * @param code A type code (first byte of a datagram).
 * @returns Its name.
 *
 * @example
 * ```ts
 * import { messageTypeName } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(messageTypeName(5), "PEER_COLLECTOR");
 * assert.equal(messageTypeName(16), undefined);
 * ```
 */
export function messageTypeName(code: number): MessageTypeName | undefined {
  return NAMES[code];
}

/** First code of the range Olaf's own extensions use (6..15 are reserved). */
export const FIRST_EXTENSION_CODE = 16;

/** Payload of a `PING` that announces the sender is leaving. */
export const BYE: Uint8Array = new Uint8Array([0x62, 0x79, 0x65]);

/**
 * Whether a `PING` payload is `bye` ("I am leaving").
 *
 * @param payload The ping's payload.
 * @returns `true` for exactly the 3 bytes `bye`.
 *
 * @example
 * ```ts
 * import { BYE, isBye } from "@olaf/protocol";
 * import assert from "node:assert/strict";
 * assert.equal(isBye(BYE), true);
 * assert.equal(isBye(new Uint8Array()), false);
 * ```
 */
export function isBye(payload: Uint8Array): boolean {
  return payload.length === 3 && payload[0] === 0x62 && payload[1] === 0x79 &&
    payload[2] === 0x65;
}

/** `PING` (peer to peer): heartbeat carrying the sender's list of other peers. */
export interface PingMessage<P = PeerList> {
  /** Message type. */
  readonly type: "PING";
  /** The sender's current list of other peers. */
  readonly peers: P;
  /** Empty, or {@linkcode BYE} when the sender is leaving. */
  readonly payload: Uint8Array;
}

/** `JOIN_B` (peer to bootstrap): join a room. */
export interface JoinMessage<P = PeerList> {
  /** Message type. */
  readonly type: "JOIN_B";
  /** Empty on a first join; `[own record]` when re-joining with an id. */
  readonly peers: P;
  /** Room name. */
  readonly room: string;
}

/** `BOOTSTRAP_R` (bootstrap to peer): the room's members. */
export interface BootstrapReplyMessage<P = PeerList> {
  /** Message type. */
  readonly type: "BOOTSTRAP_R";
  /** Members of the room, the recipient included (possibly a subset of a big room). */
  readonly peers: P;
  /** The recipient as the bootstrap sees it; `0.0.0.0:0` id 0 when unknown. */
  readonly self: PeerRecord;
}

/** `APP_R` (peer to peer): application data. */
export interface AppMessage<P = PeerList> {
  /** Message type. */
  readonly type: "APP_R";
  /** Deployed peers send their peer list; receivers ignore it. */
  readonly peers: P;
  /** Application bytes. */
  readonly payload: Uint8Array;
}

/** `ROOM_FULL` (bootstrap to peer): the room could not be created or joined. */
export interface RoomFullMessage<P = PeerList> {
  /** Message type. */
  readonly type: "ROOM_FULL";
  /** Empty. */
  readonly peers: P;
  /** Empty. */
  readonly payload: Uint8Array;
}

/** `PEER_COLLECTOR` (lowest-id peer to bootstrap): keep the room alive. */
export interface CollectorMessage<P = PeerList> {
  /** Message type. */
  readonly type: "PEER_COLLECTOR";
  /** Empty from deployed peers; Olaf peers report the room's live members. */
  readonly peers: P;
  /** Room name. */
  readonly room: string;
}

/** A type code v1 does not define, framed as `type | peers | u32 length | payload`. */
export interface ExtensionMessage<P = PeerList> {
  /** Message type. */
  readonly type: "EXTENSION";
  /** The type code, 6..255. */
  readonly code: number;
  /** The peer block. */
  readonly peers: P;
  /** The payload. */
  readonly payload: Uint8Array;
}

/**
 * A v1 message. Decoded messages carry a {@linkcode PeerList} view; messages
 * to encode may carry plain records instead (see {@linkcode MessageInit}).
 */
export type Message<P = PeerList> =
  | PingMessage<P>
  | JoinMessage<P>
  | BootstrapReplyMessage<P>
  | AppMessage<P>
  | RoomFullMessage<P>
  | CollectorMessage<P>
  | ExtensionMessage<P>;

/** A message to encode: peers may be a decoded list or an array of records. */
export type MessageInit = Message<PeerListLike>;

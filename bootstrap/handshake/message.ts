/**
 * The JSON handshake dialect's messages: one JSON object per UDP datagram,
 * as the handshake-server seed defines them. This module alone turns bytes
 * into messages and back; it checks every field and throws
 * {@linkcode HandshakeParseError} (with a `reason` for the stats) on
 * anything else, never another error.
 *
 * @module
 */

/** Every message type of the dialect, as spelled on the wire. */
export const MESSAGE_TYPES = [
  "HandshakeRequest",
  "HandshakeResponse",
  "Ping",
  "Pong",
  "DiscoveryRequest",
  "DiscoveryResponse",
  "ListNodesRequest",
  "ListNodesResponse",
  "Data",
  "Error",
  "Disconnect",
  "Ack",
  "Retransmit",
  "P2PConnect",
  "RelayRequest",
  "RelayResponse",
  "RelayData",
] as const;

/** One of {@linkcode MESSAGE_TYPES}. */
export type MessageType = typeof MESSAGE_TYPES[number];

/** A JSON value, as `JSON.parse` returns it. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * The envelope every datagram carries. `ack_for` is the acknowledged
 * message's `id`; a number (the seed's README calls it the sequence number)
 * is accepted too.
 */
export interface HandshakeMessage {
  /** A UUID, unique per message (retransmissions keep it). */
  id: string;
  /** What the payload is. */
  message_type: MessageType;
  /** Seconds since the epoch, when the sender built the message. */
  timestamp: number;
  /** Depends on `message_type`; see the `parse*` payload readers. */
  payload: JsonValue;
  /** The sender's own idea of its address (never trusted; the observed one is used). */
  sender_addr: string | null;
  /** The sender's counter, u32, or `null`. */
  sequence_number: number | null;
  /** The receiver must answer with an `Ack`. */
  requires_ack: boolean;
  /** In an `Ack`: the id (or sequence number) of the acknowledged message. */
  ack_for: string | number | null;
}

/** A node's description: the payload of `HandshakeRequest`, entries of `ListNodesResponse`. */
export type NodeInfo = {
  /** The node's id (a UUID in the seed; any non-empty string up to 128 characters here). */
  id: string;
  /** Non-empty. */
  name: string;
  /** Non-empty. */
  version: string;
  /** Where the node says it listens, `ip:port` (informational). */
  listen_addr: string;
  /** Feature names. */
  capabilities: string[];
  /** Free-form strings. Olaf reads `olaf_token` here (see the README). */
  metadata: Record<string, string>;
  /** The network the node wants to join. */
  network_id: string;
};

/** Why a datagram or a payload was refused: the drop reasons of the stats. */
export type ParseReason =
  | "oversized"
  | "malformed-json"
  | "not-an-object"
  | "invalid-id"
  | "invalid-type"
  | "invalid-timestamp"
  | "invalid-sender-addr"
  | "invalid-sequence-number"
  | "invalid-requires-ack"
  | "invalid-ack-for"
  | "invalid-payload";

/** A datagram or payload that is not a valid message. */
export class HandshakeParseError extends Error {
  /** Which check failed, for the drop counters. */
  readonly reason: ParseReason;
  /**
   * Makes the error.
   *
   * @param reason Which check failed.
   * @param message Details for a log line.
   */
  constructor(reason: ParseReason, message: string) {
    super(message);
    this.name = "HandshakeParseError";
    this.reason = reason;
  }
}

/** Limits of {@linkcode parseMessage} and the payload readers. */
export interface ParseLimits {
  /** Largest datagram read, default 8192 bytes (bigger ones are `oversized`, unread). */
  maxDatagramBytes?: number;
  /** Longest string field (names, versions, metadata values), default 256 characters. */
  maxStringLength?: number;
  /** Most capabilities or metadata entries, default 32. */
  maxEntries?: number;
  /** Most bytes in a relayed `data` array, default 1024. */
  maxRelayBytes?: number;
}

const DEFAULT_PARSE_LIMITS: Required<ParseLimits> = {
  maxDatagramBytes: 8192,
  maxStringLength: 256,
  maxEntries: 32,
  maxRelayBytes: 1024,
};

const TYPES = new Set<string>(MESSAGE_TYPES);
const ENVELOPE_KEYS = new Set([
  "id",
  "message_type",
  "timestamp",
  "payload",
  "sender_addr",
  "sequence_number",
  "requires_ack",
  "ack_for",
]);
/** A UUID in text form, any version (the seed uses v4). */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const U32_MAX = 0xffff_ffff;

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Reads one datagram. Missing `sender_addr`, `sequence_number` and `ack_for`
 * read as `null` and a missing `requires_ack` as `false` (serde's defaults);
 * unknown envelope keys are ignored, like serde does.
 *
 * @param data The datagram.
 * @param limits Size limits.
 * @returns The message (the payload is not checked here; use the payload readers).
 * @throws {HandshakeParseError} For anything that is not a valid envelope.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const message = parseMessage(new TextEncoder().encode(JSON.stringify({
 *   id: "6f1c3c0e-1d2b-4c8e-9a51-0f8b1f7a2c11",
 *   message_type: "Ping",
 *   timestamp: 1764633600,
 *   payload: null,
 *   requires_ack: false,
 * })));
 * assert.equal(message.message_type, "Ping");
 * assert.equal(message.sequence_number, null);
 * ```
 */
export function parseMessage(data: Uint8Array, limits: ParseLimits = {}): HandshakeMessage {
  const max = limits.maxDatagramBytes ?? DEFAULT_PARSE_LIMITS.maxDatagramBytes;
  if (data.length > max) {
    throw new HandshakeParseError("oversized", `datagram of ${data.length} bytes > ${max}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new HandshakeParseError("malformed-json", (error as Error).message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HandshakeParseError("not-an-object", "a message must be a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (typeof o.id !== "string" || !UUID.test(o.id)) {
    throw new HandshakeParseError("invalid-id", "id must be a UUID string");
  }
  if (typeof o.message_type !== "string" || !TYPES.has(o.message_type)) {
    throw new HandshakeParseError("invalid-type", `unknown message_type ${show(o.message_type)}`);
  }
  if (typeof o.timestamp !== "number" || !Number.isFinite(o.timestamp) || o.timestamp < 0) {
    throw new HandshakeParseError("invalid-timestamp", "timestamp must be a number >= 0");
  }
  if (!("payload" in o)) {
    throw new HandshakeParseError("invalid-payload", "payload is missing");
  }
  const senderAddr = o.sender_addr ?? null;
  if (senderAddr !== null && (typeof senderAddr !== "string" || senderAddr.length > 64)) {
    throw new HandshakeParseError("invalid-sender-addr", "sender_addr must be a string or null");
  }
  const seq = o.sequence_number ?? null;
  if (seq !== null && !isU32(seq)) {
    throw new HandshakeParseError("invalid-sequence-number", "sequence_number must be a u32");
  }
  const requiresAck = o.requires_ack ?? false;
  if (typeof requiresAck !== "boolean") {
    throw new HandshakeParseError("invalid-requires-ack", "requires_ack must be a boolean");
  }
  const ackFor = o.ack_for ?? null;
  if (
    ackFor !== null &&
    !(typeof ackFor === "string" && (UUID.test(ackFor) || /^\d{1,10}$/.test(ackFor))) &&
    !isU32(ackFor)
  ) {
    throw new HandshakeParseError("invalid-ack-for", "ack_for must be a UUID, a u32 or null");
  }
  return {
    id: o.id.toLowerCase(),
    message_type: o.message_type as MessageType,
    timestamp: o.timestamp,
    payload: o.payload as JsonValue,
    sender_addr: senderAddr as string | null,
    sequence_number: seq as number | null,
    requires_ack: requiresAck,
    ack_for: typeof ackFor === "string" && UUID.test(ackFor) ? ackFor.toLowerCase() : ackFor as
      | string
      | number
      | null,
  };
}

/**
 * Writes one message as a datagram, keys in the seed's order.
 *
 * @param message The message.
 * @returns UTF-8 JSON bytes.
 *
 * @example
 * ```ts
 * import { parseMessage, serializeMessage } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const message = {
 *   id: "6f1c3c0e-1d2b-4c8e-9a51-0f8b1f7a2c11",
 *   message_type: "Pong" as const,
 *   timestamp: 1764633600,
 *   payload: null,
 *   sender_addr: null,
 *   sequence_number: 7,
 *   requires_ack: false,
 *   ack_for: null,
 * };
 * assert.deepEqual(parseMessage(serializeMessage(message)), message);
 * ```
 */
export function serializeMessage(message: HandshakeMessage): Uint8Array {
  const ordered = {} as Record<string, unknown>;
  for (const key of ENVELOPE_KEYS) ordered[key] = message[key as keyof HandshakeMessage];
  return encoder.encode(JSON.stringify(ordered));
}

/**
 * Reads a `HandshakeRequest` payload (a node info). A missing `network_id`
 * reads as `""`, missing `capabilities`/`metadata` as empty.
 *
 * @param payload The message's payload.
 * @param limits String and entry limits.
 * @returns The node info.
 * @throws {HandshakeParseError} With reason `invalid-payload`.
 *
 * @example
 * ```ts
 * import { parseNodeInfo } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const info = parseNodeInfo({
 *   id: "node-1", name: "n", version: "1.0", listen_addr: "0.0.0.0:9000",
 *   capabilities: ["chat"], metadata: {}, network_id: "lan",
 * });
 * assert.equal(info.network_id, "lan");
 * ```
 */
export function parseNodeInfo(payload: JsonValue, limits: ParseLimits = {}): NodeInfo {
  const max = limits.maxStringLength ?? DEFAULT_PARSE_LIMITS.maxStringLength;
  const maxEntries = limits.maxEntries ?? DEFAULT_PARSE_LIMITS.maxEntries;
  const o = object(payload, "node info");
  const id = string(o.id, "id", max, 128);
  const name = string(o.name, "name", max);
  const version = string(o.version, "version", max);
  const listenAddr = o.listen_addr ?? "";
  if (typeof listenAddr !== "string" || listenAddr.length > 64) {
    throw invalid("listen_addr must be a string");
  }
  const capabilities = o.capabilities ?? [];
  if (
    !Array.isArray(capabilities) || capabilities.length > maxEntries ||
    !capabilities.every((c) => typeof c === "string" && c.length <= max)
  ) {
    throw invalid(`capabilities must be at most ${maxEntries} strings`);
  }
  const metadata = o.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw invalid("metadata must be an object of strings");
  }
  const entries = Object.entries(metadata);
  if (
    entries.length > maxEntries ||
    !entries.every(([k, v]) => k.length <= max && typeof v === "string" && v.length <= max)
  ) {
    throw invalid(`metadata must be at most ${maxEntries} string entries`);
  }
  const networkId = o.network_id ?? "";
  if (typeof networkId !== "string" || networkId.length > max) {
    throw invalid("network_id must be a string");
  }
  return {
    id,
    name,
    version,
    listen_addr: listenAddr,
    capabilities: capabilities as string[],
    metadata: Object.fromEntries(entries) as Record<string, string>,
    network_id: networkId,
  };
}

/**
 * Reads the peer id of a `P2PConnect` payload (`{"peer_id", ...}`; other keys are ignored).
 *
 * @param payload The message's payload.
 * @returns The peer id.
 * @throws {HandshakeParseError} With reason `invalid-payload`.
 *
 * @example
 * ```ts
 * import { parseP2PConnect } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseP2PConnect({ peer_id: "node-2" }), "node-2");
 * ```
 */
export function parseP2PConnect(payload: JsonValue): string {
  return string(object(payload, "P2PConnect payload").peer_id, "peer_id", 128);
}

/**
 * Reads a `RelayRequest` payload: `{"target_peer_id", "data": [bytes]}`.
 *
 * @param payload The message's payload.
 * @param limits `maxRelayBytes`.
 * @returns The target and the bytes.
 * @throws {HandshakeParseError} With reason `invalid-payload`.
 *
 * @example
 * ```ts
 * import { parseRelayRequest } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const relay = parseRelayRequest({ target_peer_id: "node-2", data: [104, 105] });
 * assert.deepEqual([...relay.data], [104, 105]);
 * ```
 */
export function parseRelayRequest(
  payload: JsonValue,
  limits: ParseLimits = {},
): { targetPeerId: string; data: Uint8Array } {
  const max = limits.maxRelayBytes ?? DEFAULT_PARSE_LIMITS.maxRelayBytes;
  const o = object(payload, "RelayRequest payload");
  const targetPeerId = string(o.target_peer_id, "target_peer_id", 128);
  const data = o.data;
  if (!Array.isArray(data)) throw invalid("data must be an array of bytes");
  if (data.length > max) throw invalid(`data must be at most ${max} bytes`);
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) {
      throw invalid("data must hold integers 0..255");
    }
    bytes[i] = b;
  }
  return { targetPeerId, data: bytes };
}

/**
 * Reads what a `Retransmit` asks for: `{"id": uuid}` or `{"message_id": uuid}` or
 * `{"sequence_number": n}` in the payload, or the envelope's `ack_for`.
 *
 * @param message The `Retransmit` message.
 * @returns The id or the sequence number to resend.
 * @throws {HandshakeParseError} With reason `invalid-payload`.
 *
 * @example
 * ```ts
 * import { parseRetransmit } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * const base = { id: "6f1c3c0e-1d2b-4c8e-9a51-0f8b1f7a2c11", message_type: "Retransmit" as const,
 *   timestamp: 0, sender_addr: null, sequence_number: null, requires_ack: false, ack_for: null };
 * assert.deepEqual(parseRetransmit({ ...base, payload: { sequence_number: 3 } }), 3);
 * ```
 */
export function parseRetransmit(message: HandshakeMessage): string | number {
  if (message.ack_for !== null) return normaliseRef(message.ack_for);
  const o = object(message.payload, "Retransmit payload");
  const ref = o.id ?? o.message_id ?? o.sequence_number;
  if (typeof ref === "string" && UUID.test(ref)) return ref.toLowerCase();
  if (isU32(ref)) return ref;
  throw invalid("Retransmit names no message (id, message_id or sequence_number)");
}

/**
 * An `ack_for` as a lookup key: a UUID string stays, a decimal string becomes its number.
 *
 * @param ref An `ack_for` value.
 * @returns The id or the sequence number.
 *
 * @example
 * ```ts
 * import { normaliseRef } from "@olaf/bootstrap/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(normaliseRef("42"), 42);
 * ```
 */
export function normaliseRef(ref: string | number): string | number {
  return typeof ref === "string" && /^\d{1,10}$/.test(ref) ? Number(ref) : ref;
}

function isU32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

function object(value: JsonValue, what: string): Record<string, JsonValue> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be an object`);
  }
  return value;
}

function string(value: JsonValue | undefined, key: string, max: number, cap = max): string {
  const limit = Math.min(max, cap);
  if (typeof value !== "string" || value.length === 0 || value.length > limit) {
    throw invalid(`${key} must be a non-empty string of at most ${limit} characters`);
  }
  return value;
}

function invalid(message: string): HandshakeParseError {
  return new HandshakeParseError("invalid-payload", message);
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value);
}

/**
 * Wire codec of Olaf's NAT traversal messages (issue 11), all in v1 framing
 * (`type u8 | peer count u16 | N x 10-byte records | u32 length | payload`):
 *
 * - `PROBE` (20), peer to peer: a path probe / hole punch and its reply;
 * - `RELAY_RESERVE` (29), peer and bootstrap: a relay reservation request, grant or refusal;
 * - `RELAYED` (30), peer and bootstrap: a datagram the relay forwards;
 * - `NAT_CHECK` (31), peer and bootstrap: "what address do you see me as", answered from
 *   each bootstrap port, so a peer can tell whether its NAT mapping is endpoint-independent.
 *
 * Every request is padded to the size of its answer, so no answer is larger than what asked
 * for it. Layouts and hex vectors: `protocol/EXTENSIONS.md`.
 *
 * @module
 */
import { decode, encode } from "./codec.ts";
import type { PeerRecord } from "./peer_list.ts";

export type { PeerRecord } from "./peer_list.ts";

/** Type code of `PROBE`. */
export const PROBE_CODE = 20;
/** Type code of `RELAY_RESERVE`. */
export const RELAY_RESERVE_CODE = 29;
/** Type code of `RELAYED`. */
export const RELAYED_CODE = 30;
/** Type code of `NAT_CHECK`. */
export const NAT_CHECK_CODE = 31;

/** Bytes of every `PROBE` (request and reply alike). */
export const PROBE_BYTES = 36;
/** Bytes of a `NAT_CHECK` request and of its reply. */
export const NAT_CHECK_BYTES = 28;
/** Bytes a `RELAYED` adds around the datagram it carries. */
export const RELAYED_OVERHEAD_BYTES = 17;

/**
 * A `PROBE`: `request` carries the sender's public record (as its bootstrap
 * sees it) and a nonce; the `reply` echoes the nonce, carries the replier's
 * public record and the source address the request came from.
 */
export type ProbeFrame =
  | {
    readonly kind: "request";
    /** The sender's public record. */
    readonly self: PeerRecord;
    /** 8 random bytes, echoed by the reply. */
    readonly nonce: Uint8Array;
    /**
     * The 8-byte punch token of the bootstrap introduction (`WELCOME` / `INTRODUCE`) that
     * brought the two peers together; absent (all zero on the wire) without one.
     */
    readonly token?: Uint8Array;
  }
  | {
    readonly kind: "reply";
    /** The replier's public record. */
    readonly self: PeerRecord;
    /** Where the request came from, as the replier saw it (id 0). */
    readonly observed: PeerRecord;
    /** The request's nonce. */
    readonly nonce: Uint8Array;
  };

/** A `RELAY_RESERVE`: a request, a grant with its limits, or a refusal. */
export type RelayReserveFrame =
  | { readonly kind: "request" }
  | {
    readonly kind: "grant";
    /** The reservation lasts this long (renew before it ends by asking again). */
    readonly lifetimeMs: number;
    /** Bytes it may still send through the relay during that time. */
    readonly bytes: number;
    /** Datagrams per second it may send through the relay. */
    readonly rate: number;
  }
  | {
    readonly kind: "refused";
    /** 1: relaying is off; 2: the relay is full; 3: this source is over its limits. */
    readonly reason: RelayRefusal;
  };

/** Why a relay reservation was refused. */
export type RelayRefusal = "disabled" | "full" | "limited";

/** A `RELAYED`: to the relay, `peer` is the target; from the relay, the source. */
export interface RelayedFrame {
  /** The other end's public address (id 0). */
  readonly peer: { readonly ip: string; readonly port: number };
  /** The datagram carried (any Olaf or v1 datagram). */
  readonly data: Uint8Array;
}

/** A `NAT_CHECK`: a request with a nonce, or the reply naming the observed source. */
export type NatCheckFrame =
  | { readonly kind: "request"; readonly nonce: Uint8Array }
  | {
    readonly kind: "reply";
    readonly nonce: Uint8Array;
    /** The request's source as this bootstrap port saw it (id 0). */
    readonly observed: { readonly ip: string; readonly port: number };
    /** The bootstrap's other port that answers `NAT_CHECK` (0: none). */
    readonly checkPort: number;
  };

const REFUSALS: readonly RelayRefusal[] = ["disabled", "full", "limited"];

function nonce8(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== 8) throw new RangeError(`a nonce is 8 bytes, got ${nonce.length}`);
  return nonce;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The extension's peers and payload, or `undefined` when `data` is not that code. */
function open(data: Uint8Array, code: number) {
  if (data.length === 0 || data[0] !== code) return undefined;
  try {
    const m = decode(data);
    return m.type === "EXTENSION" ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Encodes a `PROBE` (always {@linkcode PROBE_BYTES} bytes).
 *
 * @param frame The probe.
 * @returns The datagram.
 * @throws {RangeError} For a nonce that is not 8 bytes or a bad record.
 *
 * @example
 * ```ts
 * import { decodeProbe, encodeProbe, PROBE_BYTES } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const self = { ip: "198.51.100.1", port: 4000, id: 7 };
 * const bytes = encodeProbe({ kind: "request", self, nonce: new Uint8Array(8).fill(1) });
 * assert.equal(bytes.length, PROBE_BYTES);
 * assert.deepEqual(decodeProbe(bytes)?.self, self);
 * ```
 */
export function encodeProbe(frame: ProbeFrame): Uint8Array {
  const nonce = nonce8(frame.nonce);
  if (frame.kind === "request") {
    return encode({
      type: "EXTENSION",
      code: PROBE_CODE,
      peers: [frame.self],
      payload: concat([1], nonce, frame.token ? nonce8(frame.token) : new Uint8Array(8), [0, 0]),
    });
  }
  return encode({
    type: "EXTENSION",
    code: PROBE_CODE,
    peers: [frame.self, { ip: frame.observed.ip, port: frame.observed.port, id: 0 }],
    payload: concat([2], nonce),
  });
}

/**
 * Decodes a `PROBE`, or `undefined` when `data` is not a valid one.
 *
 * @param data A datagram.
 * @returns The probe, or `undefined`.
 *
 * @example
 * ```ts
 * import { decodeProbe } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeProbe(new Uint8Array([20, 0, 0])), undefined);
 * ```
 */
export function decodeProbe(data: Uint8Array): ProbeFrame | undefined {
  const m = open(data, PROBE_CODE);
  if (m === undefined) return undefined;
  const p = m.payload;
  if (m.peers.length === 1 && p.length === 19 && p[0] === 1) {
    const token = p.subarray(9, 17);
    return token.some((b) => b !== 0)
      ? { kind: "request", self: m.peers.get(0), nonce: p.slice(1, 9), token: token.slice() }
      : { kind: "request", self: m.peers.get(0), nonce: p.slice(1, 9) };
  }
  if (m.peers.length === 2 && p.length === 9 && p[0] === 2) {
    return { kind: "reply", self: m.peers.get(0), observed: m.peers.get(1), nonce: p.slice(1, 9) };
  }
  return undefined;
}

/**
 * Encodes a `RELAY_RESERVE` (a request is padded to a grant's size).
 *
 * @param frame The request, grant or refusal.
 * @returns The datagram.
 *
 * @example
 * ```ts
 * import { decodeRelayReserve, encodeRelayReserve } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const grant = { kind: "grant", lifetimeMs: 120_000, bytes: 1 << 20, rate: 50 } as const;
 * assert.deepEqual(decodeRelayReserve(encodeRelayReserve(grant)), grant);
 * assert.equal(encodeRelayReserve({ kind: "request" }).length, encodeRelayReserve(grant).length);
 * ```
 */
export function encodeRelayReserve(frame: RelayReserveFrame): Uint8Array {
  let payload: Uint8Array;
  if (frame.kind === "request") payload = concat([1], new Uint8Array(10));
  else if (frame.kind === "refused") payload = Uint8Array.of(3, REFUSALS.indexOf(frame.reason) + 1);
  else {
    payload = new Uint8Array(11);
    const v = new DataView(payload.buffer);
    v.setUint8(0, 2);
    v.setUint32(1, frame.lifetimeMs);
    v.setUint32(5, frame.bytes);
    v.setUint16(9, frame.rate);
  }
  return encode({ type: "EXTENSION", code: RELAY_RESERVE_CODE, peers: [], payload });
}

/**
 * Decodes a `RELAY_RESERVE`, or `undefined` when `data` is not a valid one.
 *
 * @param data A datagram.
 * @returns The frame, or `undefined`.
 *
 * @example
 * ```ts
 * import { decodeRelayReserve, encodeRelayReserve } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeRelayReserve({ kind: "refused", reason: "disabled" });
 * assert.deepEqual(decodeRelayReserve(bytes), { kind: "refused", reason: "disabled" });
 * ```
 */
export function decodeRelayReserve(data: Uint8Array): RelayReserveFrame | undefined {
  const m = open(data, RELAY_RESERVE_CODE);
  if (m === undefined || m.peers.length !== 0) return undefined;
  const p = m.payload;
  if (p.length === 11 && p[0] === 1) return { kind: "request" };
  if (p.length === 11 && p[0] === 2) {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    return {
      kind: "grant",
      lifetimeMs: v.getUint32(1),
      bytes: v.getUint32(5),
      rate: v.getUint16(9),
    };
  }
  if (p.length === 2 && p[0] === 3 && p[1]! >= 1 && p[1]! <= REFUSALS.length) {
    return { kind: "refused", reason: REFUSALS[p[1]! - 1]! };
  }
  return undefined;
}

/**
 * Encodes a `RELAYED`: {@linkcode RELAYED_OVERHEAD_BYTES} more than the datagram it carries.
 *
 * @param frame The other end and the datagram.
 * @returns The datagram.
 *
 * @example
 * ```ts
 * import { decodeRelayed, encodeRelayed } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeRelayed({ peer: { ip: "198.51.100.2", port: 4000 }, data: Uint8Array.of(1) });
 * assert.deepEqual(decodeRelayed(bytes)?.peer, { ip: "198.51.100.2", port: 4000 });
 * ```
 */
export function encodeRelayed(frame: RelayedFrame): Uint8Array {
  return encode({
    type: "EXTENSION",
    code: RELAYED_CODE,
    peers: [{ ip: frame.peer.ip, port: frame.peer.port, id: 0 }],
    payload: frame.data,
  });
}

/**
 * Decodes a `RELAYED`, or `undefined` when `data` is not a valid one.
 *
 * @param data A datagram.
 * @returns The frame (its `data` is a view into `data`), or `undefined`.
 *
 * @example
 * ```ts
 * import { decodeRelayed } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeRelayed(new Uint8Array([30])), undefined);
 * ```
 */
export function decodeRelayed(data: Uint8Array): RelayedFrame | undefined {
  const m = open(data, RELAYED_CODE);
  if (m === undefined || m.peers.length !== 1 || m.payload.length === 0) return undefined;
  const peer = m.peers.get(0);
  if (peer.port === 0 || peer.id !== 0) return undefined;
  return { peer: { ip: peer.ip, port: peer.port }, data: m.payload };
}

/**
 * Encodes a `NAT_CHECK` (request and reply are both {@linkcode NAT_CHECK_BYTES} bytes).
 *
 * @param frame The request or reply.
 * @returns The datagram.
 * @throws {RangeError} For a nonce that is not 8 bytes.
 *
 * @example
 * ```ts
 * import { decodeNatCheck, encodeNatCheck, NAT_CHECK_BYTES } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const request = encodeNatCheck({ kind: "request", nonce: new Uint8Array(8) });
 * assert.equal(request.length, NAT_CHECK_BYTES);
 * assert.equal(decodeNatCheck(request)?.kind, "request");
 * ```
 */
export function encodeNatCheck(frame: NatCheckFrame): Uint8Array {
  const nonce = nonce8(frame.nonce);
  if (frame.kind === "request") {
    return encode({
      type: "EXTENSION",
      code: NAT_CHECK_CODE,
      peers: [],
      payload: concat([1], nonce, new Uint8Array(12)),
    });
  }
  return encode({
    type: "EXTENSION",
    code: NAT_CHECK_CODE,
    peers: [{ ip: frame.observed.ip, port: frame.observed.port, id: 0 }],
    payload: concat([2], nonce, [frame.checkPort >> 8, frame.checkPort & 0xff]),
  });
}

/**
 * Decodes a `NAT_CHECK`, or `undefined` when `data` is not a valid one.
 *
 * @param data A datagram.
 * @returns The frame, or `undefined`.
 *
 * @example
 * ```ts
 * import { decodeNatCheck, encodeNatCheck } from "@olaf/protocol/nat";
 * import assert from "node:assert/strict";
 *
 * const nonce = new Uint8Array(8).fill(9);
 * const reply = { kind: "reply", nonce, observed: { ip: "198.51.100.1", port: 4000 }, checkPort: 5001 } as const;
 * assert.deepEqual(decodeNatCheck(encodeNatCheck(reply)), reply);
 * ```
 */
export function decodeNatCheck(data: Uint8Array): NatCheckFrame | undefined {
  const m = open(data, NAT_CHECK_CODE);
  if (m === undefined) return undefined;
  const p = m.payload;
  if (m.peers.length === 0 && p.length === 21 && p[0] === 1) {
    return { kind: "request", nonce: p.slice(1, 9) };
  }
  if (m.peers.length === 1 && p.length === 11 && p[0] === 2) {
    const o = m.peers.get(0);
    return {
      kind: "reply",
      nonce: p.slice(1, 9),
      observed: { ip: o.ip, port: o.port },
      checkPort: (p[9]! << 8) | p[10]!,
    };
  }
  return undefined;
}

/**
 * Wire format of the membership-at-scale extension (codes 32..37, see
 * protocol/EXTENSIONS.md): v1 framing, the sender's own record first, then
 * the subjects; the payload is a u32 word (probe sequence number, page
 * offset) and one `state u8 | incarnation u32` entry per record (the
 * target of a `PROBE_REQ` has none).
 */
import {
  encode,
  type MessageInit,
  type PeerList,
  type PeerRecord,
  ProtocolError,
} from "@olaf/protocol";

/** SWIM message type codes. */
export const SwimCode = {
  /** Direct probe; answered by `ACK` with the same sequence number. */
  PROBE: 32,
  /** Answer to a `PROBE` (or, from a helper, to a `PROBE_REQ`). */
  ACK: 33,
  /** Indirect probe request: probe the target for me and forward its `ACK`. */
  PROBE_REQ: 34,
  /** Membership updates pushed to a few random members (no answer). */
  GOSSIP: 35,
  /** A newcomer asks for a page of the member list from `offset`. */
  SYNC_REQ: 36,
  /** One page of the member list; the word is the next offset, 0 on the last page. */
  SYNC: 37,
} as const;

/** One of the SWIM codes. */
export type SwimCode = typeof SwimCode[keyof typeof SwimCode];

/** Whether `code` is one of the SWIM codes (32..37). */
export function isSwimCode(code: number): code is SwimCode {
  return code >= SwimCode.PROBE && code <= SwimCode.SYNC;
}

/** What a record's entry says about its member. */
export const SwimState = { ALIVE: 0, SUSPECT: 1, DEAD: 2, LEFT: 3 } as const;
/** A member state on the wire. */
export type SwimState = typeof SwimState[keyof typeof SwimState];

/** One membership update: a member, what is said of it, and at which incarnation. */
export interface SwimUpdate {
  readonly record: PeerRecord;
  readonly state: SwimState;
  readonly incarnation: number;
}

/** A decoded SWIM message. */
export interface SwimMessage {
  readonly code: SwimCode;
  /** Probe sequence number (`PROBE`, `ACK`, `PROBE_REQ`), offset (`SYNC_REQ`), next offset (`SYNC`), 0 (`GOSSIP`). */
  readonly word: number;
  /** The sender's own entry (its record and incarnation). */
  readonly sender: SwimUpdate;
  /** `PROBE_REQ` only: whom to probe. */
  readonly target: PeerRecord | undefined;
  /** The subjects (membership updates, or a page of the member list). */
  readonly updates: readonly SwimUpdate[];
}

/** Bytes of one entry in the payload. */
export const ENTRY_BYTES = 5;
/** Bytes of one record plus its entry. */
export const UPDATE_BYTES = 10 + ENTRY_BYTES;
/** Bytes of a SWIM message with no subjects: framing, sender record, word, sender entry. */
export const SWIM_BASE_BYTES = 3 + 10 + 4 + 4 + ENTRY_BYTES;

/** The message bytes (v1 framing, code 32..37). */
export function encodeSwim(message: SwimMessage): Uint8Array {
  return encode(swimInit(message));
}

/** The message as the codec takes it (an `EXTENSION` with code 32..37). */
export function swimInit(message: SwimMessage): MessageInit {
  const peers: PeerRecord[] = [message.sender.record];
  if (message.code === SwimCode.PROBE_REQ) {
    if (message.target === undefined) throw new RangeError("PROBE_REQ needs a target");
    peers.push(message.target);
  }
  const entries = [message.sender, ...message.updates];
  for (const u of message.updates) peers.push(u.record);
  const payload = new Uint8Array(4 + ENTRY_BYTES * entries.length);
  const view = new DataView(payload.buffer);
  view.setUint32(0, message.word >>> 0);
  entries.forEach((u, i) => {
    payload[4 + i * ENTRY_BYTES] = u.state;
    view.setUint32(5 + i * ENTRY_BYTES, u.incarnation >>> 0);
  });
  return { type: "EXTENSION", code: message.code, peers, payload };
}

/**
 * Reads a SWIM message out of a decoded extension's peers and payload.
 *
 * @throws {ProtocolError} Reason `field-out-of-range`: the payload does not
 *   match the records, or a state is unknown.
 */
export function decodeSwim(code: SwimCode, peers: PeerList, payload: Uint8Array): SwimMessage {
  const skip = code === SwimCode.PROBE_REQ ? 1 : 0;
  const entries = peers.length - skip;
  if (peers.length < 1 + skip || payload.length !== 4 + ENTRY_BYTES * entries) {
    throw new ProtocolError(
      "field-out-of-range",
      `SWIM message ${code} with ${peers.length} records has a ${payload.length}-byte payload`,
    );
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const entry = (i: number, record: PeerRecord): SwimUpdate => {
    const state = payload[4 + i * ENTRY_BYTES]!;
    if (state > SwimState.LEFT) {
      throw new ProtocolError("field-out-of-range", `unknown SWIM member state ${state}`);
    }
    return { record, state: state as SwimState, incarnation: view.getUint32(5 + i * ENTRY_BYTES) };
  };
  const sender = entry(0, peers.get(0));
  const updates: SwimUpdate[] = [];
  for (let i = 1; i < entries; i++) updates.push(entry(i, peers.get(i + skip)));
  return {
    code,
    word: view.getUint32(0),
    sender,
    target: skip ? peers.get(1) : undefined,
    updates,
  };
}

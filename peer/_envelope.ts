// The node envelope: what a node puts in the payload of an APP_R datagram (see
// peer/README.md, "Node envelope"). UTF-8 JSON, one object, tagged "olaf":"node/1", so a
// receiver can tell node traffic from plain chat text and from garbage.
//
//   hello  {"olaf":"node/1","t":"hello","node":UUID,"name":TEXT,"ack":BOOL}
//   msg    {"olaf":"node/1","t":"msg","node":UUID,"name":TEXT,"id":N,"at":MS,"text":TEXT}
//   ack    {"olaf":"node/1","t":"ack","node":UUID,"id":N}
//
// `node` and `name` are what the sender claims; the receiver checks them against what the
// sending address announced in its hello (verification lives in node.ts, not here).

/** The tag every envelope carries. */
export const ENVELOPE_TAG = "node/1";
/** Longest friendly name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 64;
/** Longest message text, in UTF-8 bytes (keeps a datagram well under the 64 KiB UDP limit). */
export const MAX_TEXT_BYTES = 8192;

/** A node introduces itself; `ack` is set on the answer to another node's hello. */
export interface HelloEnvelope {
  readonly t: "hello";
  readonly node: string;
  readonly name: string;
  readonly ack: boolean;
}

/** An application message; `id` is unique per sending node, `at` its send time (ms epoch). */
export interface MsgEnvelope {
  readonly t: "msg";
  readonly node: string;
  readonly name: string;
  readonly id: number;
  readonly at: number;
  readonly text: string;
}

/** The receiver got message `id` of the node it is sent to (an app-level ack). */
export interface AckEnvelope {
  readonly t: "ack";
  readonly node: string;
  readonly id: number;
}

/** Any envelope. */
export type Envelope = HelloEnvelope | MsgEnvelope | AckEnvelope;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Encodes an envelope (fixed key order, so the bytes are reproducible). */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  switch (envelope.t) {
    case "hello":
      return json({
        olaf: ENVELOPE_TAG,
        t: "hello",
        node: envelope.node,
        name: envelope.name,
        ack: envelope.ack,
      });
    case "msg":
      return json({
        olaf: ENVELOPE_TAG,
        t: "msg",
        node: envelope.node,
        name: envelope.name,
        id: envelope.id,
        at: envelope.at,
        text: envelope.text,
      });
    case "ack":
      return json({ olaf: ENVELOPE_TAG, t: "ack", node: envelope.node, id: envelope.id });
  }
}

function json(value: Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Whether `name` may be a friendly name: 1..64 characters, no control characters. */
export function validName(name: unknown): name is string {
  return typeof name === "string" && name.length > 0 && name.length <= MAX_NAME_LENGTH &&
    !CONTROL.test(name);
}

/** Whether `id` looks like a node id (a lowercase UUID). */
export function validNodeId(id: unknown): id is string {
  return typeof id === "string" && UUID.test(id);
}

/** Decodes an envelope, or returns `undefined` for anything that is not a valid one. */
export function decodeEnvelope(data: Uint8Array): Envelope | undefined {
  if (data.length < 2 || data[0] !== 0x7b) return undefined; // "{"
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.olaf !== ENVELOPE_TAG || !validNodeId(v.node)) return undefined;
  const id = v.id;
  const validId = typeof id === "number" && Number.isSafeInteger(id) && id > 0;
  switch (v.t) {
    case "hello":
      if (!validName(v.name) || typeof v.ack !== "boolean") return undefined;
      return { t: "hello", node: v.node, name: v.name, ack: v.ack };
    case "msg":
      if (!validName(v.name) || !validId || typeof v.text !== "string") return undefined;
      if (typeof v.at !== "number" || !Number.isFinite(v.at)) return undefined;
      return { t: "msg", node: v.node, name: v.name, id: id as number, at: v.at, text: v.text };
    case "ack":
      if (!validId) return undefined;
      return { t: "ack", node: v.node, id: id as number };
    default:
      return undefined;
  }
}

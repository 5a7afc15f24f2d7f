/**
 * The Noise handshake patterns Olaf uses, with the `psk` modifier (Noise spec sections 7 and
 * 9). Only the patterns below are defined; the handshake engine is generic over them.
 *
 * @module
 */

/** A handshake token. */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk";

/** A handshake pattern: pre-messages and message token lists, initiator first. */
export interface HandshakePattern {
  /** Name as in the protocol name, e.g. `XXpsk3`. */
  readonly name: string;
  /** Keys the initiator knows of the responder beforehand (`["s"]` for IK). */
  readonly responderPre: readonly Token[];
  /** Tokens of each handshake message; even indexes are sent by the initiator. */
  readonly messages: readonly (readonly Token[])[];
}

const BASE: Record<string, Omit<HandshakePattern, "name">> = {
  // -> e / <- e, ee, s, es / -> s, se
  XX: { responderPre: [], messages: [["e"], ["e", "ee", "s", "es"], ["s", "se"]] },
  // <- s ... / -> e, es, s, ss / <- e, ee, se
  IK: { responderPre: ["s"], messages: [["e", "es", "s", "ss"], ["e", "ee", "se"]] },
};

/**
 * A pattern by name: a base (`XX`, `IK`) with optional `pskN` modifiers, e.g. `XXpsk3`,
 * `IKpsk2`. psk0 goes before the first message's tokens, pskN (N >= 1) after message N's.
 */
export function pattern(name: string): HandshakePattern {
  const m = /^(XX|IK)((?:psk\d)*)$/.exec(name);
  if (!m) throw new Error(`unsupported Noise pattern: ${name}`);
  const base = BASE[m[1]];
  const messages = base.messages.map((msg) => [...msg]);
  for (const mod of m[2].match(/psk\d/g) ?? []) {
    const n = Number(mod.slice(3));
    if (n === 0) messages[0].unshift("psk");
    else if (n <= messages.length) messages[n - 1].push("psk");
    else throw new Error(`psk${n} is past the last message of ${m[1]}`);
  }
  return { name, responderPre: base.responderPre, messages };
}

/** Whether a pattern uses a PSK (then `e` tokens also call MixKey). */
export function usesPsk(p: HandshakePattern): boolean {
  return p.messages.some((msg) => msg.includes("psk"));
}

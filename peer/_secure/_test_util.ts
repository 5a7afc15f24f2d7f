/** Test helpers for the secure layer: deterministic randomness and a two-peer pump. */
import { concat, hash } from "./crypto.ts";
import { SecureEndpoint, type SecureEndpointOptions, type SecureEvent } from "./endpoint.ts";
import { identityFromSecret } from "./identity.ts";
import { roomKeys } from "./room_keys.ts";

/** A deterministic byte source: SHA-256(label || counter) blocks. */
export function seededRandom(label: string): (n: number) => Uint8Array {
  let counter = 0;
  const seed = new TextEncoder().encode(label);
  return (n) => {
    const out = new Uint8Array(n);
    for (let at = 0; at < n; at += 32) {
      const block = hash(
        concat(seed, new Uint8Array([counter >>> 24, counter >>> 16, counter >>> 8, counter])),
      );
      counter++;
      out.set(block.subarray(0, Math.min(32, n - at)), at);
    }
    return out;
  };
}

/** A fixed identity from a one-byte fill. */
export function fixedIdentity(fill: number) {
  return identityFromSecret(new Uint8Array(32).fill(fill));
}

/** An endpoint with a fixed identity in room "lobby" with `secret`. */
export function endpoint(
  fill: number,
  secret: string | undefined = "s3cret",
  extra: Partial<SecureEndpointOptions> = {},
): SecureEndpoint {
  return new SecureEndpoint({
    identity: fixedIdentity(fill),
    room: roomKeys("lobby", secret),
    random: seededRandom(`peer-${fill}`),
    ...extra,
  });
}

/** A datagram in flight. */
export interface Wire {
  from: string;
  to: string;
  data: Uint8Array;
}

/**
 * Deliver every queued datagram between named endpoints until none is left (bounded), passing
 * each through `filter` (return undefined to drop, or other bytes to tamper). Returns the log.
 */
export function pump(
  now: number,
  nodes: Record<string, SecureEndpoint>,
  filter: (w: Wire) => Uint8Array | undefined = (w) => w.data,
  rounds = 50,
): Wire[] {
  const log: Wire[] = [];
  for (let r = 0; r < rounds; r++) {
    let moved = false;
    for (const [name, node] of Object.entries(nodes)) {
      for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
        moved = true;
        const w = { from: name, to: t.to, data: t.data };
        log.push(w);
        const data = filter(w);
        if (data !== undefined && nodes[t.to]) nodes[t.to].handleDatagram(now, data, name);
      }
    }
    if (!moved) return log;
  }
  throw new Error("pump did not settle");
}

/** Drain an endpoint's events. */
export function events(node: SecureEndpoint): SecureEvent[] {
  const out: SecureEvent[] = [];
  for (let e = node.pollEvent(); e; e = node.pollEvent()) out.push(e);
  return out;
}

/**
 * A faithful sans-IO model of the DEPLOYED v1 peer (Python, standard library),
 * defects included, for interoperability tests:
 *
 * - heartbeat 3 s: alone -> `JOIN_B` to the FIRST bootstrap only (defect 5);
 *   otherwise `PING` with its whole peer list to everyone, purge peers silent
 *   for 15 s, and `PEER_COLLECTOR` (empty peer block) if its id is the lowest
 *   (ties included: with unix-second ids two peers may both collect);
 * - `BOOTSTRAP_R`: learn its own record the first time, add every listed peer;
 * - `PING`: refresh the sender if known — but never add the sender (defect 4);
 *   add every listed peer AND refresh every listed peer's last-seen time
 *   (defect 3); `bye` removes the sender at once;
 * - `APP_R`: deliver the payload; it sends `APP_R` with its peer list;
 * - it reads into a 1024-byte buffer: longer datagrams are cut and fail to
 *   decode; unknown type codes are ignored.
 */
import { BYE, decode, encode, isBye, type Message, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";

interface Known {
  ip: string;
  port: number;
  id: number;
  lastSeen: number;
}

/** The deployed v1 peer, sans-IO. */
export class LegacyV1Peer {
  readonly room: string;
  readonly bootstraps: readonly NetAddress[];
  readonly heartbeatMs: number;
  readonly peerTimeoutMs: number;
  self: PeerRecord | undefined;
  /** Known peers by "ip:port" (insertion order). */
  readonly known = new Map<string, Known>();
  /** Application payloads received, as text, with the sender's "ip:port". */
  readonly received: { from: string; text: string }[] = [];
  #out: { data: Uint8Array; to: NetAddress }[] = [];
  #next: number;
  #left = false;

  constructor(options: {
    room: string;
    bootstraps: readonly NetAddress[];
    heartbeatMs?: number;
    peerTimeoutMs?: number;
    now?: number;
  }) {
    this.room = options.room;
    this.bootstraps = options.bootstraps;
    this.heartbeatMs = options.heartbeatMs ?? 3000;
    this.peerTimeoutMs = options.peerTimeoutMs ?? 15_000;
    this.#next = options.now ?? 0;
  }

  /** Known peers' "ip:port" keys, sorted. */
  get peerKeys(): string[] {
    return [...this.known.keys()].sort();
  }

  handleDatagram(raw: Uint8Array, from: NetAddress, now: number): void {
    if (this.#left) return;
    const data = raw.length > 1024 ? raw.subarray(0, 1024) : raw; // recvfrom(1024)
    let message: Message;
    try {
      message = decode(data);
    } catch {
      return; // the deployed peer logs and carries on
    }
    const sender = `${from.hostname}:${from.port}`;
    switch (message.type) {
      case "BOOTSTRAP_R": {
        if (this.self === undefined) this.self = message.self;
        for (const p of message.peers) this.#add(p, now, false);
        return;
      }
      case "PING": {
        if (isBye(message.payload)) {
          this.known.delete(sender);
          return;
        }
        const s = this.known.get(sender);
        if (s) s.lastSeen = now; // the sender is NOT added when unknown (defect 4)
        for (const p of message.peers) this.#add(p, now, true); // refreshes everyone named (defect 3)
        return;
      }
      case "APP_R":
        this.received.push({ from: sender, text: new TextDecoder().decode(message.payload) });
        return;
      default:
        return; // ROOM_FULL is printed; unknown types are ignored
    }
  }

  #add(p: PeerRecord, now: number, refresh: boolean): void {
    const key = `${p.ip}:${p.port}`;
    if (this.self && key === `${this.self.ip}:${this.self.port}`) return;
    const existing = this.known.get(key);
    if (existing) {
      if (refresh) existing.lastSeen = now;
      return;
    }
    this.known.set(key, { ip: p.ip, port: p.port, id: p.id, lastSeen: now });
  }

  #list(): PeerRecord[] {
    return [...this.known.values()].map(({ ip, port, id }) => ({ ip, port, id }));
  }

  handleTimeout(now: number): void {
    if (this.#left || now < this.#next) return;
    this.#next = now + this.heartbeatMs;
    for (const [key, p] of this.known) {
      if (now - p.lastSeen > this.peerTimeoutMs) this.known.delete(key);
    }
    if (this.known.size === 0) {
      const peers = this.self ? [this.self] : [];
      this.#out.push({
        data: encode({ type: "JOIN_B", peers, room: this.room }),
        to: this.bootstraps[0]!,
      });
      return;
    }
    const ping = encode({ type: "PING", peers: this.#list(), payload: new Uint8Array() });
    for (const p of this.known.values()) {
      this.#out.push({ data: ping, to: { hostname: p.ip, port: p.port } });
    }
    const self = this.self;
    if (self && [...this.known.values()].every((p) => self.id <= p.id)) {
      this.#out.push({
        data: encode({ type: "PEER_COLLECTOR", peers: [], room: this.room }),
        to: this.bootstraps[0]!,
      });
    }
  }

  send(text: string): void {
    const data = encode({
      type: "APP_R",
      peers: this.#list(),
      payload: new TextEncoder().encode(text),
    });
    for (const p of this.known.values()) {
      this.#out.push({ data, to: { hostname: p.ip, port: p.port } });
    }
  }

  leave(): void {
    const data = encode({ type: "PING", peers: this.#list(), payload: BYE });
    for (const p of this.known.values()) {
      this.#out.push({ data, to: { hostname: p.ip, port: p.port } });
    }
    this.known.clear();
    this.#left = true;
  }

  pollTransmit(): { data: Uint8Array; to: NetAddress } | undefined {
    return this.#out.shift();
  }

  pollTimeout(): number | undefined {
    return this.#left ? undefined : this.#next;
  }
}

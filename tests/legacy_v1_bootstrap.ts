/**
 * A faithful sans-IO model of the DEPLOYED v1 bootstrap, defects included:
 *
 * - ids are the current Unix time in whole seconds (defect 1: two peers
 *   joining in the same second get the same id);
 * - `JOIN_B` creates the room (or `ROOM_FULL` past 10 rooms), adds the source
 *   if its ip:port is not there, refreshes the room's activity and answers
 *   `BOOTSTRAP_R` listing every member (no size limit: defect 6); a re-join
 *   carrying the sender's own record keeps that id when the record's ip:port
 *   is the source;
 * - `PEER_COLLECTOR` answers `BOOTSTRAP_R` for an existing room but does NOT
 *   refresh its activity (defect 2), ignores any report, and is ignored for
 *   an unknown room;
 * - members are never removed; a room idle for 15 s is deleted by a sweep
 *   that runs every 5 s.
 */
import { decode, encode, type Message, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";

interface LegacyRoom {
  members: PeerRecord[];
  lastActivity: number;
}

/** The deployed v1 bootstrap, sans-IO. `now` is ms since the epoch. */
export class LegacyV1Bootstrap {
  readonly rooms = new Map<string, LegacyRoom>();
  readonly maxRooms: number;
  readonly roomTimeoutMs: number;
  readonly sweepMs: number;
  #out: { data: Uint8Array; to: NetAddress }[] = [];
  #nextSweep: number;

  constructor(options: { now?: number; maxRooms?: number; roomTimeoutMs?: number } = {}) {
    this.maxRooms = options.maxRooms ?? 10;
    this.roomTimeoutMs = options.roomTimeoutMs ?? 15_000;
    this.sweepMs = 5000;
    this.#nextSweep = (options.now ?? 0) + this.sweepMs;
  }

  handleDatagram(data: Uint8Array, from: NetAddress, now: number): void {
    let message: Message;
    try {
      message = decode(data);
    } catch {
      return;
    }
    const ip = from.hostname;
    const port = from.port;
    if (message.type === "JOIN_B") {
      let room = this.rooms.get(message.room);
      if (room === undefined) {
        if (this.rooms.size >= this.maxRooms) {
          this.#out.push({
            data: encode({ type: "ROOM_FULL", peers: [], payload: new Uint8Array() }),
            to: from,
          });
          return;
        }
        room = { members: [], lastActivity: now };
        this.rooms.set(message.room, room);
      }
      room.lastActivity = now;
      let me = room.members.find((m) => m.ip === ip && m.port === port);
      if (me === undefined) {
        const claimed = message.peers.length > 0 ? message.peers.get(0) : undefined;
        const id = claimed && claimed.ip === ip && claimed.port === port
          ? claimed.id
          : Math.floor(now / 1000);
        me = { ip, port, id };
        room.members.push(me);
      }
      this.#out.push({
        data: encode({ type: "BOOTSTRAP_R", peers: room.members, self: me }),
        to: from,
      });
    } else if (message.type === "PEER_COLLECTOR") {
      const room = this.rooms.get(message.room);
      if (room === undefined) return;
      const me = room.members.find((m) => m.ip === ip && m.port === port) ??
        { ip: "0.0.0.0", port: 0, id: 0 };
      this.#out.push({
        data: encode({ type: "BOOTSTRAP_R", peers: room.members, self: me }),
        to: from,
      });
    }
  }

  handleTimeout(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.sweepMs;
    for (const [name, room] of this.rooms) {
      if (now - room.lastActivity > this.roomTimeoutMs) this.rooms.delete(name);
    }
  }

  pollTransmit(): { data: Uint8Array; to: NetAddress } | undefined {
    return this.#out.shift();
  }

  pollTimeout(): number | undefined {
    return this.#nextSweep;
  }
}

/**
 * Issue 12, the peer's side: three hostile-input scenarios against a room
 * of real `joinRoom` peers and the real bootstrap, on any binder (the
 * in-memory network with a virtual clock, or real UDP on loopback). Only
 * public APIs are used, so `peer/hostile_bench.ts` runs the same code on an
 * older tree for the before/after figures.
 *
 * Spoofing is modelled by binding a socket at the "victim" address: what
 * arrives there is what the room would send a spoofed victim.
 */
import { startBootstrap } from "@olaf/bootstrap";
import { joinRoom, type Room } from "@olaf/peer";
import { encode, type PeerRecord } from "@olaf/protocol";
import {
  bindDatagram,
  type DatagramBinder,
  type DatagramSocket,
  type NetAddress,
} from "@olaf/protocol/net";
import type { Clock } from "@olaf/protocol/sans-io";

/** Where a scenario runs. */
export interface HostileEnv {
  bind: DatagramBinder;
  clock?: Clock;
  /** Lets `ms` of (virtual or real) time pass. */
  wait(ms: number): Promise<void>;
  /** Waits for a promise while time passes (the virtual clock must be advanced). */
  settle<T>(promise: Promise<T>): Promise<T>;
  /** Address for the `i`th host (bootstrap 0, room peers 1.., attackers and victims). */
  host(i: number): string;
  /** Heartbeat and peer timeout of the room, and the bootstrap's room timeout. */
  heartbeatMs: number;
  peerTimeoutMs: number;
  roomTimeoutMs: number;
}

/**
 * Real UDP on loopback with short timings: 200 ms heartbeat, 1 s peer timeout, 1.5 s room
 * timeout at the bootstrap.
 */
export const udpHostileEnv: HostileEnv = {
  bind: bindDatagram,
  wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  settle: (promise) => promise,
  host: () => "127.0.0.1",
  heartbeatMs: 200,
  peerTimeoutMs: 1000,
  roomTimeoutMs: 1500,
};

const EMPTY = new Uint8Array();

/** A room of `members` peers plus the bootstrap. */
async function room(env: HostileEnv, name: string, members: number) {
  const server = await startBootstrap({
    bind: env.bind,
    clock: env.clock,
    hostname: env.host(0),
    port: 0,
    roomTimeoutMs: env.roomTimeoutMs,
    memberTimeoutMs: env.roomTimeoutMs,
  });
  const spec = `${server.localAddress.hostname}:${server.localAddress.port}`;
  const rooms: Room[] = [];
  for (let i = 0; i < members; i++) {
    rooms.push(
      await env.settle(joinRoom(name, {
        bootstraps: [spec],
        bind: env.bind,
        clock: env.clock,
        hostname: env.host(1 + i),
        heartbeatMs: env.heartbeatMs,
        peerTimeoutMs: env.peerTimeoutMs,
      })),
    );
  }
  await env.wait(2 * env.heartbeatMs); // converged
  return {
    server,
    rooms,
    async close() {
      await Promise.all(rooms.map((r) => r.leave()));
      await env.wait(10);
      await server.close();
    },
  };
}

/** `count` sockets that count the bytes they receive. */
async function sinks(env: HostileEnv, hostIndex: number, count: number) {
  let bytes = 0;
  const sockets: DatagramSocket[] = [];
  for (let i = 0; i < count; i++) {
    sockets.push(
      await env.bind({
        hostname: env.host(hostIndex),
        port: 0,
        onDatagram: (data) => void (bytes += data.length),
      }),
    );
  }
  return {
    sockets,
    records: sockets.map((s, i): PeerRecord => ({
      ip: s.localAddress.hostname,
      port: s.localAddress.port,
      id: 1_000_000 + i,
    })),
    get bytes() {
      return bytes;
    },
    close: () => Promise.all(sockets.map((s) => s.close())),
  };
}

function to(r: Room): NetAddress {
  return { hostname: r.self.ip, port: r.self.port };
}

/** What {@linkcode namedVictims} measured. */
export interface NamedVictimsResult {
  /** Bytes the attacker sent (its `PING`s naming the victims). */
  sent: number;
  /** Bytes that arrived at the victims' sockets. */
  victims: number;
  /** Bytes that came back to the attacker's own socket. */
  attacker: number;
}

/**
 * One `PING` of ~10 KB naming 1000 victim addresses, sent `rounds` times a
 * heartbeat apart to one member of a room of `members`; then the candidate
 * lifetime passes. Measures what reaches the victims.
 */
export async function namedVictims(
  env: HostileEnv,
  options: { members: number; victims: number; rounds: number },
): Promise<NamedVictimsResult> {
  const r = await room(env, "hostile-named", options.members);
  const victims = await sinks(env, 200, options.victims);
  const attacker = await sinks(env, 201, 1);
  const ping = encode({ type: "PING", peers: victims.records, payload: EMPTY });
  let sent = 0;
  for (let i = 0; i < options.rounds; i++) {
    attacker.sockets[0]!.send(ping, to(r.rooms[0]!));
    sent += ping.length;
    await env.wait(env.heartbeatMs);
  }
  await env.wait(env.peerTimeoutMs + 2 * env.heartbeatMs);
  const result = { sent, victims: victims.bytes, attacker: attacker.bytes };
  await victims.close();
  await attacker.close();
  await r.close();
  return result;
}

/** What {@linkcode strangerFlood} measured. */
export interface StrangerFloodResult {
  /** Bytes the strangers sent. */
  sent: number;
  /** Bytes that came back to them, all together. */
  back: number;
  /** Most strangers the target counted as members at any time. */
  maxMembers: number;
  /** Heartbeats the sending took, rounded up (the admission bound is per heartbeat). */
  heartbeats: number;
}

/**
 * `strangers` sockets each send one 17-byte `PING` (their own record) to one
 * member of a room of `members`; then a peer timeout passes.
 */
export async function strangerFlood(
  env: HostileEnv,
  options: { members: number; strangers: number },
): Promise<StrangerFloodResult> {
  const r = await room(env, "hostile-strangers", options.members);
  const target = r.rooms[0]!;
  const strangers = await sinks(env, 202, options.strangers);
  const keys = new Set(strangers.records.map((p) => `${p.ip}:${p.port}`));
  const counted = () => target.peers.filter((p) => keys.has(`${p.ip}:${p.port}`)).length;
  let sent = 0;
  let maxMembers = 0;
  const clock = env.clock ?? { now: () => performance.now() };
  const start = clock.now();
  strangers.sockets.forEach((s, i) => {
    const ping = encode({ type: "PING", peers: [strangers.records[i]!], payload: EMPTY });
    s.send(ping, to(target));
    sent += ping.length;
  });
  const heartbeats = Math.ceil((clock.now() - start) / env.heartbeatMs);
  const step = env.heartbeatMs / 4;
  for (let t = 0; t < env.peerTimeoutMs + 2 * env.heartbeatMs; t += step) {
    await env.wait(step);
    maxMembers = Math.max(maxMembers, counted());
  }
  const result = { sent, back: strangers.bytes, maxMembers, heartbeats };
  await strangers.close();
  await r.close();
  return result;
}

/** What {@linkcode claimedCollector} measured. */
export interface ClaimedCollectorResult {
  /** Whether the bootstrap still had the room at the end. */
  roomAlive: boolean;
  /** Members the bootstrap listed for it at the end. */
  bootstrapMembers: number;
  /** Room members. */
  members: number;
}

/**
 * A stranger pings every member each heartbeat with its own record first,
 * claiming id 1 (the lowest): members that believed it would leave the
 * collector duty to it, nobody would report, and the room would expire at
 * the bootstrap. Runs for three room timeouts.
 */
export async function claimedCollector(
  env: HostileEnv,
  options: { members: number },
): Promise<ClaimedCollectorResult> {
  const r = await room(env, "hostile-collector", options.members);
  const stranger = await sinks(env, 203, 1);
  const self = { ...stranger.records[0]!, id: 1 };
  const ping = encode({ type: "PING", peers: [self], payload: EMPTY });
  for (let t = 0; t < 3 * env.roomTimeoutMs; t += env.heartbeatMs) {
    for (const m of r.rooms) stranger.sockets[0]!.send(ping, to(m));
    await env.wait(env.heartbeatMs);
  }
  const detail = r.server.room("hostile-collector");
  const result = {
    roomAlive: detail !== undefined,
    bootstrapMembers: detail?.memberCount ?? 0,
    members: options.members,
  };
  await stranger.close();
  await r.close();
  return result;
}

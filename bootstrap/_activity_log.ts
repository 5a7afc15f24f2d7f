// What a running bootstrap tells its operator, from outside the core: it
// subscribes to the server's events and diffs the `stats()` drop counters on a
// short tick. At info: one line per room created or expired (capped per tick,
// so a flood of new rooms is summarised), one line when a refusal or a limit
// starts being hit, and one summary line per interval with counts. Never a
// line per datagram at info. At debug: every member change, and (through a
// wrapped binder, installed only when debug is on) every datagram in and out.
import { getLogger, type Logger } from "@logtape/logtape";
import { decode, messageTypeName, ProtocolError } from "@olaf/protocol";
import {
  bindDatagram,
  type Clock,
  type DatagramBinder,
  type NetAddress,
  systemClock,
} from "@olaf/protocol/net";
import type { BootstrapEvent, BootstrapStats, BootstrapView } from "@olaf/control";
import type { ResolvedBootstrapLimits } from "./limits.ts";

/** The server as the activity log sees it: the control plane's view plus the limits in force. */
export interface ActivitySource extends BootstrapView {
  readonly limits: Readonly<ResolvedBootstrapLimits>;
}

export interface ActivityLogOptions {
  /** Period of the summary line. Default 60 000 ms. */
  summaryMs?: number;
  /** How often the drop counters are read (first refusal or limit hit is logged by then). Default 1 000 ms. */
  checkMs?: number;
  /** Most room created/expired lines per check; the rest are counted in the summary. Default 20. */
  maxRoomLinesPerCheck?: number;
  /** Timers. Default `systemClock`. The elapsed time always comes from `stats().uptimeMs`. */
  clock?: Clock;
  /** Logger category prefix. Default `["olaf", "bootstrap"]` (lines go to `activity` and `datagram` under it). */
  category?: readonly string[];
}

/** Drop reasons that mean a peer was refused: it got `ROOM_FULL`. */
const REFUSALS: Readonly<Record<string, (limits: ResolvedBootstrapLimits) => string>> = {
  "room-limit": (l) =>
    `refusing new rooms: the room limit (${l.maxRooms}) is reached, joins get ROOM_FULL`,
  "member-limit": (l) =>
    `refusing members: a room is at the member limit (${l.maxMembersPerRoom}), joins get ROOM_FULL`,
};

/** Drop reasons that mean a limit is being hit. */
const LIMITS: Readonly<Record<string, string>> = {
  "rate-limited": "rate limiting: sources over their request rate have datagrams dropped",
  "rate-limited-reply": "rate limiting: sources over their reply-byte budget get no reply",
  "reply-rate-trimmed": "rate limiting: sources near their reply-byte budget get trimmed replies",
  "reply-budget": "reply budget: rooms too big for one 1024-byte reply get trimmed member lists",
  "transmit-overflow": "transmit queue full: replies are being dropped",
  "events-overflow": "event queue full: events are being dropped",
};

/**
 * Logs a bootstrap's activity. Create it before the server (so
 * {@linkcode ActivityLog.binder} can wrap the socket), then
 * {@linkcode ActivityLog.start} with the server and {@linkcode ActivityLog.stop}
 * before closing it (which logs the last partial summary).
 */
export class ActivityLog {
  readonly #summaryMs: number;
  readonly #checkMs: number;
  readonly #maxRoomLines: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #datagrams: Logger;
  #source: ActivitySource | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer = 0;
  #running = false;

  // Counters since the last summary.
  #lastStats: BootstrapStats | undefined;
  #summaryStartMs = 0;
  #datagramsIn = 0;
  #datagramsOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #created = 0;
  #expired = 0;
  #joined = 0;
  #left = 0;
  #unloggedRooms = 0;
  #drops = new Map<string, number>();
  /** Refusals and limits already announced; quiet for a whole interval, they are announced again. */
  #announced = new Set<string>();
  #roomLinesThisCheck = 0;
  #createdAt = new Map<string, number>();
  /** Rooms as of the event being logged (`stats()` is already past a batch of events). */
  #rooms = 0;
  /** Drop totals seen by the per-datagram logger, to name the reason of each drop. */
  #datagramDrops: Record<string, number> = {};

  constructor(options: ActivityLogOptions = {}) {
    this.#summaryMs = options.summaryMs ?? 60_000;
    this.#checkMs = options.checkMs ?? 1_000;
    this.#maxRoomLines = options.maxRoomLinesPerCheck ?? 20;
    this.#clock = options.clock ?? systemClock;
    const category = options.category ?? ["olaf", "bootstrap"];
    this.#log = getLogger([...category, "activity"]);
    this.#datagrams = getLogger([...category, "datagram"]);
  }

  /**
   * `base` wrapped to log every datagram in and out at debug, or `base`
   * itself when debug is off for the `datagram` category (no cost per
   * datagram at info). Call it after logging is configured.
   */
  binder(base: DatagramBinder = bindDatagram): DatagramBinder {
    const log = this.#datagrams;
    if (!log.isEnabledFor("debug")) return base;
    return async (options) => {
      const onDatagram = options.onDatagram;
      const socket = await base({
        ...options,
        onDatagram: onDatagram && ((data, from) => {
          const [what, properties] = describe(data);
          log.debug(`in from ${show(from)}: ${what}`, properties);
          onDatagram(data, from);
          this.#logNewDrops(from);
        }),
      });
      const send = socket.send.bind(socket);
      socket.send = (data, to) => {
        const [what, properties] = describe(data);
        log.debug(`out to ${show(to)}: ${what}`, properties);
        send(data, to);
      };
      return socket;
    };
  }

  /** Starts following `source`. */
  start(source: ActivitySource): void {
    if (this.#running) return;
    this.#running = true;
    this.#source = source;
    this.#lastStats = source.stats();
    this.#datagramDrops = { ...this.#lastStats.drops };
    this.#summaryStartMs = this.#lastStats.uptimeMs;
    this.#rooms = this.#lastStats.rooms;
    this.#unsubscribe = source.subscribe((event) => this.#onEvent(event));
    this.#arm();
  }

  /** Stops following the server and logs what happened since the last summary. Idempotent. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#clock.clearTimer(this.#timer);
    this.#unsubscribe?.();
    this.#check(true);
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  #arm(): void {
    this.#timer = this.#clock.setTimer(this.#onTimer, this.#checkMs);
    // A log must not keep a process alive on its own.
    if (this.#clock === systemClock) Deno.unrefTimer(this.#timer);
  }

  #onTimer = (): void => {
    if (!this.#running) return;
    try {
      this.#check(false);
    } catch (error) {
      this.#log.error("activity log failed: {error}", { error });
    }
    this.#arm();
  };

  #onEvent(event: BootstrapEvent): void {
    switch (event.type) {
      case "room-created": {
        this.#created++;
        this.#createdAt.set(event.room, event.at);
        const rooms = ++this.#rooms;
        if (this.#roomLine()) {
          this.#log.info(`room {room} created (${plural(rooms, "room")} now)`, {
            room: event.room,
            rooms,
          });
        }
        break;
      }
      case "room-expired": {
        this.#expired++;
        const createdAt = this.#createdAt.get(event.room);
        this.#createdAt.delete(event.room);
        const rooms = --this.#rooms;
        if (this.#roomLine()) {
          const age = createdAt === undefined
            ? ""
            : ` after ${Math.round((event.at - createdAt) / 1000)} s`;
          this.#log.info(`room {room} expired${age} (${plural(rooms, "room")} now)`, {
            room: event.room,
            rooms,
          });
        }
        break;
      }
      case "member-joined":
        this.#joined++;
        this.#log.debug(
          `member ${show({ hostname: event.member.ip, port: event.member.port })} ` +
            `(id ${event.member.id}) joined room {room}`,
          { room: event.room },
        );
        break;
      case "member-left":
        this.#left++;
        this.#log.debug(
          `member ${show({ hostname: event.member.ip, port: event.member.port })} ` +
            `(id ${event.member.id}) left room {room}: ${event.reason}`,
          { room: event.room },
        );
        break;
    }
  }

  /** Whether one more room line fits this check's allowance; counts it in the summary if not. */
  #roomLine(): boolean {
    if (this.#roomLinesThisCheck < this.#maxRoomLines) {
      this.#roomLinesThisCheck++;
      return true;
    }
    this.#unloggedRooms++;
    return false;
  }

  /** Reads the counters; announces new refusals and limits; logs the summary when due (or `final`). */
  #check(final: boolean): void {
    const source = this.#source!;
    const stats = source.stats();
    const last = this.#lastStats!;
    this.#lastStats = stats;
    this.#roomLinesThisCheck = 0;
    this.#datagramsIn += stats.datagramsIn - last.datagramsIn;
    this.#datagramsOut += stats.datagramsOut - last.datagramsOut;
    this.#bytesIn += stats.bytesIn - last.bytesIn;
    this.#bytesOut += stats.bytesOut - last.bytesOut;
    for (const [reason, total] of Object.entries(stats.drops)) {
      const delta = total - (last.drops[reason] ?? 0);
      if (delta <= 0) continue;
      this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + delta);
      const text = REFUSALS[reason]?.(source.limits) ?? LIMITS[reason];
      if (text !== undefined && !this.#announced.has(reason)) {
        this.#announced.add(reason);
        this.#log.info(`${text} (${delta} so far, the summary line counts the rest)`, {
          reason,
          count: delta,
        });
      }
    }
    const elapsed = stats.uptimeMs - this.#summaryStartMs;
    if (final || elapsed >= this.#summaryMs) this.#summary(stats, elapsed);
  }

  #summary(stats: BootstrapStats, elapsedMs: number): void {
    const quiet = this.#datagramsIn === 0 && this.#datagramsOut === 0 && this.#created === 0 &&
      this.#expired === 0 && this.#drops.size === 0;
    if (!quiet) {
      const refused: string[] = [];
      const limits: string[] = [];
      const dropped: string[] = [];
      for (const [reason, count] of [...this.#drops].sort((a, b) => b[1] - a[1])) {
        const list = reason in REFUSALS ? refused : reason in LIMITS ? limits : dropped;
        list.push(`${count} ${reason}`);
      }
      const parts = [
        `${this.#datagramsIn} datagrams in (${this.#bytesIn} B), ${this.#datagramsOut} out (${this.#bytesOut} B)`,
        `rooms ${stats.rooms} (+${this.#created} -${this.#expired})`,
        `members ${stats.members} (+${this.#joined} -${this.#left})`,
      ];
      if (refused.length > 0) parts.push(`refused ROOM_FULL: ${refused.join(", ")}`);
      if (limits.length > 0) parts.push(`limits hit: ${limits.join(", ")}`);
      if (dropped.length > 0) parts.push(`dropped: ${dropped.join(", ")}`);
      if (this.#unloggedRooms > 0) {
        parts.push(`${this.#unloggedRooms} room changes not logged one by one`);
      }
      const seconds = Math.round(elapsedMs / 1000);
      this.#log.info(`last ${seconds} s: ${parts.join("; ")}`, {
        seconds,
        datagramsIn: this.#datagramsIn,
        datagramsOut: this.#datagramsOut,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        rooms: stats.rooms,
        members: stats.members,
        roomsCreated: this.#created,
        roomsExpired: this.#expired,
        membersJoined: this.#joined,
        membersLeft: this.#left,
        drops: Object.fromEntries(this.#drops),
      });
    }
    // A refusal or limit quiet for a whole interval is announced again when it comes back.
    this.#announced = new Set([...this.#announced].filter((reason) => this.#drops.has(reason)));
    this.#summaryStartMs = stats.uptimeMs;
    this.#datagramsIn =
      this.#datagramsOut =
      this.#bytesIn =
      this.#bytesOut =
        0;
    this.#created =
      this.#expired =
      this.#joined =
      this.#left =
      this.#unloggedRooms =
        0;
    this.#drops = new Map();
  }

  /** At debug: names the reason of a datagram the server just dropped. */
  #logNewDrops(from: NetAddress): void {
    const drops = this.#source?.stats().drops;
    if (drops === undefined) return;
    for (const [reason, total] of Object.entries(drops)) {
      if (total !== this.#datagramDrops[reason]) {
        this.#datagrams.debug(`dropped from ${show(from)}: ${reason}`, { reason });
      }
    }
    this.#datagramDrops = { ...drops };
  }
}

function show(address: NetAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/**
 * A datagram in a few words, as a log template: its type, room (the one
 * untrusted part, left to a placeholder so it is quoted and escaped), peer
 * count and size.
 */
function describe(data: Uint8Array): [string, Record<string, unknown>] {
  const size = `${data.length} B`;
  try {
    const message = decode(data);
    switch (message.type) {
      case "JOIN_B":
      case "PEER_COLLECTOR":
        return [
          `${message.type} room {room}, ${plural(message.peers.length, "peer")}, ${size}`,
          { room: message.room },
        ];
      case "BOOTSTRAP_R":
        return [`BOOTSTRAP_R with ${plural(message.peers.length, "peer")}, ${size}`, {}];
      case "EXTENSION":
        return [`extension type ${data[0]}, ${size}`, {}];
      default:
        return [`${message.type}, ${size}`, {}];
    }
  } catch (error) {
    const type = data.length > 0 ? messageTypeName(data[0]!) ?? `type ${data[0]}` : "empty";
    const reason = error instanceof ProtocolError ? error.reason : "malformed";
    return [`${type}, ${size}, malformed ({reason})`, { reason }];
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

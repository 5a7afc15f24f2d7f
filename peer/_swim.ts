/**
 * Membership at scale (issue 15): SWIM-style failure detection and gossip,
 * used when a room has more Olaf members than a threshold (64 by default).
 *
 * - **Probes**: each heartbeat a member probes a few Olaf members (3), in a
 *   shuffled round-robin order (new members are inserted at a random place
 *   in the rest of the round), with `PROBE`; the target answers `ACK`. No
 *   `ACK` within the probe timeout: `PROBE_REQ` to 3 other members, which
 *   probe the target and forward its `ACK`. Still none after another probe
 *   timeout: the target is *suspect*.
 * - **Suspicion**: a suspect that does not refute (a higher incarnation)
 *   within the suspicion timeout is confirmed dead and removed ("timeout").
 *   A member that hears it is suspected (or declared dead) bumps its
 *   incarnation and spreads `ALIVE`.
 * - **Gossip**: joins, suspicions, confirmations and leaves are queued and
 *   sent a bounded number of times (3 x log2 of the room size), the least
 *   sent first (`_update_queue.ts`): piggybacked on probes and acks, and
 *   pushed in `GOSSIP` to a random member about once a tick (a tenth of a
 *   heartbeat; 10 a heartbeat) while the queue is not empty. An update is
 *   passed on only when it changed what we knew (infection style).
 * - **Join**: a newcomer in a large room asks one member for the member list
 *   in pages (`SYNC_REQ` / `SYNC`); the members it pinged spread its `ALIVE`
 *   (the page's entries are news to the newcomer only, and are not passed
 *   on). It syncs again from a random member 10 heartbeats later, then every
 *   40 (anti-entropy: what died out in the gossip is found there).
 *
 * Below the threshold the room keeps the v1 heartbeat (everyone pings
 * everyone); this module then only answers probes, passes updates on, and
 * probes Olaf members it has not heard from for two heartbeats (members
 * already in large-room mode do not ping everyone). Deployed v1 peers are
 * never probed: every Olaf member keeps sending them the v1 `PING` every
 * heartbeat, and their liveness stays "heard from within the timeout".
 */
import { type AddressKey, addressKey, type PeerRecord } from "@olaf/protocol";
import { mulberry32 } from "@olaf/protocol/internal";
import { Frame, type Outbox } from "./_link.ts";
import { UpdateQueue } from "./_update_queue.ts";
import { type Member, type MemberId, type Membership, record, v1MemberId } from "./_membership.ts";
import {
  SWIM_BASE_BYTES,
  SwimCode,
  swimInit,
  type SwimMessage,
  SwimState,
  type SwimUpdate,
  UPDATE_BYTES,
} from "./_swim_wire.ts";

/** Rooms with more members than this use partial views (SWIM). */
export const DEFAULT_LARGE_ROOM_THRESHOLD = 64;

/** Members probed per heartbeat in a large room. */
const PROBES_PER_HEARTBEAT = 3;
/** Helpers asked to probe a target that did not answer. */
const INDIRECT_PROBES = 3;
/**
 * `GOSSIP` pushes per heartbeat while updates are queued, each to a random
 * member (spread over the ticks). Every member with news pushes at this
 * rate, so in a room where members keep joining (queues never empty) it is
 * the floor of the room's gossip traffic: at 3 a tick, 1000 members joining
 * one process sent 10,000 `GOSSIP`s a second and never converged.
 */
const PUSHES_PER_HEARTBEAT = 10;
/** Updates piggybacked on one probe or ack. */
const PIGGYBACK = 6;
/** An update is sent this many times log2(room size). */
const RETRANSMIT_MULT = 3;
/** Candidates pinged per round when the room is large (the sync brings the rest). */
const CANDIDATE_PINGS_LARGE = 8;
/** Small rooms: at most this many probes per heartbeat to silent Olaf members. */
const STALE_PROBES = 8;
/**
 * Local health (Lifeguard's "local health multiplier"): how far our own
 * probes' failures say that *we* are the slow one (a CPU-bound process reads
 * its sockets late, and then every member it probes looks dead). Each probe
 * that fails and each suspicion of us we must refute adds 1, each probe
 * answered takes 1 away; probe timeouts and suspicion timeouts are stretched,
 * and probes sent less often, by (1 + health). A healthy member stays at 0.
 */
const MAX_HEALTH = 8;
/**
 * Leaving a room of more Olaf members than this many times the threshold (256
 * by default), a member says bye to {@linkcode BYE_FANOUT} of them (and every
 * deployed v1 member), and their gossip spreads the leave: a whole 1000-member
 * room leaving at once would otherwise send a million byes.
 */
const BYE_TO_ALL_THRESHOLDS = 4;
const BYE_FANOUT = 16;
/** A large room's member re-syncs its member list from a random member this often. */
const RESYNC_HEARTBEATS = 40;
/** The first re-sync after the join comes sooner. */
const FIRST_RESYNC_HEARTBEATS = 10;
/** Per heartbeat: `PROBE_REQ`s served, and `SYNC` pages sent (bounds what others draw). */
const RELAYS_PER_HEARTBEAT = 64;
const SYNC_PAGES_PER_HEARTBEAT = 64;

/** What the machine does for this module: add and remove members (with their events). */
export interface SwimHost {
  /** A member learnt from gossip or a sync page: add it (`peer-joined`), if allowed. */
  add(record: PeerRecord, now: number): Member | undefined;
  /** A member confirmed dead (`timeout`) or gone (`bye`): remove it (`peer-left`). */
  remove(member: Member, reason: "bye" | "timeout", now: number): void;
  /** Whether an address is one of our bootstraps (never a member). */
  isBootstrap(key: AddressKey): boolean;
}

/** Timing and sizes. */
export interface SwimOptions {
  heartbeatMs: number;
  peerTimeoutMs: number;
  /** Partial views above this many members. */
  threshold: number;
  /** Largest datagram (bytes). */
  budget: number;
  /** Creation time: our first incarnation is its Unix second (a restart starts higher). */
  now: number;
}

interface Probe {
  readonly target: Member;
  deadline: number;
  indirect: boolean;
}

/** Counters, for benches and tests. */
export interface SwimStats {
  probes: number;
  indirectProbes: number;
  suspicions: number;
  confirmations: number;
  refutations: number;
  /** Ticks that ran late enough (the process was busy) to stretch deadlines by the stall. */
  stalls: number;
}

/** The SWIM side of one peer. */
export class Swim {
  readonly #membership: Membership;
  readonly #out: Outbox;
  readonly #host: SwimHost;
  readonly #heartbeatMs: number;
  readonly #threshold: number;
  readonly #baseProbeTimeoutMs: number;
  readonly #baseSuspicionMs: number;
  /** Local health, 0 (healthy) to MAX_HEALTH (see there). */
  #health = 0;
  /** Probes and `GOSSIP` pushes owed, in fractions: a member in bad health sends fewer. */
  readonly #credit = { probes: 0, pushes: 0 };
  readonly #tickMs: number;
  readonly #pushesPerTick: number;
  readonly #gossipMax: number;
  readonly #deadKeepMs: number;

  #self: PeerRecord | undefined;
  #selfKey: AddressKey | "" = "";
  #incarnation: number;
  #random: () => number;
  #seq: number;
  readonly #queue: UpdateQueue;
  readonly #probes = new Map<number, Probe>();
  readonly #relays = new Map<number, { requester: Member; seq: number; until: number }>();
  readonly #suspects = new Set<Member>();
  /** Members we had confirmed dead and heard from again, until we pass on their incarnation. */
  readonly #revived = new Set<Member>();
  /** Members confirmed dead or gone, by the incarnation that said so (stale ALIVE cannot undo it). */
  readonly #dead = new Map<MemberId, { incarnation: number; at: number }>();
  #order: Member[] = [];
  #orderIndex = 0;
  #tickAt: number | undefined;
  /** The latest time we were given. */
  #now = 0;
  #large = false;
  #sync: { from: Member; next: number; at: number } | undefined;
  #synced = false;
  /** When the last member-list sync finished (anti-entropy runs again RESYNC_HEARTBEATS later). */
  #syncedAt = 0;
  /** Member-list syncs finished. */
  #syncs = 0;
  #relaysLeft = RELAYS_PER_HEARTBEAT;
  #pagesLeft = SYNC_PAGES_PER_HEARTBEAT;
  readonly stats: SwimStats = {
    probes: 0,
    indirectProbes: 0,
    suspicions: 0,
    confirmations: 0,
    refutations: 0,
    stalls: 0,
  };

  constructor(membership: Membership, out: Outbox, host: SwimHost, options: SwimOptions) {
    this.#membership = membership;
    this.#out = out;
    this.#host = host;
    this.#heartbeatMs = options.heartbeatMs;
    this.#threshold = options.threshold;
    this.#baseProbeTimeoutMs = Math.min(options.heartbeatMs / 3, 1000);
    // Crash -> first failed probe (up to two heartbeats without a probe) -> suspect after the
    // indirect probes -> confirmed: the whole path fits the peer timeout.
    this.#baseSuspicionMs = Math.max(
      options.heartbeatMs,
      options.peerTimeoutMs - 2 * options.heartbeatMs - 2 * this.#baseProbeTimeoutMs,
    );
    this.#tickMs = Math.max(20, Math.min(300, options.heartbeatMs / 10));
    this.#pushesPerTick = PUSHES_PER_HEARTBEAT * this.#tickMs / options.heartbeatMs;
    this.#gossipMax = Math.max(1, Math.floor((options.budget - SWIM_BASE_BYTES) / UPDATE_BYTES));
    this.#deadKeepMs = 2 * options.peerTimeoutMs;
    // Six full pushes' worth: past that the most-sent updates (spread furthest) give way. While
    // 1000 members joined one process, unbounded queues kept every member pushing for 100 s after
    // the last join (tools/udp_room.ts).
    this.#queue = new UpdateQueue(6 * this.#gossipMax);
    // Unix seconds: a restarted peer comes back above its old self. Never 0 ("unknown").
    this.#incarnation = Math.max(1, Math.floor(options.now / 1000) >>> 0);
    this.#random = mulberry32(hash(`${options.now}`));
    this.#seq = (this.#random() * 2 ** 32) >>> 0;
  }

  /**
   * Whether the room is large enough for partial views: more Olaf members than
   * the threshold (deployed v1 members are pinged by everyone in any case).
   * Decided at each heartbeat, so the mode holds steady between two. (Entering
   * it at once, as soon as more peers than the threshold are known, let a
   * small room flooded by strangers' pings probe them with SWIM traffic that
   * is not bound by 3x: tests/peer_hostile_sim_test.ts.)
   */
  get large(): boolean {
    return this.#large;
  }

  /**
   * How many candidates to ping per round: all of them in a small room; in a
   * large one (or when more peers than the threshold are known) a few, as
   * the member-list sync and the gossip of our arrival do the rest.
   */
  candidatePings(): number {
    const membership = this.#membership;
    return this.#large || membership.size + membership.candidates.size > this.#threshold
      ? CANDIDATE_PINGS_LARGE
      : Infinity;
  }

  /** Local health: 0 when healthy, up to 8 when our own probes keep failing. */
  get health(): number {
    return this.#health;
  }

  get #probeTimeoutMs(): number {
    return this.#baseProbeTimeoutMs * (1 + this.#health);
  }

  get #suspicionMs(): number {
    return this.#baseSuspicionMs * (1 + this.#health);
  }

  /** How many of `full` to send now: `full / (1 + health)` a round, fractions carried over. */
  #paced(what: "probes" | "pushes", full: number): number {
    const credit = Math.min(Math.max(1, full), this.#credit[what] + full / (1 + this.#health));
    const count = Math.floor(credit);
    this.#credit[what] = credit - count;
    return count;
  }

  #healthy(delta: 1 | -1): void {
    this.#health = Math.max(0, Math.min(MAX_HEALTH, this.#health + delta));
  }

  /** Our current incarnation. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** Our record changed: reseed (peers created at the same time must not pick alike). */
  setSelf(self: PeerRecord): void {
    this.#self = self;
    this.#selfKey = addressKey(self.ip, self.port);
    this.#random = mulberry32(hash(`${this.#selfKey}/${self.id}/${this.#incarnation}`));
  }

  /** A member was added from direct evidence: probe it in this round; in a large room, spread it. */
  joined(member: Member, now: number): void {
    this.#now = now;
    this.#insert(member);
    const dead = this.#dead.get(member.memberId);
    if (dead !== undefined && member.olaf && this.#self !== undefined) {
      // Back from the dead (a false confirmation under loss, or a restart): tell it the
      // rumour, so that it refutes with a higher incarnation and every member takes it back.
      this.#dead.delete(member.memberId);
      this.#revived.add(member); // its incarnation, once known, is news for the others too
      const rumour = {
        record: record(member),
        state: SwimState.DEAD,
        incarnation: dead.incarnation,
      };
      this.#send(member, SwimCode.GOSSIP, 0, [rumour]);
    } else if (member.olaf && this.large) {
      // Spread it, and probe it now: its ACK carries its incarnation, which then replaces the
      // 0 ("not known") in the queued update before most copies go out.
      this.#enqueue(member, SwimState.ALIVE, member.incarnation ?? 0);
      if (this.#self !== undefined) this.#probe(member, now);
    }
  }

  /** A member said bye: in a large room, tell the others (some may miss its bye). */
  left(member: Member, now: number): void {
    this.#now = now;
    this.#suspects.delete(member);
    if (!member.olaf) return;
    // A bye is final for every incarnation started before it (incarnations are start
    // seconds): late gossip of an older ALIVE must not bring the member back.
    const incarnation = Math.max(member.incarnation ?? 0, Math.floor(now / 1000) >>> 0);
    this.#dead.set(member.memberId, { incarnation, at: now });
    if (this.large) this.#enqueue(member, SwimState.LEFT, incarnation);
  }

  /**
   * Whom our bye goes to when we leave: `undefined` for everyone (a room of
   * up to {@linkcode BYE_TO_ALL_THRESHOLDS} x the threshold Olaf members), else the deployed v1
   * members and {@linkcode BYE_FANOUT} random Olaf ones (they gossip it).
   */
  byeTargets(): Member[] | undefined {
    if (!this.#large) return undefined;
    const v1: Member[] = [];
    let olaf = 0;
    for (const m of this.#membership.members.values()) {
      if (m.olaf) olaf++;
      else v1.push(m);
    }
    if (olaf <= BYE_TO_ALL_THRESHOLDS * this.#threshold) return undefined;
    return [...v1, ...this.#randomMembers(BYE_FANOUT, undefined)];
  }

  /** Our heartbeat: budgets, mode change, probes, the member-list sync. */
  heartbeat(now: number): void {
    this.#now = now;
    if (this.#order.length > 2 * this.#membership.size + 16) {
      this.#order = this.#order.filter((m) => this.#current(m)); // drop the departed
      this.#orderIndex = Math.min(this.#orderIndex, this.#order.length);
    }
    // Once a heartbeat, not every tick: after a storm of confirmations the table is large.
    for (const [id, d] of this.#dead) if (now - d.at >= this.#deadKeepMs) this.#dead.delete(id);
    for (const m of this.#revived) if (!this.#current(m)) this.#revived.delete(m);
    this.#relaysLeft = RELAYS_PER_HEARTBEAT;
    this.#pagesLeft = SYNC_PAGES_PER_HEARTBEAT;
    let olaf = 0;
    for (const m of this.#membership.members.values()) if (m.olaf) olaf++;
    // A newcomer that heard of a large room (the bootstrap listed more than the threshold)
    // syncs at once rather than pinging everyone it was told of.
    const large = olaf > this.#threshold ||
      this.#membership.size + this.#membership.candidates.size > this.#threshold;
    if (this.#large && !large) {
      // Back to "heard from within the timeout": SWIM vouched for the members until now.
      for (const m of this.#membership.members.values()) if (m.olaf) m.lastSeen = now;
      for (const m of this.#suspects) m.suspectSince = undefined;
      this.#suspects.clear();
    }
    this.#large = large;
    if (this.#self === undefined) return;
    if (large) {
      this.#syncStep(now);
      // In bad health, fewer probes: the load we put on a struggling process drops with it.
      const probes = this.#paced("probes", PROBES_PER_HEARTBEAT);
      for (let i = 0; i < probes; i++) {
        const target = this.#nextTarget();
        if (target === undefined) break;
        this.#probe(target, now);
      }
    } else {
      let sent = 0;
      for (const m of this.#membership.members.values()) {
        if (sent >= STALE_PROBES) break;
        if (m.olaf && now - m.lastSeen >= 2 * this.#heartbeatMs) {
          this.#probe(m, now);
          sent++;
        }
      }
    }
  }

  /** When {@linkcode Swim.tick} is next due, if anything is pending. */
  pollTimeout(): number | undefined {
    return this.#tickAt;
  }

  /** Probe timeouts, suspicion timeouts, the gossip push. */
  tick(now: number): void {
    this.#now = now;
    // A tick that runs late means this process was busy: answers may sit unread in the
    // socket. The stall does not count against anyone's deadline (nor as their silence).
    const stall = this.#tickAt === undefined ? 0 : now - this.#tickAt;
    this.#tickAt = undefined;
    if (stall > this.#tickMs) {
      this.stats.stalls++;
      for (const p of this.#probes.values()) p.deadline += stall;
      for (const m of this.#suspects) if (m.suspectSince !== undefined) m.suspectSince += stall;
    }
    const membership = this.#membership;
    const large = this.large;
    for (const [seq, p] of this.#probes) {
      if (p.deadline > now) continue;
      if (!this.#current(p.target)) {
        this.#probes.delete(seq);
      } else if (!p.indirect) {
        p.indirect = true;
        p.deadline = now + this.#probeTimeoutMs;
        this.stats.indirectProbes++;
        const target = record(p.target);
        for (const helper of this.#randomMembers(INDIRECT_PROBES, p.target)) {
          this.#send(helper, SwimCode.PROBE_REQ, seq, this.#queue.take(PIGGYBACK), target);
        }
      } else {
        this.#probes.delete(seq);
        this.#healthy(1);
        const m = p.target;
        if (large && m.suspectSince === undefined) {
          m.suspectSince = now;
          this.#suspects.add(m);
          this.stats.suspicions++;
          this.#enqueue(m, SwimState.SUSPECT, m.incarnation ?? 0);
        }
      }
    }
    for (const [seq, r] of this.#relays) if (r.until <= now) this.#relays.delete(seq);
    for (const m of this.#suspects) {
      if (!this.#current(m) || m.suspectSince === undefined) {
        this.#suspects.delete(m);
      } else if (now - m.suspectSince >= this.#suspicionMs) {
        this.#suspects.delete(m);
        this.stats.confirmations++;
        this.#confirm(m, SwimState.DEAD, m.incarnation ?? 0, now);
      }
    }
    if (this.#queue.size > 0 && this.#self !== undefined) {
      // In bad health the push slows down with the probes (piggybacking goes on as before).
      const fanout = this.#paced("pushes", this.#pushesPerTick);
      for (const m of fanout > 0 ? this.#randomMembers(fanout, undefined) : []) {
        this.#send(m, SwimCode.GOSSIP, 0, this.#queue.take(this.#gossipMax));
        if (this.#queue.size === 0) break;
      }
    }
    if (membership.size === 0) this.#queue.clear();
    if (
      this.#queue.size > 0 || this.#probes.size > 0 || this.#relays.size > 0 ||
      this.#suspects.size > 0
    ) this.#arm(now);
  }

  /**
   * A SWIM message from a member (the machine already counted it as direct
   * evidence). `stranger`: it was not a member or candidate before this
   * datagram, so it gets no more back than it sent.
   */
  handle(from: Member, message: SwimMessage, stranger: boolean, now: number): void {
    this.#now = now;
    if (this.#self === undefined) return;
    from.olaf = true;
    const inc = message.sender.incarnation;
    const learnt = from.incarnation === undefined;
    if (inc > (from.incarnation ?? 0)) from.incarnation = inc;
    if (this.#revived.delete(from) || (learnt && this.#queue.has(from.memberId))) {
      this.#enqueue(from, SwimState.ALIVE, inc);
    }
    if (from.suspectSince !== undefined) {
      from.suspectSince = undefined; // heard from directly: not suspect here any more
      this.#suspects.delete(from);
    }
    if (message.code !== SwimCode.SYNC) {
      for (const u of message.updates) this.#apply(u, now, true);
    } else if (this.#sync?.from === from) {
      // A page of the member list is news to us only: the room knows its own members, and a
      // newcomer passing on every entry (3 x log2(n) times each) is what swamped a
      // 1000-member room with GOSSIP while it joined (tools/udp_room.ts).
      for (const u of message.updates) this.#apply(u, now, false);
    }
    switch (message.code) {
      case SwimCode.PROBE:
        this.#send(from, SwimCode.ACK, message.word, stranger ? [] : this.#queue.take(PIGGYBACK));
        return;
      case SwimCode.ACK: {
        const probe = this.#probes.get(message.word);
        if (probe !== undefined) {
          this.#probes.delete(message.word);
          this.#healthy(-1);
          return;
        }
        const relay = this.#relays.get(message.word);
        if (relay !== undefined) {
          this.#relays.delete(message.word);
          if (this.#current(relay.requester)) {
            this.#send(relay.requester, SwimCode.ACK, relay.seq, []);
          }
        }
        return;
      }
      case SwimCode.PROBE_REQ: {
        const t = message.target!;
        const target = this.#membership.byPath(addressKey(t.ip, t.port));
        if (stranger || target === undefined || !target.olaf || this.#relaysLeft <= 0) return;
        this.#relaysLeft--;
        const seq = this.#nextSeq();
        this.#relays.set(seq, {
          requester: from,
          seq: message.word,
          until: now + this.#heartbeatMs,
        });
        this.#send(target, SwimCode.PROBE, seq, []);
        this.#arm(now);
        return;
      }
      case SwimCode.SYNC_REQ:
        if (!stranger && this.#pagesLeft > 0) {
          this.#pagesLeft--;
          this.#page(from, message.word);
        }
        return;
      case SwimCode.SYNC: {
        const sync = this.#sync;
        if (sync === undefined || sync.from !== from) return;
        if (message.word === 0 || message.word <= sync.next) {
          this.#sync = undefined;
          this.#synced = true;
          this.#syncedAt = now;
          this.#syncs++;
        } else {
          sync.next = message.word;
          sync.at = now;
          this.#send(from, SwimCode.SYNC_REQ, message.word, []);
        }
        return;
      }
      case SwimCode.GOSSIP:
        return;
    }
  }

  // --- internals ------------------------------------------------------------

  /** Whether `m` is still the member at its identity (not removed or replaced). */
  #current(m: Member): boolean {
    return this.#membership.members.get(m.memberId) === m;
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #arm(now: number): void {
    if (this.#tickAt === undefined) this.#tickAt = now + this.#tickMs;
  }

  #probe(target: Member, now: number): void {
    for (const p of this.#probes.values()) if (p.target === target) return;
    const seq = this.#nextSeq();
    this.#probes.set(seq, { target, deadline: now + this.#probeTimeoutMs, indirect: false });
    this.stats.probes++;
    this.#send(target, SwimCode.PROBE, seq, this.#queue.take(PIGGYBACK));
    this.#arm(now);
  }

  /** The next Olaf member of the shuffled round; a new round when this one is done. */
  #nextTarget(): Member | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#orderIndex < this.#order.length) {
        const m = this.#order[this.#orderIndex++]!;
        if (m.olaf && this.#current(m)) return m;
      }
      this.#order = [...this.#membership.members.values()];
      shuffle(this.#order, this.#random);
      this.#orderIndex = 0;
    }
    return undefined;
  }

  /** A new member goes to a random place in the rest of this round (SWIM's join rule). */
  #insert(m: Member): void {
    // Appended, then swapped with a random member of the rest of the round: O(1) (a splice
    // moved half the round, for each of 1000 members learning each of 1000 joins).
    const order = this.#order;
    order.push(m);
    const last = order.length - 1;
    const j = this.#orderIndex + Math.floor(this.#random() * (last - this.#orderIndex + 1));
    [order[last], order[j]] = [order[j]!, m];
  }

  /** Up to `count` distinct random Olaf members other than `except`. */
  #randomMembers(count: number, except: Member | undefined): Member[] {
    const order = this.#order;
    const picked: Member[] = [];
    for (let tries = 0; tries < 4 * count && order.length > 0 && picked.length < count; tries++) {
      const m = order[Math.floor(this.#random() * order.length)]!;
      if (m !== except && m.olaf && this.#current(m) && !picked.includes(m)) picked.push(m);
    }
    if (picked.length < count && order.length < 4 * count) {
      // Few members, or a stale round: look at the members themselves.
      for (const m of this.#membership.members.values()) {
        if (picked.length >= count) break;
        if (m !== except && m.olaf && !picked.includes(m)) picked.push(m);
      }
    }
    return picked;
  }

  #selfUpdate(): SwimUpdate {
    return { record: this.#self!, state: SwimState.ALIVE, incarnation: this.#incarnation };
  }

  #send(
    to: Member,
    code: SwimCode,
    word: number,
    updates: readonly SwimUpdate[],
    target?: PeerRecord,
  ): void {
    const message: SwimMessage = { code, word, sender: this.#selfUpdate(), target, updates };
    this.#out.toLink(to.link, new Frame(swimInit(message)));
  }

  #enqueue(m: Member, state: SwimState, incarnation: number): void {
    this.#enqueueRecord(m.memberId, record(m), state, incarnation);
  }

  #enqueueRecord(id: MemberId, rec: PeerRecord, state: SwimState, incarnation: number): void {
    const left = RETRANSMIT_MULT * Math.ceil(Math.log2(this.#membership.size + 2));
    this.#queue.set(id, { record: rec, state, incarnation }, left);
    this.#arm(this.#now);
  }

  /** One page of our Olaf members from `offset` (in join order), us first on page 0. */
  #page(to: Member, offset: number): void {
    const page: SwimUpdate[] = [];
    let index = 0;
    let next = 0;
    for (const m of this.#membership.members.values()) {
      if (!m.olaf || m === to) continue;
      if (index++ < offset) continue;
      if (page.length >= this.#gossipMax) {
        next = index - 1;
        break;
      }
      const state = m.suspectSince === undefined ? SwimState.ALIVE : SwimState.SUSPECT;
      page.push({ record: record(m), state, incarnation: m.incarnation ?? 0 });
    }
    this.#send(to, SwimCode.SYNC, next, page);
  }

  /**
   * In a large room, ask one member for its member list: at the join (again
   * if it stalls), and then every {@linkcode RESYNC_HEARTBEATS} from another
   * random member (anti-entropy, as memberlist's push-pull): an update that
   * died out before it reached everyone (queues full while hundreds joined)
   * is found there instead of missing for good.
   */
  #syncStep(now: number): void {
    // The first again soon after the join (what arrived while the room was busy joining is
    // then complete), the later ones every RESYNC_HEARTBEATS.
    const every = this.#syncs <= 1 ? FIRST_RESYNC_HEARTBEATS : RESYNC_HEARTBEATS;
    if (this.#synced && now - this.#syncedAt >= every * this.#heartbeatMs) this.#synced = false;
    if (this.#synced) return;
    const sync = this.#sync;
    if (sync !== undefined && this.#current(sync.from) && now - sync.at < this.#heartbeatMs) return;
    const [from] = this.#randomMembers(1, sync?.from);
    if (from === undefined) return;
    const next = sync?.next ?? 0;
    this.#sync = { from, next, at: now };
    this.#send(from, SwimCode.SYNC_REQ, next, []);
  }

  /** Removes a member as dead or gone and passes it on. */
  #confirm(m: Member, state: SwimState, incarnation: number, now: number): void {
    this.#dead.set(m.memberId, { incarnation, at: now });
    this.#enqueue(m, state, incarnation);
    m.suspectSince = undefined;
    this.#host.remove(m, state === SwimState.LEFT ? "bye" : "timeout", now);
  }

  /**
   * One update from someone else: applied, and (`spread`) queued again when
   * it told us something new.
   */
  #apply(u: SwimUpdate, now: number, spread: boolean): void {
    const rec = u.record;
    if (rec.port === 0 || rec.ip === "0.0.0.0") return;
    const key = addressKey(rec.ip, rec.port);
    if (key === this.#selfKey) {
      if (u.state === SwimState.ALIVE) return;
      // Refute: we are alive (a higher incarnation than the rumour's overrides it everywhere).
      const bump = u.incarnation >= this.#incarnation;
      if (bump) this.#incarnation = (u.incarnation + 1) >>> 0;
      if (bump || !this.#queue.has(v1MemberId(key))) {
        this.stats.refutations++;
        this.#healthy(1); // others could not hear us in time: we are likely the slow one
        this.#enqueueRecord(v1MemberId(key), this.#self!, SwimState.ALIVE, this.#incarnation);
      }
      return;
    }
    if (this.#host.isBootstrap(key)) return;
    const m = this.#membership.byPath(key);
    const id = m?.memberId ?? v1MemberId(key);
    if (m !== undefined && !m.olaf) return; // deployed peers: direct evidence only
    const known = m?.incarnation ?? 0;
    switch (u.state) {
      case SwimState.ALIVE: {
        if (m !== undefined) {
          // 0 = "incarnation not known" (the sender only heard a v1 PING): adds, never overrides.
          if (u.incarnation === 0) return;
          if (m.incarnation !== undefined && u.incarnation <= known) return;
          m.incarnation = u.incarnation;
          if (m.suspectSince !== undefined) {
            m.suspectSince = undefined;
            this.#suspects.delete(m);
          }
          if (spread) this.#enqueue(m, SwimState.ALIVE, u.incarnation);
          return;
        }
        const dead = this.#dead.get(id);
        if (dead !== undefined && u.incarnation <= dead.incarnation) return;
        const added = this.#host.add(rec, now);
        if (added === undefined) return;
        if (u.incarnation !== 0) added.incarnation = u.incarnation;
        added.olaf = true;
        this.#insert(added);
        if (spread) this.#enqueue(added, SwimState.ALIVE, u.incarnation);
        return;
      }
      case SwimState.SUSPECT: {
        if (m === undefined) return;
        if (u.incarnation < known || (u.incarnation === known && m.suspectSince !== undefined)) {
          return;
        }
        if (u.incarnation !== 0) m.incarnation = u.incarnation;
        if (m.suspectSince === undefined) {
          m.suspectSince = now;
          this.#suspects.add(m);
          this.#arm(now);
        }
        if (spread) this.#enqueue(m, SwimState.SUSPECT, u.incarnation);
        return;
      }
      default: {
        if (m === undefined) {
          const dead = this.#dead.get(id);
          if (dead === undefined || dead.incarnation < u.incarnation) {
            this.#dead.set(id, { incarnation: u.incarnation, at: now });
          }
          return;
        }
        if (u.incarnation < known) return;
        this.#suspects.delete(m);
        this.#confirm(m, u.state, u.incarnation, now);
      }
    }
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

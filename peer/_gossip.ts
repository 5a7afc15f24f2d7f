/**
 * Gossip: what our pings say. Heartbeat pings carry the room's list cut
 * into windows that differ per destination and rotate every heartbeat;
 * immediate pings carry as much of the list as fits; answers to strangers
 * and repair answers are budgeted per heartbeat (spoofed pings must not
 * draw traffic at will).
 */
import { type PeerRecord, peersThatFit } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { Frame, type Outbox } from "./_link.ts";
import { type Member, type Membership, record } from "./_membership.ts";

/** Full-list answers to unknown senders per heartbeat (bounds reflection by spoofed pings). */
const WELCOMES_PER_HEARTBEAT = 64;

/** Answers to members' pings that did not name us, per heartbeat (same reason). */
const ANSWERS_PER_HEARTBEAT = 64;

const EMPTY = new Uint8Array();

/** Builds and budgets the peer's pings. */
export class Gossip {
  readonly #membership: Membership;
  readonly #out: Outbox;
  readonly #budget: number;
  readonly #gossipSize: number;
  readonly #shares: (m: Member) => boolean;
  #self: PeerRecord | undefined;
  #heartbeats = 0;
  #welcomesLeft = WELCOMES_PER_HEARTBEAT;
  #answersLeft = ANSWERS_PER_HEARTBEAT;
  /** The full ping, valid while the membership version is `#pingVersion`. */
  #ping: Frame | undefined;
  #pingVersion = -1;
  #smallPing: Frame | undefined;
  /**
   * Whether the room is large (SWIM): candidates and strangers then get only
   * our record, not our list (newcomers sync the list in pages instead), and
   * heartbeat pings go to deployed v1 members only (Olaf members are probed).
   */
  partial: () => boolean = () => false;

  /**
   * @param shares Which members heartbeat pings name (issue 12: not a
   *   stranger heard from once); answers to newcomers name every member.
   */
  constructor(
    membership: Membership,
    out: Outbox,
    budget: number,
    gossipSize: number,
    shares: (m: Member) => boolean = () => true,
  ) {
    this.#shares = shares;
    this.#membership = membership;
    this.#out = out;
    this.#budget = budget;
    this.#gossipSize = gossipSize;
  }

  /** Our record changed (first join, new id or address): cached pings are stale. */
  setSelf(self: PeerRecord): void {
    this.#self = self;
    this.#ping = undefined;
    this.#smallPing = undefined;
  }

  /** A new heartbeat: the windows rotate and the budgets refill. */
  newHeartbeat(): void {
    this.#heartbeats++;
    this.#welcomesLeft = WELCOMES_PER_HEARTBEAT;
    this.#answersLeft = ANSWERS_PER_HEARTBEAT;
  }

  /** Our current list for an immediate ping: self first, then as many members as fit. */
  fullPing(): Frame {
    const version = this.#membership.version;
    if (this.#ping === undefined || this.#pingVersion !== version) {
      const fit = peersThatFit(this.#budget, { type: "PING" });
      const peers: PeerRecord[] = this.#self ? [this.#self] : [];
      for (const m of this.#membership.members.values()) {
        if (peers.length >= fit) break;
        if (m.id !== 0) peers.push(record(m));
      }
      this.#ping = new Frame({ type: "PING", peers, payload: EMPTY });
      this.#pingVersion = version;
    }
    return this.#ping;
  }

  /** Pings `to` now with our list (a candidate, or a stranger within the budget). */
  pingNow(to: NetAddress): void {
    this.#out.toPath(to, this.partial() ? this.#selfPing() : this.fullPing());
  }

  /**
   * Heartbeat pings: the room's list cut into windows of `gossipSize`, a
   * different window for each member, rotating every heartbeat. Every ping
   * names its destination (when we know its id), so that a ping that does
   * not tells an Olaf receiver we have not counted it yet.
   */
  heartbeat(): void {
    const partial = this.partial();
    // A large room pings only its deployed v1 members (Olaf members are probed, _swim.ts);
    // mostly there are none, and then no copy of the member list is made.
    const members: Member[] = [];
    for (const m of this.#membership.members.values()) if (!partial || !m.olaf) members.push(m);
    if (members.length === 0) return;
    const all = partial ? [...this.#membership.members.values()] : members;
    const known = all.filter((m) => m.id !== 0);
    const gossip = known.filter(this.#shares);
    // Room for our own record and the destination's besides the window.
    const fit = Math.min(this.#gossipSize, peersThatFit(this.#budget, { type: "PING" }) - 2);
    if (known.length <= fit && gossip.length === known.length) {
      const frame = this.fullPing(); // names every member
      for (const m of members) this.#out.toLink(m.link, frame);
      return;
    }
    const windows = Math.max(1, Math.ceil(gossip.length / fit));
    const slices: PeerRecord[][] = [];
    const frames: Frame[] = [];
    const start = gossip.length === 0 ? 0 : (this.#heartbeats * fit) % gossip.length;
    // Only as many windows as destinations (a large room pings only its deployed v1 members).
    for (let w = 0; w < Math.min(windows, members.length); w++) {
      const slice: PeerRecord[] = this.#self ? [this.#self] : [];
      for (let j = 0; j < Math.min(fit, gossip.length); j++) {
        slice.push(record(gossip[(start + w * fit + j) % gossip.length]!));
      }
      slices.push(slice);
      frames.push(new Frame({ type: "PING", peers: slice, payload: EMPTY }));
    }
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      const slice = slices[i % slices.length]!;
      const path = m.link.path;
      const named = m.id === 0 || slice.some((r) => r.port === path.port && r.ip === path.hostname);
      const frame = named
        ? frames[i % slices.length]!
        : new Frame({ type: "PING", peers: [...slice, record(m)], payload: EMPTY });
      this.#out.toLink(m.link, frame);
    }
  }

  /**
   * Answers an Olaf ping that did not name us with a small ping naming its
   * sender, which then counts us as a member and does not answer back.
   * Bounded per heartbeat.
   */
  answer(to: Member): void {
    if (this.#answersLeft <= 0) return;
    this.#answersLeft--;
    const peers = [this.#self!, record(to)];
    this.#out.toLink(to.link, new Frame({ type: "PING", peers, payload: EMPTY }));
  }

  /**
   * Answers a sender we did not know. The full list makes a newcomer converge
   * in a round trip, but a 7-byte spoofed ping must not draw 1 KB replies at
   * will: past a budget per heartbeat the answer carries only our own record
   * (heartbeat gossip fills the newcomer in instead).
   */
  welcome(to: Member): void {
    if (this.partial() && this.#self !== undefined) {
      // Large room: name the newcomer (so it counts us at once); it syncs the list itself.
      const peers = [this.#self, record(to)];
      this.#out.toLink(to.link, new Frame({ type: "PING", peers, payload: EMPTY }));
    } else if (this.#welcomesLeft > 0) {
      this.#welcomesLeft--;
      this.#out.toLink(to.link, this.fullPing());
    } else {
      this.#out.toLink(to.link, this.#selfPing());
    }
  }

  #selfPing(): Frame {
    return this.#smallPing ??= new Frame({
      type: "PING",
      peers: this.#self ? [this.#self] : [],
      payload: EMPTY,
    });
  }
}

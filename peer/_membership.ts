/**
 * Membership of one room as one peer sees it: members (heard from
 * directly), candidates (only heard about), tombstones (left or timed out:
 * gossip must not bring them back), and expiry. Members are keyed by
 * identity; a separate path index routes incoming datagrams to them.
 */
import type { AddressKey, PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import type { Link } from "./_link.ts";

declare const memberIdBrand: unique symbol;

/**
 * Who a member is. A v1 peer has no identity but its address, so its id is
 * its `"ip:port"` text ({@linkcode v1MemberId}); a keyed peer will be
 * identified by its public key (a text that never parses as ip:port), and
 * its path can then change under the same id.
 */
export type MemberId = string & { readonly [memberIdBrand]: true };

/** The identity of a v1 peer: its address. */
export function v1MemberId(pathKey: AddressKey): MemberId {
  return pathKey as MemberId;
}

/** A peer heard from directly. */
export interface Member {
  readonly memberId: MemberId;
  /** The link to it (its path, per-link state); an open room's Olaf member is upgraded to sealed. */
  link: Link;
  /** Its v1 id; 0 = not known yet. */
  id: number;
  lastSeen: number;
  /** It puts its own record first in its lists, as Olaf peers do (deployed peers do not). */
  olaf: boolean;
  /** SWIM (large rooms): its incarnation as last heard; unset until it or gossip says. */
  incarnation?: number;
  /** SWIM: since when we suspect it (a probe went unanswered); unset when not suspect. */
  suspectSince?: number;
}

/** A peer we only heard about (bootstrap reply, gossip): pinged until it answers. */
export interface Candidate {
  readonly address: NetAddress;
  id: number;
  readonly addedAt: number;
}

/** Members, candidates and tombstones, with the bookkeeping that keeps gossip caches valid. */
export class Membership {
  readonly maxPeers: number;
  /** Members by identity, in the order they joined. */
  readonly members: Map<MemberId, Member> = new Map();
  /** Candidates by path key, in the order they were learnt. */
  readonly candidates: Map<AddressKey, Candidate> = new Map();
  /** Identities that left or timed out -> the last time gossip named them. */
  readonly tombstones: Map<MemberId, number> = new Map();
  /** Bumped whenever the list we gossip (members and their ids) changes. */
  version = 0;
  readonly #byPath = new Map<AddressKey, Member>();

  constructor(maxPeers: number) {
    this.maxPeers = maxPeers;
  }

  /** Number of members. */
  get size(): number {
    return this.members.size;
  }

  /** The member reached at `pathKey` (routing of an incoming datagram). */
  byPath(pathKey: AddressKey): Member | undefined {
    return this.#byPath.get(pathKey);
  }

  /** Adds a member (it must be new). */
  add(member: Member): void {
    this.members.set(member.memberId, member);
    this.#byPath.set(member.link.pathKey, member);
    this.version++;
  }

  /** Removes a member and remembers it as gone at `now`. */
  remove(member: Member, now: number): void {
    this.members.delete(member.memberId);
    this.#byPath.delete(member.link.pathKey);
    this.tombstones.set(member.memberId, now);
    this.version++;
  }

  /** Forgets whoever is at `pathKey` (our own address, once we learn it): no tombstone. */
  forgetPath(pathKey: AddressKey): void {
    const member = this.#byPath.get(pathKey);
    if (member !== undefined) {
      this.members.delete(member.memberId);
      this.#byPath.delete(pathKey);
    }
    this.candidates.delete(pathKey);
  }

  /** The member is reached at a new path now (a sealed link roamed): re-index it. */
  move(member: Member, pathKey: AddressKey, moveLink: (key: AddressKey) => void): void {
    if (this.#byPath.get(member.link.pathKey) === member) this.#byPath.delete(member.link.pathKey);
    moveLink(pathKey);
    this.#byPath.set(pathKey, member);
    this.version++;
  }

  /** Records a member's v1 id. */
  setId(member: Member, id: number): void {
    member.id = id;
    this.version++;
  }

  /**
   * Drops members not heard from, candidates that never answered and
   * tombstones not mentioned, for `timeout` ms; `swim` says which members
   * the failure detector of large rooms watches instead.
   *
   * @returns The members that timed out, in join order.
   */
  expire(now: number, timeout: number, swim?: (m: Member) => boolean): Member[] {
    const gone: Member[] = [];
    for (const m of this.members.values()) {
      // Members under SWIM (large rooms) leave only when confirmed dead, not on silence.
      if (now - m.lastSeen >= timeout && !swim?.(m)) {
        this.remove(m, now);
        gone.push(m);
      }
    }
    for (const [key, c] of this.candidates) {
      if (now - c.addedAt >= timeout) {
        this.candidates.delete(key);
        this.tombstones.set(v1MemberId(key), now);
      }
    }
    for (const [id, mentioned] of this.tombstones) {
      if (now - mentioned >= timeout) this.tombstones.delete(id);
    }
    return gone;
  }

  /** Forgets everyone (after leaving). */
  clear(): void {
    this.members.clear();
    this.#byPath.clear();
    this.candidates.clear();
    this.tombstones.clear();
  }
}

/**
 * A member's record: its v1 record, plus its verified public key (64 lowercase hex digits) when
 * it is reached over a Noise session.
 */
export interface MemberRecord extends PeerRecord {
  /** Ed25519 public key, 64 lowercase hex digits; absent for plaintext (v1) members. */
  readonly publicKey?: string;
}

/** A member's record (see {@linkcode MemberRecord}). */
export function record(m: Member): MemberRecord {
  const r = { ip: m.link.path.hostname, port: m.link.path.port, id: m.id };
  const key = (m.link as { publicKeyHex?: string }).publicKeyHex;
  return key === undefined ? r : { ...r, publicKey: key };
}

/** Oldest id first; unknown ids (0, newcomers) last; ties by path. */
export function byId(a: Member, b: Member): number {
  const ia = a.id === 0 ? 2 ** 32 : a.id;
  const ib = b.id === 0 ? 2 ** 32 : b.id;
  const ka = a.link.pathKey;
  const kb = b.link.pathKey;
  return ia - ib || (ka < kb ? -1 : ka > kb ? 1 : 0);
}

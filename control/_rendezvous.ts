// The rendezvous rules, independent of HTTP: who may do what to a session, and
// what each call returns. Handlers parse and validate, then call in here.
import { getLogger } from "@logtape/logtape";
import { ApiError, quoted } from "./_errors.ts";
import type { Address, GuestRecord, PeerId, SessionRecord, SessionStore } from "./session_store.ts";

const logger = getLogger(["olaf", "control"]);

export interface RendezvousOptions {
  store: SessionStore;
  ttlMs: number;
  maxGuests: number;
  /** Open sessions per client key (issue 12). */
  sessionQuota: number;
  operatorToken?: string;
  now: () => number;
}

/** What a host gets from `POST /games/register`. */
export interface Registration {
  name: string;
  peerId: PeerId;
  token: string;
  createdAt: number;
  expiresAt: number;
  ttlMs: number;
  /** The code guests must send to /games/start; only when one was asked for. */
  joinCode?: string;
  /** `false` when the session is left out of GET /games; absent when listed. */
  listed?: false;
}

/** What a host may ask for at register time (issue 12). */
export interface RegisterOptions {
  /** Quota key of the client (its address); `undefined` = no quota (no address known). */
  client?: string;
  /** Generate a join code that /games/start then requires. */
  joinCode?: boolean;
  /** `false`: leave the session out of GET /games. */
  listed?: boolean;
}

/** Clients whose sessions are tracked for the quota; the oldest is forgotten beyond. */
const MAX_QUOTA_CLIENTS = 100_000;

/** One guest in a poll answer. */
export interface GuestAddresses {
  peerId: PeerId;
  addresses: Address[];
  joinedAt: number;
  updatedAt: number;
}

/** What a host gets from `POST /games/poll`. */
export interface PollAnswer {
  name: string;
  status: 0 | 1;
  addresses: GuestAddresses[];
  expiresAt: number;
}

/** What a guest gets from `POST /games/start`. */
export interface StartAnswer {
  name: string;
  status: 1;
  peerId: PeerId;
  addresses: Address[];
  updatedAt: number;
}

/** One session in `GET /games` and the answer of a rename. */
export interface SessionSummary {
  name: string;
  peerId: PeerId;
  createdAt: number;
  expiresAt: number;
  ready: boolean;
  guests: number;
  /** `true` when /games/start needs a join code; absent otherwise. */
  joinCode?: true;
}

export class Rendezvous {
  readonly store: SessionStore;
  readonly ttlMs: number;
  #maxGuests: number;
  #sessionQuota: number;
  /** Client key -> name -> token hash of the sessions it registered (quota). */
  #owned = new Map<string, Map<string, string>>();
  /** Token hash -> client key, to follow renames. */
  #ownerOf = new Map<string, string>();
  #operatorHash: Promise<string> | undefined;
  #now: () => number;

  constructor(options: RendezvousOptions) {
    this.store = options.store;
    this.ttlMs = options.ttlMs;
    this.#maxGuests = options.maxGuests;
    this.#sessionQuota = options.sessionQuota;
    this.#now = options.now;
    this.#operatorHash = options.operatorToken ? sha256Hex(options.operatorToken) : undefined;
  }

  async register(
    name: string,
    peerId: PeerId,
    options: RegisterOptions = {},
  ): Promise<Registration> {
    const token = newToken();
    const joinCode = options.joinCode ? newJoinCode() : undefined;
    const now = this.#now();
    const record: SessionRecord = {
      name,
      peerId,
      tokenHash: await sha256Hex(token),
      createdAt: now,
      updatedAt: now,
      expiresAt: now + this.ttlMs,
      hostAddresses: [],
      polledAt: null,
      guests: [],
    };
    if (joinCode !== undefined) record.joinCodeHash = await sha256Hex(joinCode);
    if (options.listed === false) record.listed = false;
    const { client } = options;
    if (client !== undefined) await this.#claim(client, record.name, record.tokenHash, now);
    let result;
    try {
      result = await this.store.insert(record, now);
    } finally {
      if (client !== undefined && result !== "inserted") this.#release(record.tokenHash);
    }
    if (result === "taken") {
      throw new ApiError(409, "name-taken", `a session called ${quoted(name)} exists`);
    }
    if (result === "full") {
      throw new ApiError(
        503,
        "unavailable",
        "too many open sessions, try again later",
        { "Retry-After": "30" },
        "max-sessions",
      );
    }
    logger.debug("session {name} registered", { name });
    const registration: Registration = {
      name,
      peerId,
      token,
      createdAt: now,
      expiresAt: record.expiresAt,
      ttlMs: this.ttlMs,
    };
    if (joinCode !== undefined) registration.joinCode = joinCode;
    if (record.listed === false) registration.listed = false;
    return registration;
  }

  /**
   * Reserves one of `client`'s session slots, or throws 429 `session-quota`.
   * Slots of sessions that expired or were deleted are given back here,
   * checked against the store. The last step after the checks is synchronous,
   * so concurrent registrations cannot overshoot.
   */
  async #claim(client: string, name: string, tokenHash: string, now: number): Promise<void> {
    let owned = this.#owned.get(client);
    if (owned && owned.size >= this.#sessionQuota) {
      for (const [ownedName, hash] of [...owned]) {
        const current = await this.store.get(ownedName, now);
        if (!current || current.tokenHash !== hash) this.#release(hash);
      }
    }
    owned = this.#owned.get(client);
    if (owned && owned.size >= this.#sessionQuota) {
      throw new ApiError(
        429,
        "session-quota",
        `this address already holds ${this.#sessionQuota} open sessions; ` +
          "delete one or let one expire",
        { "Retry-After": String(Math.ceil(this.ttlMs / 1000)) },
        "session-quota",
      );
    }
    if (!owned) {
      this.#owned.set(client, owned = new Map());
      if (this.#owned.size > MAX_QUOTA_CLIENTS) {
        const [oldest, sessions] = this.#owned.entries().next().value!;
        for (const hash of sessions.values()) this.#ownerOf.delete(hash);
        this.#owned.delete(oldest);
      }
    }
    owned.set(name, tokenHash);
    this.#ownerOf.set(tokenHash, client);
  }

  /** Gives back the quota slot of the session with this token hash. */
  #release(tokenHash: string): void {
    const client = this.#ownerOf.get(tokenHash);
    if (client === undefined) return;
    this.#ownerOf.delete(tokenHash);
    const owned = this.#owned.get(client);
    if (!owned) return;
    for (const [name, hash] of owned) if (hash === tokenHash) owned.delete(name);
    if (owned.size === 0) this.#owned.delete(client);
  }

  /** Moves a quota slot to the session's new name. */
  #renamed(tokenHash: string, newName: string): void {
    const client = this.#ownerOf.get(tokenHash);
    const owned = client === undefined ? undefined : this.#owned.get(client);
    if (!owned) return;
    for (const [name, hash] of owned) if (hash === tokenHash) owned.delete(name);
    owned.set(newName, tokenHash);
  }

  async poll(
    name: string,
    token: string,
    peerId: PeerId,
    addresses: Address[],
  ): Promise<PollAnswer> {
    const tokenHash = await sha256Hex(token);
    const now = this.#now();
    const result = await this.store.update(name, now, (current) => {
      if (!sameDigest(current.tokenHash, tokenHash)) throw wrongToken(name);
      if (current.peerId !== peerId) {
        throw new ApiError(403, "forbidden", "peerId is not the host of this session");
      }
      const record: SessionRecord = {
        ...current,
        hostAddresses: addresses,
        polledAt: now,
        updatedAt: now,
        expiresAt: now + this.ttlMs,
      };
      const answer: PollAnswer = {
        name,
        status: current.guests.length > 0 ? 1 : 0,
        addresses: current.guests.map(guestAddresses),
        expiresAt: record.expiresAt,
      };
      return { record, value: answer };
    });
    if (!result) throw notFound(name);
    return result.value;
  }

  async start(
    name: string,
    peerId: PeerId,
    addresses: Address[],
    joinCode?: string,
  ): Promise<StartAnswer> {
    const now = this.#now();
    const codeHash = joinCode === undefined ? undefined : await sha256Hex(joinCode);
    const result = await this.store.update(name, now, (current) => {
      if (current.joinCodeHash !== undefined) {
        const ok = codeHash !== undefined && sameDigest(current.joinCodeHash, codeHash);
        // An unlisted session does not admit it exists to a guest without its code.
        if (!ok && current.listed === false) throw notFound(name, "join-code");
        if (codeHash === undefined) {
          throw new ApiError(
            403,
            "join-code-required",
            `session ${quoted(name)} needs a joinCode`,
            {},
            "join-code",
          );
        }
        if (!ok) {
          throw new ApiError(
            403,
            "wrong-join-code",
            `wrong joinCode for session ${quoted(name)}`,
            {},
            "join-code",
          );
        }
      }
      if (current.polledAt === null) {
        throw new ApiError(
          409,
          "not-ready",
          "the host has not published its addresses yet; retry shortly",
          { "Retry-After": "1" },
        );
      }
      if (current.peerId === peerId) {
        throw new ApiError(400, "bad-request", "a guest cannot use the host's peerId");
      }
      const guests = current.guests.slice();
      const index = guests.findIndex((guest) => guest.peerId === peerId);
      if (index >= 0) {
        guests[index] = { ...guests[index], addresses, updatedAt: now };
      } else {
        if (guests.length >= this.#maxGuests) {
          throw new ApiError(
            409,
            "session-full",
            `the session has ${this.#maxGuests} guests`,
            {},
            "max-guests",
          );
        }
        guests.push({ peerId, addresses, joinedAt: now, updatedAt: now });
      }
      const answer: StartAnswer = {
        name,
        status: 1,
        peerId: current.peerId,
        addresses: current.hostAddresses,
        updatedAt: current.polledAt,
      };
      return { record: { ...current, guests }, value: answer };
    });
    if (!result) throw notFound(name);
    return result.value;
  }

  async list(page: { offset: number; limit: number }): Promise<{
    total: number;
    games: SessionSummary[];
  }> {
    const { total, sessions } = await this.store.list(this.#now(), { ...page, listedOnly: true });
    return { total, games: sessions.map(summarize) };
  }

  async rename(name: string, newName: string, token: string): Promise<SessionSummary> {
    const authorize = await this.#authorizer(token);
    const now = this.#now();
    let renamed: SessionRecord | undefined;
    const result = await this.store.rename(name, newName, now, (current) => {
      authorize(current);
      renamed = {
        ...current,
        name: newName,
        updatedAt: now,
        expiresAt: Math.max(current.expiresAt, now + this.ttlMs),
      };
      return renamed;
    });
    if (result === "not-found") throw notFound(name);
    if (result === "taken") {
      throw new ApiError(409, "name-taken", `a session called ${quoted(newName)} exists`);
    }
    this.#renamed(renamed!.tokenHash, newName);
    logger.info("session {name} renamed to {newName}", { name, newName });
    return summarize(renamed!);
  }

  async remove(name: string, token: string): Promise<void> {
    const authorize = await this.#authorizer(token);
    const result = await this.store.update(name, this.#now(), (current) => {
      authorize(current);
      return { record: null, value: true };
    });
    if (!result) throw notFound(name);
    logger.info("session {name} deleted", { name });
  }

  /** Host token of that session, or the operator token, may act. */
  async #authorizer(token: string): Promise<(current: SessionRecord) => void> {
    const tokenHash = await sha256Hex(token);
    const operator = this.#operatorHash !== undefined &&
      sameDigest(await this.#operatorHash, tokenHash);
    return (current) => {
      if (!operator && !sameDigest(current.tokenHash, tokenHash)) throw wrongToken(current.name);
    };
  }
}

function guestAddresses(guest: GuestRecord): GuestAddresses {
  return {
    peerId: guest.peerId,
    addresses: guest.addresses,
    joinedAt: guest.joinedAt,
    updatedAt: guest.updatedAt,
  };
}

function summarize(record: SessionRecord): SessionSummary {
  const summary: SessionSummary = {
    name: record.name,
    peerId: record.peerId,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    ready: record.polledAt !== null,
    guests: record.guests.length,
  };
  if (record.joinCodeHash !== undefined) summary.joinCode = true;
  return summary;
}

function notFound(name: string, limit?: string): ApiError {
  return new ApiError(404, "not-found", `no open session called ${quoted(name)}`, {}, limit);
}

/** 8 characters of Crockford base32 (40 bits), easy to read out and type. */
function newJoinCode(): string {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => alphabet[b & 31]).join("");
}

function wrongToken(name: string): ApiError {
  return new ApiError(403, "forbidden", `the token does not own session ${quoted(name)}`);
}

/** A 256-bit random token, base64url. */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two hex digests. */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

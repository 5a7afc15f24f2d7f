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
}

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
}

export class Rendezvous {
  readonly store: SessionStore;
  readonly ttlMs: number;
  #maxGuests: number;
  #operatorHash: Promise<string> | undefined;
  #now: () => number;

  constructor(options: RendezvousOptions) {
    this.store = options.store;
    this.ttlMs = options.ttlMs;
    this.#maxGuests = options.maxGuests;
    this.#now = options.now;
    this.#operatorHash = options.operatorToken ? sha256Hex(options.operatorToken) : undefined;
  }

  async register(name: string, peerId: PeerId): Promise<Registration> {
    const token = newToken();
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
    const result = await this.store.insert(record, now);
    if (result === "taken") {
      throw new ApiError(409, "name-taken", `a session called ${quoted(name)} exists`);
    }
    if (result === "full") {
      throw new ApiError(503, "unavailable", "too many open sessions, try again later", {
        "Retry-After": "30",
      });
    }
    logger.debug("session {name} registered", { name });
    return {
      name,
      peerId,
      token,
      createdAt: now,
      expiresAt: record.expiresAt,
      ttlMs: this.ttlMs,
    };
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

  async start(name: string, peerId: PeerId, addresses: Address[]): Promise<StartAnswer> {
    const now = this.#now();
    const result = await this.store.update(name, now, (current) => {
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
          throw new ApiError(409, "session-full", `the session has ${this.#maxGuests} guests`);
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
    const { total, sessions } = await this.store.list(this.#now(), page);
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
  return {
    name: record.name,
    peerId: record.peerId,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    ready: record.polledAt !== null,
    guests: record.guests.length,
  };
}

function notFound(name: string): ApiError {
  return new ApiError(404, "not-found", `no open session called ${quoted(name)}`);
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

/**
 * Storage of rendezvous sessions behind one interface,
 * {@linkcode SessionStore}, with an in-memory implementation
 * ({@linkcode MemorySessionStore}, the default). The Deno KV implementation is
 * `KvSessionStore`. Both run the same test suite.
 *
 * @module
 */

/** A candidate address: `[ip, port]`, ip as canonical IPv4 or IPv6 text. */
export type Address = [ip: string, port: number];

/** A peer id as the client sent it: a string or a non-negative integer. */
export type PeerId = string | number;

/**
 * A guest that joined a session with `POST /games/start`.
 *
 * @example
 * ```ts
 * import type { GuestRecord } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const guest: GuestRecord = {
 *   peerId: "guest-1",
 *   addresses: [["198.51.100.4", 50000]],
 *   joinedAt: 1,
 *   updatedAt: 1,
 * };
 * assert.equal(guest.addresses[0][1], 50000);
 * ```
 */
export interface GuestRecord {
  /** The guest's peer id (unique within the session). */
  peerId: PeerId;
  /** The guest's latest candidate addresses. */
  addresses: Address[];
  /** When the guest first joined, in milliseconds since the epoch. */
  joinedAt: number;
  /** When the guest last sent its addresses, in milliseconds since the epoch. */
  updatedAt: number;
}

/**
 * A rendezvous session as stored. The host token itself is never stored,
 * only its SHA-256 (hex).
 *
 * @example
 * ```ts
 * import type { SessionRecord } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const session: SessionRecord = {
 *   name: "my-game",
 *   peerId: "host-1",
 *   tokenHash: "00",
 *   createdAt: 0,
 *   updatedAt: 0,
 *   expiresAt: 60_000,
 *   hostAddresses: [],
 *   polledAt: null,
 *   guests: [],
 * };
 * assert.equal(session.polledAt, null); // not ready for guests yet
 * ```
 */
export interface SessionRecord {
  /** The session name (unique among live sessions). */
  name: string;
  /** The host's peer id. */
  peerId: PeerId;
  /** SHA-256 of the host token, lower-case hex. */
  tokenHash: string;
  /** When the host registered, in milliseconds since the epoch. */
  createdAt: number;
  /** When the host last registered, polled or renamed. */
  updatedAt: number;
  /** When the session expires unless the host acts again. */
  expiresAt: number;
  /** The host's latest candidate addresses (empty until its first poll). */
  hostAddresses: Address[];
  /** When the host last polled, or `null` before its first poll. */
  polledAt: number | null;
  /** Every guest that joined, in join order, one entry per guest peer id. */
  guests: GuestRecord[];
  /** SHA-256 (hex) of the join code `/games/start` requires; absent = none. */
  joinCodeHash?: string;
  /** `false`: left out of `GET /games` (`list` with `listedOnly`); absent = listed. */
  listed?: boolean;
}

/**
 * What a {@linkcode SessionStore.update} callback decides: `record` replaces
 * the session, `null` deletes it, `undefined` leaves it; `value` is returned
 * to the caller.
 */
export interface SessionChange<T> {
  /** The new record, `null` to delete, `undefined` for no change. */
  record?: SessionRecord | null;
  /** What `update` returns. */
  value: T;
}

/** Result of {@linkcode SessionStore.insert}. */
export type InsertResult = "inserted" | "taken" | "full";

/** Result of {@linkcode SessionStore.rename}. */
export type RenameResult = "renamed" | "not-found" | "taken";

/**
 * Where rendezvous sessions live. Every method is atomic with respect to the
 * others: two hosts racing for one name get one `"inserted"` and one
 * `"taken"`. A record whose `expiresAt <= now` counts as absent everywhere.
 * Callbacks may run more than once (stores that retry on conflict) and may
 * throw to abort the operation; the error reaches the caller unchanged.
 *
 * @example Any store, used directly
 * ```ts
 * import { MemorySessionStore, type SessionStore } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const store: SessionStore = new MemorySessionStore();
 * const record = {
 *   name: "my-game",
 *   peerId: 1,
 *   tokenHash: "00",
 *   createdAt: 0,
 *   updatedAt: 0,
 *   expiresAt: 60_000,
 *   hostAddresses: [],
 *   polledAt: null,
 *   guests: [],
 * };
 * assert.equal(await store.insert(record, 0), "inserted");
 * assert.equal(await store.insert(record, 0), "taken");
 * assert.equal((await store.get("my-game", 60_000)), undefined); // expired
 * await store.close();
 * ```
 */
export interface SessionStore {
  /** The live session called `name`, if any. */
  get(name: string, now: number): Promise<SessionRecord | undefined>;
  /** Adds `record` unless a live session has its name (or the store is full). */
  insert(record: SessionRecord, now: number): Promise<InsertResult>;
  /**
   * Reads the live session `name`, lets `change` decide, and applies the
   * decision atomically.
   *
   * @returns `{ value }` from `change`, or `undefined` when no live session has that name.
   */
  update<T>(
    name: string,
    now: number,
    change: (current: SessionRecord) => SessionChange<T>,
  ): Promise<{ value: T } | undefined>;
  /**
   * Moves the live session `name` to `newName` atomically; `change` returns
   * the record to store under the new name (and may throw to refuse).
   */
  rename(
    name: string,
    newName: string,
    now: number,
    change: (current: SessionRecord) => SessionRecord,
  ): Promise<RenameResult>;
  /**
   * One page of live sessions, sorted by name, and how many there are. With
   * `listedOnly`, sessions with `listed: false` are left out of both.
   */
  list(
    now: number,
    page: { offset: number; limit: number; listedOnly?: boolean },
  ): Promise<{ total: number; sessions: SessionRecord[] }>;
  /** Releases what the store holds (a KV store it opened itself). */
  close(): Promise<void>;
}

/** Options for {@linkcode MemorySessionStore}. */
export interface MemorySessionStoreOptions {
  /** Most live sessions at once; `insert` answers `"full"` beyond. Default 10 000. */
  maxSessions?: number;
}

/**
 * Sessions in a `Map`, lost on restart. Expired sessions are treated as absent
 * and swept out when the store is written or listed.
 *
 * @example
 * ```ts
 * import { MemorySessionStore } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const store = new MemorySessionStore({ maxSessions: 1 });
 * const base = {
 *   peerId: 1,
 *   tokenHash: "00",
 *   createdAt: 0,
 *   updatedAt: 0,
 *   expiresAt: 1_000,
 *   hostAddresses: [],
 *   polledAt: null,
 *   guests: [],
 * };
 * assert.equal(await store.insert({ ...base, name: "a" }, 0), "inserted");
 * assert.equal(await store.insert({ ...base, name: "b" }, 0), "full");
 * assert.equal(await store.insert({ ...base, name: "b" }, 1_000), "inserted"); // "a" expired
 * ```
 */
export class MemorySessionStore implements SessionStore {
  #sessions = new Map<string, SessionRecord>();
  #maxSessions: number;

  /**
   * Creates an empty store.
   *
   * @param options The capacity.
   */
  constructor(options: MemorySessionStoreOptions = {}) {
    this.#maxSessions = options.maxSessions ?? 10_000;
  }

  /**
   * The live session called `name`.
   *
   * @param name The session name.
   * @param now The current time.
   * @returns A copy of the record, or `undefined`.
   */
  get(name: string, now: number): Promise<SessionRecord | undefined> {
    const record = this.#live(name, now);
    return Promise.resolve(record && structuredClone(record));
  }

  /**
   * Adds a session.
   *
   * @param record The session.
   * @param now The current time.
   * @returns Whether it was added, or why not.
   */
  insert(record: SessionRecord, now: number): Promise<InsertResult> {
    if (this.#live(record.name, now)) return Promise.resolve("taken");
    if (this.#sessions.size >= this.#maxSessions) {
      this.#sweep(now);
      if (this.#sessions.size >= this.#maxSessions) return Promise.resolve("full");
    }
    this.#sessions.set(record.name, structuredClone(record));
    return Promise.resolve("inserted");
  }

  /**
   * Changes a session.
   *
   * @param name The session name.
   * @param now The current time.
   * @param change Decides the change.
   * @returns What `change` returned, or `undefined` when there is no such live session.
   */
  update<T>(
    name: string,
    now: number,
    change: (current: SessionRecord) => SessionChange<T>,
  ): Promise<{ value: T } | undefined> {
    try {
      const current = this.#live(name, now);
      if (!current) return Promise.resolve(undefined);
      const decision = change(structuredClone(current));
      if (decision.record === null) this.#sessions.delete(name);
      else if (decision.record) this.#sessions.set(name, structuredClone(decision.record));
      return Promise.resolve({ value: decision.value });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Renames a session.
   *
   * @param name The current name.
   * @param newName The new name.
   * @param now The current time.
   * @param change Returns the record to store under the new name.
   * @returns What happened.
   */
  rename(
    name: string,
    newName: string,
    now: number,
    change: (current: SessionRecord) => SessionRecord,
  ): Promise<RenameResult> {
    try {
      const current = this.#live(name, now);
      if (!current) return Promise.resolve("not-found");
      if (name !== newName && this.#live(newName, now)) return Promise.resolve("taken");
      const next = structuredClone(change(structuredClone(current)));
      this.#sessions.delete(name);
      this.#sessions.set(newName, { ...next, name: newName });
      return Promise.resolve("renamed");
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * One page of live sessions, sorted by name.
   *
   * @param now The current time.
   * @param page Where the page starts and how long it is.
   * @returns The page and the total.
   */
  list(
    now: number,
    page: { offset: number; limit: number; listedOnly?: boolean },
  ): Promise<{ total: number; sessions: SessionRecord[] }> {
    this.#sweep(now);
    const names = [...this.#sessions.keys()]
      .filter((name) => !page.listedOnly || this.#sessions.get(name)!.listed !== false)
      .sort(compareNames);
    const sessions = names.slice(page.offset, page.offset + page.limit)
      .map((name) => structuredClone(this.#sessions.get(name)!));
    return Promise.resolve({ total: names.length, sessions });
  }

  /**
   * Forgets every session.
   *
   * @returns When done.
   */
  close(): Promise<void> {
    this.#sessions.clear();
    return Promise.resolve();
  }

  #live(name: string, now: number): SessionRecord | undefined {
    const record = this.#sessions.get(name);
    if (record && record.expiresAt <= now) {
      this.#sessions.delete(name);
      return undefined;
    }
    return record;
  }

  #sweep(now: number): void {
    for (const [name, record] of this.#sessions) {
      if (record.expiresAt <= now) this.#sessions.delete(name);
    }
  }
}

/** Code-unit order, the same order Deno KV lists string keys in. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

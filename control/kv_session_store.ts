/**
 * Rendezvous sessions in Deno KV, so that they survive restarts and can be
 * shared by several instances (Deno Deploy).
 *
 * @module
 */
import { ApiError } from "./_errors.ts";
import {
  compareNames,
  type InsertResult,
  type RenameResult,
  type SessionChange,
  type SessionRecord,
  type SessionStore,
} from "./session_store.ts";

/** Options for {@linkcode KvSessionStore}. */
export interface KvSessionStoreOptions {
  /** Key prefix for every session. Default `["olaf", "rendezvous"]`. */
  prefix?: Deno.KvKey;
  /** Whether `close()` closes the KV handle too. Default `false` (the caller owns it). */
  closeKv?: boolean;
}

/** Commits that lose a race are retried this many times before giving up with 503. */
const MAX_ATTEMPTS = 16;

/**
 * A {@linkcode SessionStore} over Deno KV. Each session is one entry, written
 * with `expireIn` so KV deletes it eventually; since that deletion is lazy,
 * every read also checks `expiresAt`. Writes are atomic operations checked
 * against the versionstamp that was read, so two hosts racing for one name
 * cannot both win, and concurrent polls and joins never lose an update.
 *
 * @example On a temporary database file
 * ```ts
 * import { KvSessionStore } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".kv" });
 * await using store = await KvSessionStore.open(path);
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
 * assert.equal((await store.get("my-game", 0))?.peerId, 1);
 * ```
 */
export class KvSessionStore implements SessionStore, AsyncDisposable {
  /** The KV handle in use. */
  readonly kv: Deno.Kv;
  #prefix: Deno.KvKey;
  #closeKv: boolean;
  #closed = false;

  /**
   * Wraps an open KV handle.
   *
   * @param kv The KV handle.
   * @param options Key prefix and ownership.
   */
  constructor(kv: Deno.Kv, options: KvSessionStoreOptions = {}) {
    this.kv = kv;
    this.#prefix = options.prefix ?? ["olaf", "rendezvous"];
    this.#closeKv = options.closeKv ?? false;
  }

  /**
   * Opens a KV database (a file path, or the default database when omitted)
   * and returns a store that closes it on `close()`.
   *
   * @param path Where the database lives.
   * @param options Key prefix.
   * @returns The store.
   */
  static async open(
    path?: string,
    options: Omit<KvSessionStoreOptions, "closeKv"> = {},
  ): Promise<KvSessionStore> {
    const kv = await Deno.openKv(path);
    return new KvSessionStore(kv, { ...options, closeKv: true });
  }

  /**
   * The live session called `name`.
   *
   * @param name The session name.
   * @param now The current time.
   * @returns The record, or `undefined`.
   */
  async get(name: string, now: number): Promise<SessionRecord | undefined> {
    const entry = await this.kv.get<SessionRecord>(this.#key(name));
    return live(entry.value, now);
  }

  /**
   * Adds a session unless a live one has its name.
   *
   * @param record The session.
   * @param now The current time.
   * @returns `"inserted"` or `"taken"`.
   */
  async insert(record: SessionRecord, now: number): Promise<InsertResult> {
    const key = this.#key(record.name);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await this.kv.get<SessionRecord>(key);
      if (live(entry.value, now)) return "taken";
      const op = this.kv.atomic()
        .check(entry)
        .set(key, record, { expireIn: expireIn(record, now) });
      if (await commit(op)) return "inserted";
    }
    throw busy();
  }

  /**
   * Changes a session atomically (retrying when another writer got there first).
   *
   * @param name The session name.
   * @param now The current time.
   * @param change Decides the change; may run more than once.
   * @returns What `change` returned, or `undefined` when there is no such live session.
   */
  async update<T>(
    name: string,
    now: number,
    change: (current: SessionRecord) => SessionChange<T>,
  ): Promise<{ value: T } | undefined> {
    const key = this.#key(name);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await this.kv.get<SessionRecord>(key);
      const current = live(entry.value, now);
      if (!current) return undefined;
      const decision = change(current);
      if (decision.record === undefined) return { value: decision.value };
      const op = this.kv.atomic().check(entry);
      if (decision.record === null) op.delete(key);
      else op.set(key, decision.record, { expireIn: expireIn(decision.record, now) });
      if (await commit(op)) return { value: decision.value };
    }
    throw busy();
  }

  /**
   * Moves a session to a new name in one atomic operation.
   *
   * @param name The current name.
   * @param newName The new name.
   * @param now The current time.
   * @param change Returns the record to store under the new name.
   * @returns What happened.
   */
  async rename(
    name: string,
    newName: string,
    now: number,
    change: (current: SessionRecord) => SessionRecord,
  ): Promise<RenameResult> {
    const key = this.#key(name);
    const newKey = this.#key(newName);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [entry, target] = await this.kv.getMany<[SessionRecord, SessionRecord]>([key, newKey]);
      const current = live(entry.value, now);
      if (!current) return "not-found";
      if (name !== newName && live(target.value, now)) return "taken";
      const next = { ...change(current), name: newName };
      const op = this.kv.atomic()
        .check(entry, target)
        .delete(key)
        .set(newKey, next, { expireIn: expireIn(next, now) });
      if (await commit(op)) return "renamed";
    }
    throw busy();
  }

  /**
   * One page of live sessions, sorted by name. Reads every session under the
   * prefix to count them, which is fine for the thousands a rendezvous holds.
   *
   * @param now The current time.
   * @param page Where the page starts and how long it is.
   * @returns The page and the total.
   */
  async list(
    now: number,
    page: { offset: number; limit: number; listedOnly?: boolean },
  ): Promise<{ total: number; sessions: SessionRecord[] }> {
    const all: SessionRecord[] = [];
    for await (const entry of this.kv.list<SessionRecord>({ prefix: this.#sessionsPrefix() })) {
      const record = live(entry.value, now);
      if (record && !(page.listedOnly && record.listed === false)) all.push(record);
    }
    all.sort((a, b) => compareNames(a.name, b.name));
    return { total: all.length, sessions: all.slice(page.offset, page.offset + page.limit) };
  }

  /**
   * Closes the KV handle if this store opened it. Safe to call twice.
   *
   * @returns When done.
   */
  close(): Promise<void> {
    if (this.#closeKv && !this.#closed) {
      this.#closed = true;
      this.kv.close();
    }
    return Promise.resolve();
  }

  /**
   * Same as `close()`.
   *
   * @returns When done.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #sessionsPrefix(): Deno.KvKey {
    return [...this.#prefix, "session"];
  }

  #key(name: string): Deno.KvKey {
    return [...this.#prefix, "session", name];
  }
}

function live(record: SessionRecord | null, now: number): SessionRecord | undefined {
  return record && record.expiresAt > now ? record : undefined;
}

function expireIn(record: SessionRecord, now: number): number {
  return Math.max(1, Math.ceil(record.expiresAt - now));
}

/**
 * Commits `op`; whether its checks held. A session past KV's 64 KiB value
 * limit (possible when `maxGuests` or `maxAddresses` are raised) is the
 * client's doing, so it becomes 409 `session-full` rather than a 500.
 */
async function commit(op: Deno.AtomicOperation): Promise<boolean> {
  try {
    return (await op.commit()).ok;
  } catch (error) {
    if (error instanceof TypeError && /value too large/i.test(error.message)) {
      throw new ApiError(409, "session-full", "the session is too large to store more addresses");
    }
    throw error;
  }
}

function busy(): ApiError {
  return new ApiError(503, "unavailable", "the session store is busy, try again", {
    "Retry-After": "1",
  });
}

// Shared helpers for the control plane's tests (not part of the API): the
// list of session stores every store-dependent suite runs against, and small
// request helpers for app.request().
import type { ControlApp } from "./app.ts";
import { KvSessionStore } from "./kv_session_store.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";

/** A store under test plus how to dispose of it (closing KV, removing files). */
export interface StoreFixture extends AsyncDisposable {
  store: SessionStore;
}

/** How to open a fresh, empty store of one kind. */
export interface StoreKind {
  name: string;
  open(): Promise<StoreFixture>;
}

/** Opens a KV store on a real database file in a new temporary directory. */
export async function openTempKvStore(): Promise<StoreFixture & { path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "olaf-control-kv-" });
  const path = `${dir}/sessions.kv`;
  const store = await KvSessionStore.open(path);
  return {
    store,
    path,
    dir,
    async [Symbol.asyncDispose]() {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Every SessionStore implementation: suites loop over this list. */
export const STORE_KINDS: StoreKind[] = [
  {
    name: "memory",
    open: () => {
      const store = new MemorySessionStore();
      return Promise.resolve({ store, [Symbol.asyncDispose]: () => store.close() });
    },
  },
  { name: "kv", open: openTempKvStore },
];

/** A clock that only moves when told. */
export class ManualClock {
  time: number;
  constructor(start = 1_763_700_000_000) {
    this.time = start;
  }
  now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Sends a JSON request to the app (any body, serialized unless a string). */
export function sendJson(
  app: ControlApp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  }));
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** Waits (bounded) until `predicate` holds; returns whether it did. */
export async function eventually(predicate: () => boolean, attempts = 200): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return predicate();
}

/** Reads an SSE body until `count` events (not comments) arrived; returns them and the raw text. */
export async function readSse(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: (text: string) => boolean,
  maxChunks = 100,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for (let i = 0; i < maxChunks && !until(text); i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Parses complete SSE messages (blocks ending in a blank line), comments skipped. */
export function parseSse(text: string): { event?: string; data: string; id?: string }[] {
  const messages: { event?: string; data: string; id?: string }[] = [];
  for (const block of text.split("\n\n").slice(0, -1)) {
    const message: { event?: string; data: string; id?: string } = { data: "" };
    let fields = 0;
    for (const line of block.split("\n")) {
      if (line.startsWith(":") || line === "") continue;
      const colon = line.indexOf(":");
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, "");
      fields++;
      if (field === "event") message.event = value;
      else if (field === "data") message.data += (message.data ? "\n" : "") + value;
      else if (field === "id") message.id = value;
    }
    if (fields > 0) messages.push(message);
  }
  return messages;
}

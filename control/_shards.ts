// Issue 15: one control plane over several bootstrap shards. GET /stats (and /metrics) ask every
// shard's own control plane for its /stats in parallel and add them up; a shard that is down,
// slow or answers nonsense is named in the result (`partial: true`) instead of failing it all.
import type { BootstrapStats } from "./bootstrap_view.ts";

/** How long one shard may take to answer before it counts as failed. */
export const SHARD_TIMEOUT_MS = 2000;

/** One shard's part of an aggregated `/stats`. */
export interface ShardStatus {
  /** The shard's control-plane base URL, as configured. */
  url: string;
  /** Whether it answered with stats. */
  ok: boolean;
  /** Why not, when `ok` is false: "connection refused", "HTTP 503 no-bootstrap", ... */
  error?: string;
  /** Its rooms and members, when it answered. */
  rooms?: number;
  members?: number;
}

/** `GET /stats` over shards: the sums of the shards that answered, and each shard's status. */
export interface AggregatedStats extends BootstrapStats {
  /** True when at least one shard did not answer (its figures are missing from the sums). */
  partial: boolean;
  /** Every shard, in configured order. */
  shards: ShardStatus[];
}

const COUNTERS = [
  "rooms",
  "members",
  "datagramsIn",
  "datagramsOut",
  "bytesIn",
  "bytesOut",
] as const;

/** Checks and normalises the shard list: absolute http(s) URLs, no duplicates. */
export function resolveShardUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw new RangeError("shards: give at least one control-plane URL");
  const seen = new Set<string>();
  return urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RangeError(`shards: not a URL: ${JSON.stringify(text)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RangeError(`shards: ${JSON.stringify(text)} must be an http:// or https:// URL`);
    }
    const base = url.href.replace(/\/+$/, "");
    if (seen.has(base)) throw new RangeError(`shards: ${base} is listed twice`);
    seen.add(base);
    return base;
  });
}

function isStats(value: unknown): value is BootstrapStats {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return COUNTERS.every((k) => typeof v[k] === "number") && typeof v.startedAt === "number" &&
    typeof v.uptimeMs === "number" && typeof v.drops === "object" && v.drops !== null;
}

function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${SHARD_TIMEOUT_MS} ms`;
  }
  let text = error instanceof Error ? error.message : String(error);
  // fetch says "fetch failed"; the reason (e.g. ECONNREFUSED) is in its cause chain.
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/refused/i.test(e.message)) return "connection refused";
    if (e !== error) text = `${text}: ${e.message}`;
  }
  return text.split("\n")[0]!.slice(0, 200);
}

async function fetchShard(base: string): Promise<BootstrapStats | string> {
  try {
    const res = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(SHARD_TIMEOUT_MS) });
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const code = (body as { error?: unknown } | undefined)?.error;
      return `HTTP ${res.status}${typeof code === "string" ? ` ${code}` : ""}`;
    }
    return isStats(body) ? body : "the answer is not bootstrap stats";
  } catch (error) {
    return describe(error);
  }
}

/**
 * Asks every shard for its `/stats` (in parallel, each bounded by {@linkcode SHARD_TIMEOUT_MS})
 * and adds them up. `startedAt` is the earliest shard's, `uptimeMs` the longest.
 */
export async function aggregateShardStats(urls: readonly string[]): Promise<AggregatedStats> {
  const answers = await Promise.all(urls.map(fetchShard));
  const total: AggregatedStats = {
    startedAt: Infinity,
    uptimeMs: 0,
    rooms: 0,
    members: 0,
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: {},
    partial: false,
    shards: [],
  };
  answers.forEach((answer, i) => {
    const url = urls[i]!;
    if (typeof answer === "string") {
      total.partial = true;
      total.shards.push({ url, ok: false, error: answer });
      return;
    }
    for (const key of COUNTERS) total[key] += answer[key];
    total.startedAt = Math.min(total.startedAt, answer.startedAt);
    total.uptimeMs = Math.max(total.uptimeMs, answer.uptimeMs);
    for (const [reason, count] of Object.entries(answer.drops)) {
      if (typeof count === "number") total.drops[reason] = (total.drops[reason] ?? 0) + count;
    }
    total.shards.push({ url, ok: true, rooms: answer.rooms, members: answer.members });
  });
  if (total.startedAt === Infinity) total.startedAt = 0;
  return total;
}

/** The message of the 503 when no shard answered. */
export function noShardMessage(stats: AggregatedStats): string {
  return "no shard answered: " + stats.shards.map((s) => `${s.url} (${s.error})`).join(", ");
}

/** One shard's JSON answer to `path`, or why there is none (`{ status: 404 }` for not found). */
async function fetchJson(
  base: string,
  path: string,
): Promise<{ ok: true; body: unknown } | { ok: false; status?: number; error: string }> {
  try {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(SHARD_TIMEOUT_MS) });
    const body: unknown = await res.json().catch(() => undefined);
    if (res.ok) return { ok: true, body };
    const code = (body as { error?: unknown } | undefined)?.error;
    return {
      ok: false,
      status: res.status,
      error: `HTTP ${res.status}${typeof code === "string" ? ` ${code}` : ""}`,
    };
  } catch (error) {
    return { ok: false, error: describe(error) };
  }
}

/** Shards that did not answer, as in {@linkcode AggregatedStats}. */
export interface ShardFailure {
  url: string;
  error: string;
}

/**
 * `GET /rooms` over shards: the shards' lists one after the other (in configured order), paged
 * as one list. Shards are asked in turn, each for the part of the page it holds (a shard past the
 * page only for its total); a shard that does not answer is left out and named.
 */
export async function aggregateRooms(
  urls: readonly string[],
  page: { offset: number; limit: number },
): Promise<{ total: number; rooms: unknown[]; failed: ShardFailure[] }> {
  let base = 0; // rooms on the shards before this one
  const rooms: unknown[] = [];
  const failed: ShardFailure[] = [];
  for (const url of urls) {
    const offset = Math.max(0, page.offset - base);
    const limit = Math.max(1, page.limit - rooms.length);
    const answer = await fetchJson(url, `/rooms?offset=${offset}&limit=${limit}`);
    const body = answer.ok ? answer.body as { total?: unknown; rooms?: unknown } : undefined;
    if (!answer.ok || typeof body?.total !== "number" || !Array.isArray(body.rooms)) {
      failed.push({ url, error: answer.ok ? "the answer is not a room list" : answer.error });
      continue;
    }
    if (base + body.total > page.offset) {
      rooms.push(...body.rooms.slice(0, page.limit - rooms.length));
    }
    base += body.total;
  }
  return { total: base, rooms, failed };
}

/** `GET /rooms/:name` over shards: the first shard that has it, with its URL as `shard`. */
export async function findRoom(
  urls: readonly string[],
  name: string,
): Promise<{ room: Record<string, unknown> | undefined; failed: ShardFailure[] }> {
  const answers = await Promise.all(
    urls.map((url) => fetchJson(url, `/rooms/${encodeURIComponent(name)}`)),
  );
  const failed: ShardFailure[] = [];
  for (let i = 0; i < answers.length; i++) {
    const answer = answers[i]!;
    if (answer.ok) return { room: { ...answer.body as object, shard: urls[i]! }, failed };
    if (answer.status !== 404) failed.push({ url: urls[i]!, error: answer.error });
  }
  return { room: undefined, failed };
}

/**
 * Every limit of the control plane in one table, {@linkcode CONTROL_LIMITS}:
 * its command-line flag (also its config key and its `name` label in
 * `/metrics`), its default and what it bounds. Both CLIs (`@olaf/control` and
 * the bootstrap's `--http`) build their flags from it with
 * {@linkcode controlLimitOptions}.
 *
 * @module
 */
import type { ControlAppOptions } from "./app.ts";

/** How a limit's value is written on the command line or in a config file. */
export type LimitKind = "integer" | "duration";

/** One row of {@linkcode CONTROL_LIMITS}. */
export interface ControlLimit {
  /** Flag name without `--`; also the config key and the `/metrics` label. */
  readonly flag: string;
  /** Integer count, or a duration (`500ms`, `90s`, `10m`, `1h`, plain seconds). */
  readonly kind: LimitKind;
  /** The default, in the limit's unit (milliseconds for durations). */
  readonly default: number;
  /** Whether 0 is allowed, meaning "off". */
  readonly zeroIsOff: boolean;
  /** One line for `--help`. */
  readonly help: string;
}

/**
 * The control plane's limits. `/metrics` reports each configured value as
 * `olaf_control_limit{name="<flag>"}` and refusals as
 * `olaf_control_refused_total{limit="<flag>"}`.
 *
 * @example
 * ```ts
 * import { CONTROL_LIMITS } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const streams = CONTROL_LIMITS.find((limit) => limit.flag === "max-event-streams");
 * assert.equal(streams?.default, 256);
 * ```
 */
export const CONTROL_LIMITS: readonly ControlLimit[] = Object.freeze([
  // --- limit table (issue 12): flag, kind, default, 0 = off, help ---
  row(
    "rate-limit-capacity",
    "integer",
    60,
    true,
    "HTTP request burst per client; 0 = no rate limit",
  ),
  row(
    "rate-limit-refill",
    "integer",
    20,
    true,
    "HTTP requests/s per client; 0 = no rate limit",
  ),
  row("rate-limit-max-clients", "integer", 10_000, false, "clients the rate limit tracks at once"),
  row(
    "max-event-streams",
    "integer",
    256,
    false,
    "concurrent /events streams (503 beyond)",
  ),
  row(
    "sse-queue-limit",
    "integer",
    1_000,
    false,
    "events queued per /events stream",
  ),
  row("max-sessions", "integer", 10_000, false, "open rendezvous sessions in memory (503 beyond)"),
  row(
    "session-quota",
    "integer",
    16,
    false,
    "open sessions per client address (429 beyond)",
  ),
  row("session-ttl", "duration", 600_000, false, "session lifetime after the host's last call"),
  row("max-guests", "integer", 32, false, "guests per session (409 beyond)"),
  row("max-addresses", "integer", 16, false, "candidate addresses per peer (400 beyond)"),
  row("max-body-bytes", "integer", 16_384, false, "largest request body (413 beyond)"),
  row("body-timeout", "duration", 10_000, false, "time to receive a request body (408 beyond)"),
  // --- end of limit table ---
]);

function row(
  flag: string,
  kind: LimitKind,
  defaultValue: number,
  zeroIsOff: boolean,
  help: string,
): ControlLimit {
  return Object.freeze({ flag, kind, default: defaultValue, zeroIsOff, help });
}

/** The default of one limit of {@linkcode CONTROL_LIMITS}. */
export function limitDefault(flag: string): number {
  const limit = CONTROL_LIMITS.find((entry) => entry.flag === flag);
  if (!limit) throw new Error(`no control limit ${flag}`);
  return limit.default;
}

/**
 * Parses a limit written as text (a flag) or a JSON value (a config key).
 * Durations take `500ms`, `90s`, `10m`, `1h` or plain seconds.
 *
 * @example
 * ```ts
 * import { CONTROL_LIMITS, parseLimit } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const ttl = CONTROL_LIMITS.find((limit) => limit.flag === "session-ttl")!;
 * assert.equal(parseLimit(ttl, "90s"), 90_000);
 * assert.throws(() => parseLimit(ttl, "soon"), /--session-ttl/);
 * ```
 *
 * @param limit The row of {@linkcode CONTROL_LIMITS}.
 * @param value `"12"`, `12`, `"90s"`...
 * @returns The value in the limit's unit (milliseconds for durations).
 * @throws {RangeError} With a one-line message naming the flag.
 */
export function parseLimit(limit: ControlLimit, value: unknown): number {
  const min = limit.zeroIsOff ? 0 : 1;
  if (limit.kind === "duration") {
    const seconds = typeof value === "number" ? String(value) : value;
    const match = typeof seconds === "string"
      ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(seconds.trim())
      : null;
    if (!match) {
      throw new RangeError(`--${limit.flag}: not a duration: ${JSON.stringify(value)}`);
    }
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
    const ms = Number(match[1]) * unit;
    if (!(ms >= 1)) throw new RangeError(`--${limit.flag} must be at least 1ms`);
    return ms;
  }
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < min) {
    throw new RangeError(
      `--${limit.flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

/**
 * Options for `createControlApp`/`serveControl` from parsed limits (flag name
 * to value, as {@linkcode parseLimit} returns them); limits not given keep
 * their defaults. `max-sessions` sizes the default in-memory session store.
 *
 * @example
 * ```ts
 * import { controlLimitOptions } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const options = controlLimitOptions({ "max-event-streams": 10, "rate-limit-refill": 0 });
 * assert.equal(options.maxEventStreams, 10);
 * assert.equal(options.rateLimit, false);
 * ```
 *
 * @param values Parsed limits by flag name.
 * @returns The matching {@linkcode ControlAppOptions} fields.
 */
export function controlLimitOptions(values: Readonly<Record<string, number>>): ControlAppOptions {
  const get = (flag: string) => values[flag] ?? limitDefault(flag);
  const options: ControlAppOptions = {
    maxEventStreams: get("max-event-streams"),
    sseQueueLimit: get("sse-queue-limit"),
    sessionQuota: get("session-quota"),
    sessionTtlMs: get("session-ttl"),
    maxGuests: get("max-guests"),
    maxAddresses: get("max-addresses"),
    maxBodyBytes: get("max-body-bytes"),
    bodyTimeoutMs: get("body-timeout"),
    maxSessions: get("max-sessions"),
  };
  const capacity = get("rate-limit-capacity");
  const refillPerSecond = get("rate-limit-refill");
  options.rateLimit = capacity === 0 || refillPerSecond === 0
    ? false
    : { capacity, refillPerSecond, maxClients: get("rate-limit-max-clients") };
  return options;
}

/**
 * The `--help` lines of every control limit, one per flag, aligned at `column`.
 *
 * @example
 * ```ts
 * import { controlLimitHelp } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * assert.match(controlLimitHelp(), /--max-event-streams N/);
 * ```
 *
 * @param column Where the descriptions start.
 * @returns The lines, joined with newlines.
 */
export function controlLimitHelp(column = 26): string {
  return CONTROL_LIMITS.map((limit) => {
    const left = `  --${limit.flag} ${limit.kind === "duration" ? "DURATION" : "N"}`;
    const shown = limit.kind === "duration" ? formatDuration(limit.default) : limit.default;
    const pad = left.length < column - 1
      ? left.padEnd(column - 1)
      : `${left}\n${"".padEnd(column - 1)}`;
    return `${pad} ${limit.help} (default ${shown})`;
  }).join("\n");
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

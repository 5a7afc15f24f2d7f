// The `deno run -A control/mod.ts` command line: parse flags, configure
// logging (only here, never in library code), serve until SIGINT/SIGTERM.
import {
  configure,
  getConsoleSink,
  getLogger,
  getLogLevels,
  isLogLevel,
  type LogLevel,
} from "@logtape/logtape";
import {
  describeError,
  failure,
  integerFlag,
  listenForStop,
  parseFlags,
  stopStatus,
  UsageError,
  watchLauncher,
} from "@olaf/protocol/_cli";
import { KvSessionStore } from "./kv_session_store.ts";
import { serveControl } from "./serve.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { VERSION } from "./_state.ts";
import { resolveShardUrls } from "./_shards.ts"; // issue 15
import { CONTROL_LIMITS, controlLimitHelp, controlLimitOptions, parseLimit } from "./limits.ts";

const PROGRAM = "olaf-control";

const USAGE = `olaf control plane ${VERSION}: bootstrap stats and REST rendezvous over HTTP

Usage: deno run -A control/mod.ts [options]

Options:
  --host HOST             interface to listen on (default 0.0.0.0)
  --port PORT             TCP port, 0 for any free one (default 8080)
  --kv PATH               keep sessions in a Deno KV database file (default: in memory;
                          needs --unstable-kv outside this workspace)
  --operator-token TOKEN  token that may rename or delete any session
                          (default: $OLAF_OPERATOR_TOKEN, else none)
  --shards URL,...        add up the /stats and /metrics of these bootstrap shards'
                          control planes (e.g. http://127.0.0.1:8081,http://127.0.0.1:8082)
  --log-level LEVEL       trace, debug, info, warning, error or fatal (default info)
  --config FILE.json      read limits from a JSON file; keys are the limit flag names
                          (e.g. {"session-quota": 4, "session-ttl": "5m"}); flags win
  -h, --help              show this help and exit
  --version               print the version and exit

Limits (each also a --config key and olaf_control_limit{name} in /metrics;
durations: 90s, 10m, 1h, 500ms or plain seconds):
${controlLimitHelp(26)}

Exit status: 0 after SIGTERM, 130 after Ctrl-C, 1 when it cannot listen or open
the KV database, 2 for bad flags.

Without a bootstrap attached, /stats, /rooms and /events answer 503; run the
bootstrap with --http PORT to serve them with live data.`;

interface Config {
  hostname: string;
  port: number;
  kvPath?: string;
  operatorToken?: string;
  sessionTtlMs: number;
  logLevel: LogLevel;
  /** Issue 15: control planes of bootstrap shards to aggregate. */
  shards?: string[];
  /** Limits given by flag or config file, by flag name (CONTROL_LIMITS). */
  limits: Record<string, number>;
}

/** Parses a duration: `500ms`, `90s`, `10m`, `1h`, or plain seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--session-ttl: not a duration: ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  const ms = Number(match[1]) * unit;
  if (!(ms >= 1)) throw new UsageError("--session-ttl must be at least 1ms");
  return ms;
}

/** Issue 12: one string option per limit flag (session-ttl is declared above). */
const LIMIT_OPTIONS = Object.fromEntries(
  CONTROL_LIMITS.filter((limit) => limit.flag !== "session-ttl")
    .map((limit) => [limit.flag, { type: "string" as const }]),
);

/** The flags (other packages' helpers add theirs here). */
const FLAGS = {
  host: { type: "string" },
  port: { type: "string" },
  kv: { type: "string" },
  "operator-token": { type: "string" },
  "session-ttl": { type: "string" },
  "log-level": { type: "string" },
  shards: { type: "string" }, // issue 15
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  // --- issue 12: one flag per limit ---
  config: { type: "string" },
  ...LIMIT_OPTIONS,
} as const;

/** Turns the arguments into a config, or a usage request. */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined,
): Config | "help" | "version" {
  const { values } = parseFlags(args, { options: FLAGS });
  if (values.help) return "help";
  if (values.version) return "version";
  const port = integerFlag("port", values.port ?? "8080", 0, 65535)!;
  const logLevel = values["log-level"] ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new UsageError(`--log-level must be one of ${getLogLevels().join(", ")}`);
  }
  if (values.kv === "") throw new UsageError("--kv needs a file path");
  const hostname = values.host ?? "0.0.0.0";
  if (hostname === "") throw new UsageError("--host must not be empty");
  // --- issue 12: limits from the config file, then flags ---
  const raw: Record<string, unknown> = {};
  if (values.config !== undefined) Object.assign(raw, readLimitsFile(String(values.config)));
  for (const limit of CONTROL_LIMITS) {
    const value = (values as Record<string, unknown>)[limit.flag];
    if (value !== undefined) raw[limit.flag] = value;
  }
  const limits: Record<string, number> = {};
  for (const limit of CONTROL_LIMITS) {
    if (raw[limit.flag] === undefined || limit.flag === "session-ttl") continue;
    try {
      limits[limit.flag] = parseLimit(limit, raw[limit.flag]);
    } catch (error) {
      throw new UsageError(describeError(error));
    }
  }
  const ttl = raw["session-ttl"];
  if (ttl !== undefined && typeof ttl !== "string" && typeof ttl !== "number") {
    throw new UsageError(`--session-ttl: not a duration: ${JSON.stringify(ttl)}`);
  }
  // --- end issue 12 ---
  return {
    hostname,
    port,
    kvPath: values.kv,
    operatorToken: values["operator-token"] || env("OLAF_OPERATOR_TOKEN") || undefined,
    sessionTtlMs: parseDuration(ttl === undefined ? "10m" : String(ttl)),
    logLevel,
    limits,
    ...(values.shards === undefined ? {} : { shards: shardList(values.shards) }), // issue 15
  };
}

/** Issue 15: `--shards URL,...`, checked like createControlApp checks it. */
function shardList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const urls = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  try {
    return resolveShardUrls(urls);
  } catch (error) {
    throw new UsageError(`--${describeError(error)}`);
  }
}

/** The limits of a `--config` file: a JSON object whose keys are limit flag names. */
function readLimitsFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new UsageError(`--config ${path}: ${describeError(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config ${path}: must hold a JSON object`);
  }
  const known = CONTROL_LIMITS.map((limit) => limit.flag);
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) {
      throw new UsageError(`--config ${path}: unknown key "${key}" (known: ${known.join(", ")})`);
    }
  }
  return parsed as Record<string, unknown>;
}

/** Prints the one error line (and the usage hint for usage errors); returns the exit status. */
function fail(error: unknown, context?: string): number {
  const { lines, status } = failure(PROGRAM, error, context);
  for (const line of lines) console.error(line);
  return status;
}

/** Runs the command line; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let config: Config | "help" | "version";
  try {
    config = parseConfig(args, (name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return fail(error);
  }
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  if (config === "version") {
    console.log(`${PROGRAM} ${VERSION}`);
    return 0;
  }
  // Deno KV is unstable: without the flag Deno.openKv is missing and the error would only say
  // "Deno.openKv is not a function".
  if (config.kvPath && typeof Deno.openKv !== "function") {
    return fail(
      new Error(
        `--kv needs Deno KV, which is behind a flag: run deno with --unstable-kv ` +
          `(deno run -A --unstable-kv ...)`,
      ),
    );
  }
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["olaf"], lowestLevel: config.logLevel, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  const logger = getLogger(["olaf", "control"]);

  let store: SessionStore;
  try {
    store = config.kvPath
      ? await KvSessionStore.open(config.kvPath)
      : new MemorySessionStore({ maxSessions: config.limits["max-sessions"] });
  } catch (error) {
    return fail(error, `cannot open KV database ${config.kvPath}`);
  }

  let server;
  try {
    server = await serveControl({
      hostname: config.hostname,
      port: config.port,
      store,
      operatorToken: config.operatorToken,
      shards: config.shards, // issue 15
      ...controlLimitOptions(config.limits),
      maxSessions: config.kvPath ? undefined : config.limits["max-sessions"],
      sessionTtlMs: config.sessionTtlMs,
    });
  } catch (error) {
    await store.close();
    return fail(error, `cannot listen on ${hostPort(config.hostname, config.port)}`);
  }
  // One start-up line, pre-formatted: logtape would quote every string property. It names the
  // address really bound (0.0.0.0 is every interface), not the loopback URL used to reach it.
  const storage = config.kvPath ? `kv ${config.kvPath}` : "memory";
  const operator = config.operatorToken ? "on" : "off";
  const bound = hostPort(server.addr.hostname, server.addr.port);
  const wildcard = server.addr.hostname === "0.0.0.0" || server.addr.hostname === "::";
  logger.info(
    `olaf control ${VERSION} listening on http://${bound}/` +
      (wildcard ? ` (all interfaces; locally ${server.url.href})` : "") +
      ` (sessions: ${storage}, operator token: ${operator})` +
      (config.shards ? ` aggregating ${config.shards.length} shards` : ""),
  );

  using stop = listenForStop(Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"]);
  stop.signal.addEventListener("abort", () => void server.shutdown(), { once: true });
  using _launcher = watchLauncher(() => void server.shutdown());
  await server.finished;
  await server.shutdown();
  await store.close();
  logger.info("olaf control stopped");
  return stopStatus(stop.received);
}

function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

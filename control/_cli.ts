// The `deno run -A control/mod.ts` command line: parse flags, configure
// logging (only here, never in library code), serve until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import {
  configure,
  getConsoleSink,
  getLogger,
  getLogLevels,
  isLogLevel,
  type LogLevel,
} from "@logtape/logtape";
import { KvSessionStore } from "./kv_session_store.ts";
import { serveControl } from "./serve.ts";
import { MemorySessionStore, type SessionStore } from "./session_store.ts";
import { VERSION } from "./_state.ts";
import { CONTROL_LIMITS, controlLimitHelp, controlLimitOptions, parseLimit } from "./limits.ts";

const USAGE = `olaf control plane ${VERSION}: bootstrap stats and REST rendezvous over HTTP

Usage: deno run -A control/mod.ts [options]

Options:
  --host HOST             interface to listen on (default 0.0.0.0)
  --port PORT             TCP port, 0 for any free one (default 8080)
  --kv PATH               keep sessions in a Deno KV database file (default: in memory)
  --operator-token TOKEN  token that may rename or delete any session
                          (default: $OLAF_OPERATOR_TOKEN, else none)
  --log-level LEVEL       trace, debug, info, warning, error or fatal (default info)
  --config FILE.json      read limits from a JSON file; keys are the limit flag names
                          (e.g. {"session-quota": 4, "session-ttl": "5m"}); flags win
  -h, --help              show this help and exit

Limits (each also a --config key and olaf_control_limit{name} in /metrics;
durations: 90s, 10m, 1h, 500ms or plain seconds):
${controlLimitHelp(26)}

Without a bootstrap attached, /stats, /rooms and /events answer 503; run the
bootstrap with --http PORT to serve them with live data.`;

class ConfigError extends Error {}

interface Config {
  hostname: string;
  port: number;
  kvPath?: string;
  operatorToken?: string;
  sessionTtlMs: number;
  logLevel: LogLevel;
  /** Limits given by flag or config file, by flag name (CONTROL_LIMITS). */
  limits: Record<string, number>;
}

/** Parses a duration: `500ms`, `90s`, `10m`, `1h`, or plain seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new ConfigError(`--session-ttl: not a duration: ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  const ms = Number(match[1]) * unit;
  if (!(ms >= 1)) throw new ConfigError("--session-ttl must be at least 1ms");
  return ms;
}

/** Turns the arguments into a config, or a usage request. */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined,
): Config | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        kv: { type: "string" },
        "operator-token": { type: "string" },
        "session-ttl": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
        // --- issue 12: one flag per limit ---
        config: { type: "string" },
        ...Object.fromEntries(
          CONTROL_LIMITS.filter((limit) => limit.flag !== "session-ttl")
            .map((limit) => [limit.flag, { type: "string" as const }]),
        ),
      },
    }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return "help";
  const portText = values.port ?? "8080";
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError(`--port must be an integer in 0..65535, got ${JSON.stringify(portText)}`);
  }
  const logLevel = values["log-level"] ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${getLogLevels().join(", ")}`);
  }
  if (values.kv === "") throw new ConfigError("--kv needs a file path");
  const hostname = values.host ?? "0.0.0.0";
  if (hostname === "") throw new ConfigError("--host must not be empty");
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
      throw new ConfigError(message(error));
    }
  }
  const ttl = raw["session-ttl"];
  if (ttl !== undefined && typeof ttl !== "string" && typeof ttl !== "number") {
    throw new ConfigError(`--session-ttl: not a duration: ${JSON.stringify(ttl)}`);
  }
  // --- end issue 12 ---
  return {
    hostname,
    port: Number(portText),
    kvPath: values.kv,
    operatorToken: values["operator-token"] || env("OLAF_OPERATOR_TOKEN") || undefined,
    sessionTtlMs: parseDuration(ttl === undefined ? "10m" : String(ttl)),
    logLevel,
    limits,
  };
}

/** The limits of a `--config` file: a JSON object whose keys are limit flag names. */
function readLimitsFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new ConfigError(`--config ${path}: ${message(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--config ${path}: must hold a JSON object`);
  }
  const known = CONTROL_LIMITS.map((limit) => limit.flag);
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) {
      throw new ConfigError(`--config ${path}: unknown key "${key}" (known: ${known.join(", ")})`);
    }
  }
  return parsed as Record<string, unknown>;
}

/** Runs the command line; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let config: Config | "help";
  try {
    config = parseConfig(args, (name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`olaf-control: ${error.message} (see --help)`);
    return 2;
  }
  if (config === "help") {
    console.log(USAGE);
    return 0;
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
    console.error(`olaf-control: cannot open KV database ${config.kvPath}: ${message(error)}`);
    return 1;
  }

  let server;
  try {
    server = await serveControl({
      hostname: config.hostname,
      port: config.port,
      store,
      operatorToken: config.operatorToken,
      ...controlLimitOptions(config.limits),
      maxSessions: config.kvPath ? undefined : config.limits["max-sessions"],
      sessionTtlMs: config.sessionTtlMs,
    });
  } catch (error) {
    await store.close();
    console.error(
      `olaf-control: cannot listen on ${config.hostname}:${config.port}: ${message(error)}`,
    );
    return 1;
  }
  // One start-up line, pre-formatted: logtape would quote every string property.
  const storage = config.kvPath ? `kv ${config.kvPath}` : "memory";
  const operator = config.operatorToken ? "on" : "off";
  logger.info(
    `olaf control ${VERSION} listening on ${server.url.href} ` +
      `(sessions: ${storage}, operator token: ${operator})`,
  );

  const stop = () => void server.shutdown();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  await server.shutdown();
  await store.close();
  logger.info("olaf control stopped");
  return 0;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The `olaf-bootstrap` command line: `deno run -A bootstrap/mod.ts [flags]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  configure,
  getConsoleSink,
  getLogger,
  getLogLevels,
  isLogLevel,
  type LogLevel,
  reset,
} from "@logtape/logtape";
import { type ControlServer, serveControl } from "@olaf/control";
import { DEFAULT_LIMITS } from "./limits.ts";
import {
  type BootstrapOptions,
  type BootstrapServer,
  DEFAULT_BOOTSTRAP_PORT,
  startBootstrap,
} from "./server.ts";

const logger = getLogger(["olaf", "bootstrap"]);

/** The CLI's help text. */
const HELP: string = `olaf-bootstrap: the Olaf UDP bootstrap server (wire-compatible with v1 peers)

Usage:
  deno run -A jsr:@olaf/bootstrap [flags]
  deno run -A bootstrap/mod.ts [flags]

Flags:
  --host ADDR          address to listen on (default 0.0.0.0)
  --port N             UDP port (default 5000)
  --timeout SECONDS    room inactivity timeout; also the member timeout (default 15)
  --max-rooms N        concurrent rooms; past it JOIN_B gets ROOM_FULL (default 10)
  --max-members N      members per room, 1..65535 (default ${DEFAULT_LIMITS.maxMembersPerRoom})
  --http PORT          also serve the HTTP control plane (stats, rooms, events) on PORT
  --config FILE.json   read settings from a JSON file; keys are the flag names
                       ("host", "port", "timeout", "max-rooms", "max-members", "http",
                       "log-level"); flags given on the command line win
  --log-level LEVEL    trace, debug, info, warning, error or fatal (default info)
  -h, --help           show this help

Examples:
  deno run -A jsr:@olaf/bootstrap
  deno run -A jsr:@olaf/bootstrap --port 6000 --max-rooms 1000 --http 8080
  deno run -A bootstrap/mod.ts --config bootstrap.json --log-level debug

Stop it with Ctrl-C (SIGINT) or SIGTERM.
`;

/** Settings the CLI understands, as read from flags or a config file. */
interface Settings {
  host: string;
  port: number;
  timeout: number;
  "max-rooms": number;
  "max-members": number;
  http: number | undefined;
  "log-level": LogLevel;
}

const SETTING_KEYS = [
  "host",
  "port",
  "timeout",
  "max-rooms",
  "max-members",
  "http",
  "log-level",
] as const;

/** A problem with the flags or the config file: one line for the user, no stack trace. */
class UsageError extends Error {}

/** Options of {@linkcode main}, for tests and embedding. */
export interface MainOptions {
  /** Stops the server when aborted, as SIGINT/SIGTERM do. */
  signal?: AbortSignal;
  /** Called once the server listens (after the start-up line). */
  onListening?: (server: BootstrapServer, control: ControlServer | undefined) => void;
  /** Listen for SIGINT and SIGTERM. Default `true`. */
  handleSignals?: boolean;
}

/**
 * Runs the bootstrap CLI until SIGINT, SIGTERM or `options.signal`.
 *
 * @param args Command-line arguments (without the program name).
 * @param options Signal and hooks, for tests and embedding.
 * @returns The process exit code: 0 after a clean stop, 1 when the server
 *   cannot start, 2 for bad flags or configuration.
 *
 * @example Print the help
 * ```ts
 * import { main } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 *
 * const log = console.log;
 * let printed = "";
 * console.log = (text: string) => printed += text;
 * try {
 *   assert.equal(await main(["--help"]), 0);
 * } finally {
 *   console.log = log;
 * }
 * assert.match(printed, /--max-rooms/);
 * ```
 */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  let settings: Settings;
  try {
    const parsed = parseFlags(args);
    if (parsed === "help") {
      console.log(HELP);
      return 0;
    }
    settings = parsed;
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    console.error("Run with --help for usage.");
    return 2;
  }

  await configure({
    reset: true,
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["olaf"], lowestLevel: settings["log-level"], sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  try {
    return await run(settings, options);
  } finally {
    await reset();
  }
}

async function run(settings: Settings, options: MainOptions): Promise<number> {
  const bootstrapOptions: BootstrapOptions = {
    hostname: settings.host,
    port: settings.port,
    roomTimeoutMs: settings.timeout * 1000,
    maxRooms: settings["max-rooms"],
    maxMembersPerRoom: settings["max-members"],
  };
  let server: BootstrapServer;
  try {
    server = await startBootstrap(bootstrapOptions);
  } catch (error) {
    console.error(
      `error: cannot listen on UDP ${formatHostPort(settings.host, settings.port)}: ${
        errorMessage(error)
      }`,
    );
    return 1;
  }
  let control: ControlServer | undefined;
  if (settings.http !== undefined) {
    try {
      control = await serveControl({
        bootstrap: server,
        hostname: settings.host,
        port: settings.http,
      });
    } catch (error) {
      await server.close();
      console.error(
        `error: cannot listen on HTTP ${formatHostPort(settings.host, settings.http)}: ${
          errorMessage(error)
        }`,
      );
      return 1;
    }
  }

  // Listen for signals before announcing readiness, so a signal right after the line stops cleanly.
  const stopped = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stopped.resolve(name);
  const signals: [Deno.Signal, () => void][] = [];
  if (options.handleSignals ?? true) {
    for (const name of ["SIGINT", "SIGTERM"] as const) {
      const handler = onSignal(name);
      try {
        Deno.addSignalListener(name, handler);
        signals.push([name, handler]);
      } catch {
        // SIGTERM is not available on Windows; Ctrl-C still works.
      }
    }
  }
  const onAbort = () => stopped.resolve("abort");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const udp = formatHostPort(server.localAddress.hostname, server.localAddress.port);
  const limits = server.limits;
  console.log(
    `olaf bootstrap listening on udp://${udp}` +
      (control
        ? ` (control plane http://${formatHostPort(control.addr.hostname, control.addr.port)}/)`
        : "") +
      ` rooms<=${limits.maxRooms} members<=${limits.maxMembersPerRoom} timeout=${
        limits.roomTimeoutMs / 1000
      }s`,
  );
  options.onListening?.(server, control);

  const reason = await stopped.promise;
  logger.info("stopping on {reason}", { reason });
  for (const [name, handler] of signals) Deno.removeSignalListener(name, handler);
  options.signal?.removeEventListener("abort", onAbort);
  await control?.shutdown();
  await server.close();
  const stats = server.stats();
  logger.info("stopped after {seconds} s: {datagramsIn} datagrams in, {datagramsOut} out", {
    seconds: Math.round(stats.uptimeMs / 1000),
    datagramsIn: stats.datagramsIn,
    datagramsOut: stats.datagramsOut,
  });
  return 0;
}

function parseFlags(args: string[]): Settings | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        timeout: { type: "string" },
        "max-rooms": { type: "string" },
        "max-members": { type: "string" },
        http: { type: "string" },
        config: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    // node:util's messages run over several lines and sentences; keep the first sentence.
    const first = errorMessage(error).split("\n")[0]!.split(". ")[0]!;
    throw new UsageError(first.replace(/\.$/, ""));
  }
  if (values.help) return "help";

  const merged: Record<string, unknown> = {};
  if (values.config !== undefined) Object.assign(merged, readConfig(values.config));
  for (const key of SETTING_KEYS) {
    if (values[key] !== undefined) merged[key] = values[key];
  }
  return {
    host: text(merged, "host") ?? "0.0.0.0",
    port: integer(merged, "port", 0, 65535) ?? DEFAULT_BOOTSTRAP_PORT,
    timeout: seconds(merged, "timeout") ?? DEFAULT_LIMITS.roomTimeoutMs / 1000,
    "max-rooms": integer(merged, "max-rooms", 1, Number.MAX_SAFE_INTEGER) ??
      DEFAULT_LIMITS.maxRooms,
    "max-members": integer(merged, "max-members", 1, 65535) ?? DEFAULT_LIMITS.maxMembersPerRoom,
    http: integer(merged, "http", 0, 65535),
    "log-level": logLevel(merged) ?? "info",
  };
}

function readConfig(path: string): Record<string, unknown> {
  let source: string;
  try {
    source = Deno.readTextFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${errorMessage(error)}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(source);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${errorMessage(error)}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new UsageError(`config file ${path} must hold a JSON object`);
  }
  for (const key of Object.keys(config)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(
        `config file ${path}: unknown key "${key}" (known: ${SETTING_KEYS.join(", ")})`,
      );
    }
  }
  return config as Record<string, unknown>;
}

function text(values: Record<string, unknown>, key: string): string | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`--${key} must be a non-empty string`);
  }
  return value;
}

function integer(
  values: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) {
    throw new UsageError(`--${key} must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return number;
}

function seconds(values: Record<string, unknown>, key: string): number | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !(number > 0) || !Number.isFinite(number)) {
    throw new UsageError(`--${key} must be a positive number of seconds, got ${show(value)}`);
  }
  return number;
}

function logLevel(values: Record<string, unknown>): LogLevel | undefined {
  const value = values["log-level"];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !isLogLevel(value)) {
    throw new UsageError(
      `--log-level must be one of ${getLogLevels().join(", ")}, got ${show(value)}`,
    );
  }
  return value;
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

function errorMessage(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Error) {
    if ((error as { code?: string }).code === "EADDRINUSE") return "address already in use";
    return error.message;
  }
  return String(error);
}

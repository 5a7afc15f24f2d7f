/**
 * The `olaf-bootstrap` command line: `deno run -A bootstrap/mod.ts [flags]`.
 *
 * @module
 */
import {
  configure,
  getConsoleSink,
  getLogger,
  getLogLevels,
  isLogLevel,
  type LogLevel,
  reset,
} from "@logtape/logtape";
import {
  CONTROL_LIMITS,
  controlLimitHelp,
  controlLimitOptions,
  type ControlServer,
  parseLimit,
  serveControl,
} from "@olaf/control";
import {
  describeError,
  failure,
  integerFlag,
  listenForStop,
  parseFlags as parseCliFlags,
  secondsFlag,
  stopStatus,
  UsageError,
  watchLauncher,
} from "@olaf/protocol/_cli";
import { type BootstrapLimits, DEFAULT_LIMITS } from "./limits.ts";
import {
  type BootstrapOptions,
  type BootstrapServer,
  DEFAULT_BOOTSTRAP_PORT,
  startBootstrap,
} from "./server.ts";
import { ActivityLog } from "./_activity_log.ts";
import { bindBootstrapDatagram } from "./_udp.ts"; // issue 15
import { checkShardPorts, MAX_SHARDS, runShards, watchShardParent } from "./_shards.ts"; // issue 15
// --- handshake dialect (issue 14) ---
import { DEFAULT_STUN_PORT, type HandshakeServerOptions } from "./handshake/server.ts";
// --- end handshake dialect ---
import type { NatServiceOptions } from "./_nat_service.ts"; // issue 11

const logger = getLogger(["olaf", "bootstrap"]);

// --- issue 12: one flag (= config key) per BootstrapLimits field ---
// kind "rate": a number >= 0, 0 = off (Infinity); "integer": >= 1; "seconds": > 0.
type LimitFlag = readonly [
  flag: string,
  field: keyof BootstrapLimits,
  kind: "rate" | "integer" | "seconds",
  help: string,
];
const LIMIT_FLAGS: readonly LimitFlag[] = [
  [
    "requests-per-second",
    "requestsPerSecond",
    "rate",
    "requests/s per source IPv4 address; 0 = off",
  ],
  ["request-burst", "requestBurst", "rate", "request burst per source address; 0 = off"],
  ["reply-bytes-per-second", "replyBytesPerSecond", "rate", "reply bytes/s per address; 0 = off"],
  ["reply-bytes-burst", "replyBytesBurst", "rate", "reply-byte burst per address; 0 = off"],
  ["max-tracked-sources", "maxTrackedSources", "integer", "source addresses the rate limit tracks"],
  ["max-room-name-bytes", "maxRoomNameBytes", "integer", "longest room name in UTF-8 bytes"],
  ["max-datagram-bytes", "maxDatagramBytes", "integer", "longest datagram accepted"],
  ["reply-budget", "replyBudgetBytes", "integer", "largest reply in bytes"],
  [
    "member-timeout",
    "memberTimeoutMs",
    "seconds",
    "member timeout in seconds (default: --timeout)",
  ],
  // hostile v1 input (README "Hostile input")
  [
    "amplification-factor",
    "amplificationFactor",
    "rate",
    "largest reply to an unvalidated address, x its request; 0 = off",
  ],
  [
    "unvalidated-bytes-per-second",
    "unvalidatedBytesPerSecond",
    "rate",
    "reply bytes/s to all unvalidated addresses together; 0 = off",
  ],
  ["unvalidated-bytes-burst", "unvalidatedBytesBurst", "rate", "burst of that budget; 0 = off"],
  ["validation-ttl", "validationTtlMs", "seconds", "an address stays validated this long (60)"],
  ["max-validated-addresses", "maxValidatedAddresses", "integer", "validated addresses kept"],
  ["rooms-per-source", "roomsPerSource", "rate", "rooms one source IPv4 may create; 0 = off"],
  [
    "report-grace",
    "reportGraceMs",
    "seconds",
    "a report cannot remove a member heard from this recently (6)",
  ],
  [
    "solo-room-evict",
    "soloRoomEvictMs",
    "seconds",
    "at the room limit, a creator-only room this old makes way (10)",
  ],
];

function limitFlagHelp(): string {
  return LIMIT_FLAGS.map(([flag, field, kind, help]) => {
    const left = `  --${flag} ${kind === "seconds" ? "SECONDS" : "N"}`;
    const pad = left.length < 22 ? left.padEnd(22) : `${left}\n${"".padEnd(22)}`;
    const value = DEFAULT_LIMITS[field];
    return `${pad} ${help}` + (kind === "seconds" ? "" : ` (default ${value})`);
  }).join("\n");
}
// --- end issue 12 ---

/** The program name in error lines and `--version`. */
const PROGRAM = "olaf-bootstrap";

/**
 * Version of `@olaf/bootstrap` (what `--version` prints).
 *
 * @example
 * ```ts
 * import { VERSION } from "@olaf/bootstrap";
 * import assert from "node:assert/strict";
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION = "0.1.0";

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
  --shards N           run N bootstrap processes on ports PORT..PORT+N-1 (their control
                       planes on HTTP+1..HTTP+N, and on HTTP one adding up their /stats);
                       give peers every shard: rooms spread by the peers' rendezvous hash
  --config FILE.json   read settings from a JSON file; keys are the flag names
                       ("host", "port", "timeout", "max-rooms", "max-members", "http",
                       "log-level", and every limit below); flags given on the command line win
  --log-level LEVEL    trace, debug, info, warning, error or fatal (default info)
NAT traversal (issue 11; NAT_CHECK is always answered on the bootstrap port):
  --nat-check-port N   answer NAT_CHECK on this second UDP port too, so peers learn whether
                       their NAT mapping is endpoint-independent (default: none)
JSON handshake dialect (the handshake-server seed's protocol; off unless one of these is given):
  --handshake          serve it on the bootstrap's UDP port (datagrams starting with '{')
  --handshake-port N   serve it on a UDP port of its own
  -a, --address H:P    serve it on HOST:PORT (the seed's listen_address)
  -m, --max-connections N  most handshaken nodes (default 100)
  --network-id ID      the only network_id accepted (default: any, each its own network)
  --relay              forward RelayRequest between nodes of one network (default off);
                       also relays Olaf peers whose hole punching failed (RELAYED, issue 11)
  --STUN               answer STUN Binding requests on --stun-port (default 3478);
                       --stun-port N alone turns it on too
  --TRACE, --DEBUG, --INFO, --WARN, --ERROR   the seed's log flags (= --log-level)
  -c FILE.json         same as --config; it may hold the seed's keys too: listen_address,
                       max_connections, heartbeat_interval, connection_timeout, network_id,
                       peerlist_broadcast_debounce_ms, stun_server {enable, port},
                       allow_symmetric_nat_relay
  -h, --help           show this help
  --version            print the version

Exit status: 0 after SIGTERM, 130 after Ctrl-C (SIGINT), 1 when it cannot
listen, 2 for bad flags or configuration.

Limits (each also a config key, and olaf_bootstrap_limit in /metrics with --http):
${limitFlagHelp()}

Control-plane limits, with --http (olaf_control_limit in /metrics):
${controlLimitHelp(23)}

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
  shards: number; // issue 15: processes to run, 1 = just this one
  "log-level": LogLevel;
  handshake: HandshakeServerOptions | undefined; // handshake dialect (issue 14)
  nat: NatServiceOptions; // issue 11
  /** Issue 12: BootstrapLimits from the limit flags. */
  limits: BootstrapLimits;
  /** Issue 12: control-plane limits by flag name (CONTROL_LIMITS), for --http. */
  control: Record<string, number>;
}

const SETTING_KEYS = [
  "host",
  "port",
  "timeout",
  "max-rooms",
  "max-members",
  "http",
  "log-level",
  "shards", // issue 15
] as const;

/** Every key a config file may hold: the settings above plus the limit flags (issue 12). */
const CONFIG_KEYS: readonly string[] = [
  ...SETTING_KEYS,
  ...LIMIT_FLAGS.map(([flag]) => flag),
  ...CONTROL_LIMITS.map((limit) => limit.flag),
  "nat-check-port", // issue 11
];

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
 * @returns The process exit code: 0 after a clean stop, 130 after SIGINT, 1 when
 *   the server cannot start, 2 for bad flags or configuration.
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
    if (parsed === "version") {
      console.log(`${PROGRAM} ${VERSION}`);
      return 0;
    }
    settings = parsed;
  } catch (error) {
    return fail(error);
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
    // Issue 15: --shards N > 1 makes this process the parent of N bootstrap processes.
    if (settings.shards > 1) return await runShards(args, settings, options);
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
    handshake: settings.handshake, // handshake dialect (issue 14)
    nat: settings.nat, // issue 11
    ...settings.limits, // issue 12
  };
  let server: BootstrapServer;
  const activity = new ActivityLog(); // rooms, refusals, limits at info; datagrams at debug
  try {
    server = await startBootstrap({
      ...bootstrapOptions,
      bind: activity.binder(bindBootstrapDatagram), // issue 15: the direct send
    });
  } catch (error) {
    return fail(error, `cannot listen on UDP ${formatHostPort(settings.host, settings.port)}`);
  }
  let control: ControlServer | undefined;
  if (settings.http !== undefined) {
    try {
      control = await serveControl({
        bootstrap: server,
        handshake: server.handshake, // handshake dialect (issue 14)
        hostname: settings.host,
        port: settings.http,
        ...controlLimitOptions(settings.control), // issue 12
      });
    } catch (error) {
      await server.close();
      return fail(error, `cannot listen on HTTP ${formatHostPort(settings.host, settings.http)}`);
    }
  }

  activity.start(server);
  // Listen for signals before announcing readiness, so a signal right after the line stops cleanly.
  const stopped = Promise.withResolvers<string>();
  using stop = (options.handleSignals ?? true) ? listenForStop() : undefined;
  stop?.signal.addEventListener("abort", () => stopped.resolve(stop?.received ?? "signal"), {
    once: true,
  });
  // `npx deno task start`: a SIGTERM to npx does not get through its `sh -c` (see watchLauncher).
  using _launcher = (options.handleSignals ?? true)
    ? watchLauncher(() => stopped.resolve("launcher exit"))
    : undefined;
  using _parent = watchShardParent(() => stopped.resolve("shard parent exit")); // issue 15
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
  if (server.handshake) console.log(describeHandshake(server)); // handshake dialect (issue 14)
  if (settings.nat.relay || server.natCheckAddress) { // issue 11
    const check = server.natCheckAddress;
    console.log(
      `olaf NAT services: relay=${settings.nat.relay ? "on" : "off"} nat-check=${
        check ? `udp://${formatHostPort(check.hostname, check.port)}` : "bootstrap port only"
      }`,
    );
  }
  options.onListening?.(server, control);

  const reason = await stopped.promise;
  logger.info("stopping on {reason}", { reason });
  options.signal?.removeEventListener("abort", onAbort);
  await control?.shutdown();
  activity.stop(); // logs the last partial summary
  await server.close();
  const stats = server.stats();
  logger.info("stopped after {seconds} s: {datagramsIn} datagrams in, {datagramsOut} out", {
    seconds: Math.round(stats.uptimeMs / 1000),
    datagramsIn: stats.datagramsIn,
    datagramsOut: stats.datagramsOut,
  });
  return stopStatus(reason);
}

/** Prints the one error line (and the usage hint for usage errors); returns the exit status. */
function fail(error: unknown, context?: string): number {
  const { lines, status } = failure(PROGRAM, error, context);
  for (const line of lines) console.error(line);
  return status;
}

/** The handshake dialect's flags (issue 14): the seed's names. */
const HANDSHAKE_FLAGS = {
  handshake: { type: "boolean" },
  "handshake-port": { type: "string" },
  address: { type: "string", short: "a" },
  "max-connections": { type: "string", short: "m" },
  "network-id": { type: "string" },
  relay: { type: "boolean" },
  STUN: { type: "boolean" },
  "stun-port": { type: "string" },
  TRACE: { type: "boolean" },
  DEBUG: { type: "boolean" },
  INFO: { type: "boolean" },
  WARN: { type: "boolean" },
  ERROR: { type: "boolean" },
} as const;

/** Issue 12: one string option per limit flag (bootstrap and control-plane limits). */
const LIMIT_OPTIONS = Object.fromEntries(
  [...LIMIT_FLAGS.map(([flag]) => flag), ...CONTROL_LIMITS.map((limit) => limit.flag)]
    .map((flag) => [flag, { type: "string" as const }]),
);

/** The flags; each setting also has a config-file key of the same name. */
const FLAGS = {
  host: { type: "string" },
  port: { type: "string" },
  timeout: { type: "string" },
  "max-rooms": { type: "string" },
  "max-members": { type: "string" },
  http: { type: "string" },
  shards: { type: "string" }, // issue 15
  config: { type: "string", short: "c" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  ...HANDSHAKE_FLAGS, // handshake dialect (issue 14)
  "nat-check-port": { type: "string" }, // issue 11
  ...LIMIT_OPTIONS, // issue 12: the limit flags
} as const;

function parseFlags(args: string[]): Settings | "help" | "version" {
  const { values } = parseCliFlags(args, { options: FLAGS });
  if (values.help) return "help";
  if (values.version) return "version";

  const merged: Record<string, unknown> = {};
  if (values.config !== undefined) Object.assign(merged, readConfig(values.config));
  for (const key of CONFIG_KEYS) {
    const value = (values as Record<string, unknown>)[key];
    if (value !== undefined) merged[key] = value;
  }
  const host = text(merged, "host") ?? "0.0.0.0";
  const port = integerFlag("port", merged.port, 0, 65535) ?? DEFAULT_BOOTSTRAP_PORT;
  const settings: Settings = {
    host,
    port,
    timeout: secondsFlag("timeout", merged.timeout) ?? DEFAULT_LIMITS.roomTimeoutMs / 1000,
    "max-rooms": integerFlag("max-rooms", merged["max-rooms"], 1, Number.MAX_SAFE_INTEGER) ??
      DEFAULT_LIMITS.maxRooms,
    "max-members": integerFlag("max-members", merged["max-members"], 1, 65535) ??
      DEFAULT_LIMITS.maxMembersPerRoom,
    http: integerFlag("http", merged.http, 0, 65535),
    shards: integerFlag("shards", merged.shards, 1, MAX_SHARDS) ?? 1, // issue 15
    "log-level": seedLogLevel(values) ?? logLevel(merged) ?? "info",
    handshake: handshakeSettings(values, merged, host, port), // handshake dialect (issue 14)
    nat: { // issue 11
      relay: values.relay === true,
      checkPort: integerFlag("nat-check-port", merged["nat-check-port"], 0, 65535),
    },
    limits: bootstrapLimits(merged), // issue 12
    control: controlLimits(merged), // issue 12
  };
  if (settings.shards > 1) checkShardPorts(settings); // issue 15
  return settings;
}

// --- issue 12: limit values from flags or config ---
function bootstrapLimits(merged: Record<string, unknown>): BootstrapLimits {
  const limits: BootstrapLimits = {};
  for (const [flag, field, kind] of LIMIT_FLAGS) {
    const value = kind === "seconds"
      ? secondsFlag(flag, merged[flag])
      : kind === "integer"
      ? integerFlag(flag, merged[flag], 1, Number.MAX_SAFE_INTEGER)
      : rate(merged, flag);
    if (value === undefined) continue;
    limits[field] = kind === "seconds"
      ? value * 1000
      : kind === "rate" && value === 0
      ? Infinity
      : value;
  }
  return limits;
}

function rate(values: Record<string, unknown>, key: string): number | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !(number >= 0) || !Number.isFinite(number)) {
    throw new UsageError(`--${key} must be a number >= 0 (0 = off), got ${show(value)}`);
  }
  return number;
}

function controlLimits(merged: Record<string, unknown>): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const limit of CONTROL_LIMITS) {
    if (merged[limit.flag] === undefined) continue;
    try {
      limits[limit.flag] = parseLimit(limit, merged[limit.flag]);
    } catch (error) {
      throw new UsageError(describeError(error));
    }
  }
  return limits;
}
// --- end issue 12 ---

function readConfig(path: string): Record<string, unknown> {
  let source: string;
  try {
    source = Deno.readTextFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${describeError(error)}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(source);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${describeError(error)}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new UsageError(`config file ${path} must hold a JSON object`);
  }
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key) && !HANDSHAKE_CONFIG_KEYS.has(key)) {
      throw new UsageError(
        `config file ${path}: unknown key "${key}" (known: ${CONFIG_KEYS.join(", ")})`,
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

// --- handshake dialect (issue 14) ---
// The seed's flags and config keys, mapped onto HandshakeServerOptions.

/** Config keys of the dialect: Olaf's (flag names) and the seed's config.json keys. */
const HANDSHAKE_CONFIG_KEYS = new Set([
  "handshake",
  "handshake-port",
  "listen_address",
  "max_connections",
  "heartbeat_interval",
  "connection_timeout",
  "network_id",
  "peerlist_broadcast_debounce_ms",
  "stun_server",
  "allow_symmetric_nat_relay",
]);

const SEED_LOG_LEVELS: [flag: keyof typeof HANDSHAKE_FLAGS, level: LogLevel][] = [
  ["TRACE", "trace"],
  ["DEBUG", "debug"],
  ["INFO", "info"],
  ["WARN", "warning"],
  ["ERROR", "error"],
];

function seedLogLevel(values: Record<string, unknown>): LogLevel | undefined {
  const given = SEED_LOG_LEVELS.filter(([flag]) => values[flag] === true);
  if (given.length > 1) {
    throw new UsageError("give at most one of --TRACE, --DEBUG, --INFO, --WARN, --ERROR");
  }
  if (given.length === 1 && values["log-level"] !== undefined) {
    throw new UsageError(`--${given[0]![0]} and --log-level contradict each other`);
  }
  return given[0]?.[1];
}

function handshakeSettings(
  values: Record<string, unknown>,
  merged: Record<string, unknown>,
  host: string,
  port: number,
): HandshakeServerOptions | undefined {
  // Flags win over the config file, as for every other setting.
  const pick = (flag: string, key: string) => values[flag] ?? merged[key];
  const c: Record<string, unknown> = {
    handshake: pick("handshake", "handshake"),
    "handshake-port": pick("handshake-port", "handshake-port"),
    address: pick("address", "listen_address"),
    "max-connections": pick("max-connections", "max_connections"),
    "network-id": pick("network-id", "network_id"),
    relay: pick("relay", "allow_symmetric_nat_relay"),
    "heartbeat-interval": merged.heartbeat_interval,
    "connection-timeout": merged.connection_timeout,
    "broadcast-debounce": merged.peerlist_broadcast_debounce_ms,
  };
  const stunServer = merged.stun_server;
  if (
    stunServer !== undefined &&
    (typeof stunServer !== "object" || stunServer === null || Array.isArray(stunServer))
  ) {
    throw new UsageError("stun_server must be an object {enable, port}");
  }
  const stunConfig = (stunServer ?? {}) as Record<string, unknown>;
  // Issue 11: --stun-port alone turns STUN on too (standard STUN clients against the bootstrap).
  c.stun = values.STUN ?? stunConfig.enable ?? (values["stun-port"] !== undefined || undefined);
  c["stun-port"] = values["stun-port"] ?? stunConfig.port;
  for (const key of ["handshake", "relay", "stun"]) {
    if (c[key] !== undefined && typeof c[key] !== "boolean") {
      throw new UsageError(`--${key} must be true or false, got ${show(c[key])}`);
    }
  }
  const on = c.handshake === true || c["handshake-port"] !== undefined ||
    c.address !== undefined || [...HANDSHAKE_CONFIG_KEYS].some((k) => merged[k] !== undefined) ||
    ["max-connections", "network-id", "relay", "STUN", "stun-port"].some((k) =>
      values[k] !== undefined
    );
  if (!on || c.handshake === false) return undefined;

  const options: HandshakeServerOptions = {};
  const ownPort = integerFlag("handshake-port", c["handshake-port"], 0, 65535);
  if (ownPort !== undefined) options.port = ownPort;
  if (c.address !== undefined) {
    const address = text(c, "address")!;
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
    const p = match ? Number(match[3]) : NaN;
    if (!match || p > 65535) {
      throw new UsageError(`--address must be HOST:PORT, got ${show(address)}`);
    }
    const h = match[1] ?? match[2]!;
    // The bootstrap's own address: share its socket; any other (or port 0): a socket of its own.
    if (h !== host || p !== port || p === 0) {
      options.hostname = h;
      options.port = p;
    }
  }
  const maxConnections = integerFlag("max-connections", c["max-connections"], 1, 1_000_000);
  if (maxConnections !== undefined) options.maxConnections = maxConnections;
  const networkId = c["network-id"];
  if (networkId !== undefined) {
    if (typeof networkId !== "string") throw new UsageError("--network-id must be a string");
    options.networkId = networkId;
  }
  const heartbeat = secondsFlag("heartbeat-interval", c["heartbeat-interval"]);
  if (heartbeat !== undefined) options.heartbeatIntervalMs = heartbeat * 1000;
  const timeout = secondsFlag("connection-timeout", c["connection-timeout"]);
  if (timeout !== undefined) options.connectionTimeoutMs = timeout * 1000;
  const debounce = integerFlag("broadcast-debounce", c["broadcast-debounce"], 0, 3_600_000);
  if (debounce !== undefined) options.broadcastDebounceMs = debounce;
  if (c.relay === true) options.relay = true;
  if (c.stun === true) {
    options.stun = true;
    options.stunPort = integerFlag("stun-port", c["stun-port"], 0, 65535) ?? DEFAULT_STUN_PORT;
  }
  return options;
}

function describeHandshake(server: BootstrapServer): string {
  const hs = server.handshake!;
  const where = hs.localAddress
    ? `udp://${formatHostPort(hs.localAddress.hostname, hs.localAddress.port)}`
    : "the bootstrap port";
  const limits = hs.limits;
  const stun = hs.stunAddress
    ? `udp://${formatHostPort(hs.stunAddress.hostname, hs.stunAddress.port)}`
    : "off";
  return `olaf handshake dialect on ${where} network=${
    limits.networkId ?? "any"
  } max-connections=${limits.maxConnections} relay=${limits.relay ? "on" : "off"} stun=${stun}`;
}
// --- end handshake dialect ---

/**
 * Internal: what the three Olaf command lines (`olaf-bootstrap`, `olaf-peer`,
 * `olaf-control`) share, so they fail, exit and print versions alike. It
 * lives here because every CLI package already depends on `@olaf/protocol`
 * and nothing else is common to all three. Not a stable API.
 *
 * The style: one line `<program>: <message>` on stderr; for usage errors at
 * most one more line, `Run with --help for usage.`; exit 2 for usage errors,
 * 1 for runtime failures, 130 after Ctrl-C.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit status after a clean run. */
export const EXIT_OK = 0;
/** Exit status when the program could not do its work (a bind failed, no answer...). */
export const EXIT_FAILURE = 1;
/** Exit status for bad flags or configuration. */
export const EXIT_USAGE = 2;
/** Exit status after Ctrl-C (SIGINT), by shell convention 128 + 2. */
export const EXIT_INTERRUPTED = 130;

/** The hint printed after a usage error. */
export const USAGE_HINT = "Run with --help for usage.";

/**
 * A problem with the flags or the configuration: exit {@linkcode EXIT_USAGE}.
 *
 * @example
 * ```ts
 * import { UsageError } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.equal(new UsageError("--port is required").message, "--port is required");
 * ```
 */
export class UsageError extends Error {
  /**
   * Makes one.
   *
   * @param message What is wrong, as one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The lines to print for an error, and the exit status: `<program>: <message>`
 * (`<program>: <context>: <message>` with a context), plus the usage hint for
 * a {@linkcode UsageError}.
 *
 * @param program E.g. `"olaf-peer"`.
 * @param error What went wrong; anything that is not a `UsageError` is a runtime failure.
 * @param context What was being done, e.g. `"cannot listen on UDP 0.0.0.0:5000"`.
 * @returns The stderr lines and the exit status.
 *
 * @example
 * ```ts
 * import { failure, UsageError } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.deepEqual(failure("olaf-peer", new UsageError("--room NAME is required")), {
 *   lines: ["olaf-peer: --room NAME is required", "Run with --help for usage."],
 *   status: 2,
 * });
 * assert.deepEqual(failure("olaf-peer", new Error("no answer")), {
 *   lines: ["olaf-peer: no answer"],
 *   status: 1,
 * });
 * assert.deepEqual(failure("olaf-bootstrap", new Error("address in use"), "cannot listen"), {
 *   lines: ["olaf-bootstrap: cannot listen: address in use"],
 *   status: 1,
 * });
 * ```
 */
export function failure(
  program: string,
  error: unknown,
  context?: string,
): { lines: string[]; status: number } {
  const prefix = context === undefined ? `${program}: ` : `${program}: ${context}: `;
  if (error instanceof UsageError) {
    return { lines: [prefix + error.message, USAGE_HINT], status: EXIT_USAGE };
  }
  return { lines: [prefix + describeError(error)], status: EXIT_FAILURE };
}

/**
 * `node:util` `parseArgs`, with two fixes for people: a string option's value
 * may be a negative number (`--port -5` reads as `--port=-5`, for the caller
 * to reject with a clear range message, instead of "ambiguous"), and errors
 * become one-line {@linkcode UsageError}s.
 *
 * @param args The arguments.
 * @param config `parseArgs` options (`args` is filled in).
 * @returns What `parseArgs` returns.
 * @throws {UsageError} For unknown options, missing values, positionals when not allowed.
 *
 * @example
 * ```ts
 * import { parseFlags } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * const { values } = parseFlags(["--port", "-5"], { options: { port: { type: "string" } } });
 * assert.equal(values.port, "-5");
 * assert.throws(() => parseFlags(["--nope"], { options: {} }), /^UsageError: unknown option --nope$/);
 * ```
 */
export function parseFlags<T extends Omit<ParseArgsConfig, "args">>(
  args: string[],
  config: T,
): ReturnType<typeof parseArgs<T & { args: string[] }>> {
  const options = config.options ?? {};
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-\d/.test(next)
    ) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  try {
    // parseArgs defaults to strict, and then to no positionals.
    return parseArgs({ ...config, args: joined });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
}

/** node:util's messages run over several sentences and lines; one short line instead. */
function parseArgsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  let match;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && (match = /'([^']+)'/.exec(message))) {
    return `unknown option ${match[1]}`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && (match = /'([^']*)'/.exec(message))) {
    return `unexpected argument ${JSON.stringify(match[1])}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && (match = /'(-[^' ]+)/.exec(message))) {
    return message.includes("argument missing") || message.includes("ambiguous")
      ? `${match[1]} needs a value`
      : `${match[1]} takes no value`;
  }
  return message.split("\n")[0]!.split(". ")[0]!.replace(/\.$/, "");
}

/** How a flag's value is shown in an error: numbers bare, other text quoted. */
function show(value: unknown): string {
  if (typeof value === "string" && !/^-?\d+(\.\d+)?$/.test(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * Reads an integer flag (text from the command line or a number from a JSON
 * config file) and checks its range.
 *
 * @param name Flag name without dashes, for the message.
 * @param value The value, or `undefined` when absent.
 * @param min Smallest allowed.
 * @param max Largest allowed.
 * @returns The number, or `undefined` when absent.
 * @throws {UsageError} `--port must be 0..65535, got -5`.
 *
 * @example
 * ```ts
 * import { integerFlag } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.equal(integerFlag("port", "5000", 0, 65535), 5000);
 * assert.throws(() => integerFlag("port", "-5", 0, 65535), /^UsageError: --port must be 0\.\.65535, got -5$/);
 * ```
 */
export function integerFlag(
  name: string,
  value: unknown,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) {
    throw new UsageError(`--${name} must be ${min}..${max}, got ${show(value)}`);
  }
  return number;
}

/**
 * Reads a positive number of seconds (decimals allowed).
 *
 * @param name Flag name without dashes, for the message.
 * @param value The value, or `undefined` when absent.
 * @returns The seconds, or `undefined` when absent.
 * @throws {UsageError} `--timeout must be a positive number of seconds, got -1`.
 *
 * @example
 * ```ts
 * import { secondsFlag } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.equal(secondsFlag("timeout", "2.5"), 2.5);
 * assert.throws(() => secondsFlag("timeout", "-1"), /--timeout must be a positive number of seconds, got -1/);
 * ```
 */
export function secondsFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !(number > 0) || !Number.isFinite(number)) {
    throw new UsageError(`--${name} must be a positive number of seconds, got ${show(value)}`);
  }
  return number;
}

/**
 * An error as one line for people: the errors of binds, connects and DNS
 * look-ups without resolver or OS internals (`address already in use`,
 * `no such host`), anything else by its message.
 *
 * @param error What was thrown.
 * @returns One line.
 *
 * @example
 * ```ts
 * import { describeError } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.equal(describeError(new Deno.errors.AddrInUse("os error 98")), "address already in use");
 * assert.equal(describeError(new Error("boom")), "boom");
 * ```
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  const errors = typeof Deno === "undefined" ? undefined : Deno.errors;
  if ((errors && error instanceof errors.AddrInUse) || code === "EADDRINUSE") {
    return "address already in use";
  }
  if ((errors && error instanceof errors.AddrNotAvailable) || code === "EADDRNOTAVAIL") {
    return "address not available on this machine";
  }
  if (error instanceof URIError && /invalid host/.test(error.message)) {
    return "not a valid host name";
  }
  if ((errors && error instanceof errors.PermissionDenied) || code === "EACCES") {
    const flag = /--allow-[\w-]+/.exec(error.message)?.[0];
    return flag ? `permission denied (run with ${flag})` : "permission denied";
  }
  return dnsMessage(error) ?? error.message.split("\n")[0]!;
}

/** Resolver errors (hickory's "proto error: no records found for Query {...}") in plain words. */
function dnsMessage(error: Error): string | undefined {
  const message = error.message;
  const code = (error as { code?: string }).code;
  // hickory (Deno.resolveDns), getaddrinfo (binding to a name), node:dns.
  if (
    /no records found|NXDomain|Name or service not known|nodename nor servname/i.test(message) ||
    code === "ENOTFOUND"
  ) {
    return "no such host";
  }
  if (/^proto error|^io error|failed to lookup address/i.test(message) || code === "EAI_AGAIN") {
    return /timed? ?out|timeout/i.test(message) ? "DNS look-up timed out" : "DNS look-up failed";
  }
  return undefined;
}

/**
 * Signals that should stop a CLI: SIGINT (Ctrl-C) and SIGTERM, where the
 * platform has them. `signal` aborts with the name of the first one seen.
 *
 * @returns The signal, the name once one arrived, and `dispose` to remove the listeners.
 *
 * @example
 * ```ts
 * import { listenForStop } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * using stop = listenForStop();
 * assert.equal(stop.signal.aborted, false);
 * assert.equal(stop.received, undefined);
 * ```
 */
export function listenForStop(
  names: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"],
): { signal: AbortSignal; readonly received: Deno.Signal | undefined } & Disposable {
  const controller = new AbortController();
  let received: Deno.Signal | undefined;
  const listeners: [Deno.Signal, () => void][] = [];
  for (const name of names) {
    const listener = () => {
      received ??= name;
      controller.abort(name);
    };
    try {
      Deno.addSignalListener(name, listener);
      listeners.push([name, listener]);
    } catch {
      // SIGTERM does not exist on Windows; some sandboxes refuse signals. Ctrl-C still ends us.
    }
  }
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    [Symbol.dispose]() {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}

/**
 * The exit status for a stop: {@linkcode EXIT_INTERRUPTED} after SIGINT, else {@linkcode EXIT_OK}
 * (SIGTERM is how services are asked to stop, so a clean stop on it is a success).
 *
 * @param signal The signal that stopped the program, if any.
 * @returns 130 for SIGINT, else 0.
 *
 * @example
 * ```ts
 * import { stopStatus } from "@olaf/protocol/_cli";
 * import assert from "node:assert/strict";
 * assert.equal(stopStatus("SIGINT"), 130);
 * assert.equal(stopStatus("SIGTERM"), 0);
 * ```
 */
export function stopStatus(signal: string | undefined): number {
  return signal === "SIGINT" ? EXIT_INTERRUPTED : EXIT_OK;
}

/**
 * Calls `onGone` when the `npx`/`npm exec` that started us through
 * `deno task` exits. npm runs `sh -c deno task ...`; a SIGTERM to npm reaches
 * only that `sh`, which dies without passing it on, and `deno task` (which
 * does forward signals to us) is left running with init as its parent. We
 * poll for exactly that: our parent is `deno task` and its parent changed.
 * Only under npm (`npm_command` set) and on Linux (it reads `/proc`).
 *
 * @param onGone Called once when the launcher is gone.
 * @param intervalMs How often to look, default 500 ms.
 * @returns Stops watching.
 *
 * @example
 * ```ts
 * import { watchLauncher } from "@olaf/protocol/_cli";
 * using _watch = watchLauncher(() => console.log("launcher gone"));
 * ```
 */
export function watchLauncher(onGone: () => void, intervalMs = 500): Disposable {
  const none = { [Symbol.dispose]() {} };
  if (typeof Deno === "undefined" || Deno.build.os !== "linux") return none;
  let underNpm: boolean;
  let task: number;
  try {
    underNpm = Deno.env.get("npm_command") !== undefined;
    task = Deno.ppid;
  } catch {
    return none; // no --allow-env
  }
  if (!underNpm || !isDenoTask(task)) return none;
  const launcher = parentOf(task);
  if (launcher === undefined || launcher <= 1) return none;
  const timer = setInterval(() => {
    if (parentOf(task) !== launcher) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return { [Symbol.dispose]: () => clearInterval(timer) };
}

function isDenoTask(pid: number): boolean {
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return argv.includes("task");
  } catch {
    return false;
  }
}

/** The parent pid from `/proc/PID/stat` (field 4, after the parenthesised command name). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[1]);
  } catch {
    return undefined; // the task itself is gone
  }
}

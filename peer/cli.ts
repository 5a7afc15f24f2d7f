/**
 * The `olaf-peer` chat CLI: `deno run -A jsr:@olaf/peer --bootstrap HOST:PORT --room NAME`.
 * Each line typed is sent to every member; incoming messages and member
 * changes are printed. `--json` prints one JSON object per line instead.
 * EOF on stdin or Ctrl-C leaves the room with `bye`.
 *
 * @module
 */
import {
  configure,
  defaultTextFormatter,
  getLogger,
  isLogLevel,
  type LogLevel,
  reset,
} from "@logtape/logtape";
import { MAX_ROOM_NAME_BYTES } from "@olaf/protocol";
import {
  describeError,
  EXIT_INTERRUPTED,
  failure,
  integerFlag,
  parseFlags,
  secondsFlag,
  UsageError,
} from "@olaf/protocol/_cli";
import { parseHostPort } from "./address.ts";
import { VERSION } from "./_version.ts";
import { JoinError, joinRoom, type JoinRoomOptions, ReliableSendError, type Room } from "./room.ts";
import type { MemberRecord } from "./_membership.ts";
import {
  encodePublicKey,
  IdentityFileError,
  loadOrCreateIdentity,
  parsePublicKey,
} from "./identity.ts";

const PROGRAM = "olaf-peer";

/** `--reliable`: lines sent before the oldest must be acknowledged (well inside the 256-packet window). */
const RELIABLE_LINES_IN_FLIGHT = 32;

/** Usage text of the CLI. */
export const USAGE: string =
  `Usage: olaf-peer --bootstrap HOST:PORT[,HOST:PORT...] --room NAME [options]
       olaf-peer keygen                      print a new random room secret (64 hex digits)
       olaf-peer --identity FILE --print-public-key

Join an Olaf room and chat: every line you type goes to every member.
Leave with Ctrl-D (end of input) or Ctrl-C; members are told at once (bye).

Options:
  --bootstrap LIST        bootstrap servers, comma-separated HOST:PORT (IPv4, localhost or DNS name)
  --room NAME             room to join (at most ${MAX_ROOM_NAME_BYTES} UTF-8 bytes)
  --json                  print one JSON object per line (joined, peer-joined, link, peer-left,
                          message, error) instead of text for people
  --reliable              send every line reliably and in order to every member (acknowledged,
                          retransmitted; lines up to 1 MiB, fragmented); the next line waits
                          while the window is full. Deployed v1 members get plain lines only.
  --secret-file FILE      secure room: only peers with this secret (the whole file, trailing
                          newline dropped) get in; links are encrypted and authenticated, the
                          bootstrap sees a tag, not the name. Default: $OLAF_ROOM_SECRET.
                          Make one with: olaf-peer keygen > FILE
  --identity FILE         keep this peer's key pair in FILE (created, mode 0600, when missing);
                          default: a new key pair per run
  --allow KEY[,KEY...]    secure room: only these public keys (64 hex digits) may be members
  --print-public-key      print the public key of --identity FILE and exit
  --plaintext             open rooms: do not encrypt lines to other Olaf peers (by default they
                          are, opportunistically: no authentication; v1 peers always get
                          plaintext); --json "link" events say when a member's link is encrypted
  --nat                   NAT traversal: hole punching with PROBEs, relay fallback through a
                          bootstrap run with --relay; --json peer-joined then carries "path"
                          (direct, lan or relayed) and path-changed events report moves
  --port N                local UDP port (default: any free port)
  --hostname ADDR         local address to bind (default 0.0.0.0)
  --heartbeat SECONDS     heartbeat interval (default 3; decimals allowed)
  --timeout SECONDS       drop members silent for this long (default 15; more than --heartbeat)
  --join-timeout SECONDS  give up joining after this long (default 15)
  --probe-rate N          probes per second toward peers not heard from yet (named by the
                          bootstrap or gossip), all together (default 100; 0: no limit)
  --strangers-per-heartbeat N
                          unknown senders let in as members per heartbeat; the rest are
                          dropped unanswered until the next one (default 64; 0: no limit)
  --log-level LEVEL       diagnostics on stderr: trace, debug, info, warning, error, fatal
                          (default: error; what goes wrong is printed anyway, once)
  -h, --help              show this help
  --version               print the version

Node mode (an HTTP API instead of the chat; see the README, "Nodes"):
  --http PORT             serve the node API on PORT (0: any free port); stdin is not read,
                          leave with Ctrl-C, SIGTERM or POST /leave
  --http-host ADDR        address of the API (default 127.0.0.1: this machine only)
  --http-token TOKEN      require Authorization: Bearer TOKEN (default: $OLAF_NODE_TOKEN)
  --name NAME             friendly name (default node-<first 8 hex digits of the node id>)

Exit status: 0 after leaving with Ctrl-D, 130 after Ctrl-C (also before joining),
1 when the room cannot be joined (ROOM_FULL, no answer, cannot bind), 2 for bad
arguments.`;

const FLAGS = {
  bootstrap: { type: "string" },
  room: { type: "string" },
  json: { type: "boolean", default: false },
  reliable: { type: "boolean", default: false },
  nat: { type: "boolean", default: false }, // issue 11
  port: { type: "string" },
  hostname: { type: "string" },
  heartbeat: { type: "string" },
  timeout: { type: "string" },
  "join-timeout": { type: "string" },
  "probe-rate": { type: "string" },
  "strangers-per-heartbeat": { type: "string" },
  "log-level": { type: "string" },
  // node mode (issue 13)
  http: { type: "string" },
  "http-host": { type: "string" },
  "http-token": { type: "string" },
  name: { type: "string" },
  // secure rooms (issue 10)
  "secret-file": { type: "string" },
  identity: { type: "string" },
  allow: { type: "string" },
  "print-public-key": { type: "boolean", default: false },
  plaintext: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", default: false },
} as const;

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  /** Lines typed by the user (UTF-8 bytes). */
  stdin: ReadableStream<Uint8Array>;
  /** Writes one line of output (without the newline). */
  out(line: string): void;
  /** Writes one line of diagnostics (without the newline). */
  err(line: string): void;
  /** Aborted when the process should leave (SIGINT). */
  interrupt?: AbortSignal;
  /** Environment variables (`OLAF_ROOM_SECRET`); default the process's. */
  env?: (name: string) => string | undefined;
}

const encoder = new TextEncoder();

function defaultIo(): CliIo {
  const controller = new AbortController();
  try {
    Deno.addSignalListener("SIGINT", () => controller.abort());
  } catch {
    // Signals are not available everywhere (e.g. some sandboxes); Ctrl-D still leaves.
  }
  return {
    stdin: Deno.stdin.readable,
    out: (line) => Deno.stdout.writeSync(encoder.encode(line + "\n")),
    err: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
    interrupt: controller.signal,
  };
}

// C0 controls except tab, DEL and C1 controls (ESC starts terminal escape sequences).
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** Remote text is shown as is, except control characters, which could drive the terminal. */
function printable(text: string): string {
  return text.replace(
    CONTROL_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function who(p: MemberRecord): string {
  return `${p.ip}:${p.port}` + (p.id === 0 ? "" : ` (id ${p.id})`) +
    (p.publicKey === undefined ? "" : ` key ${p.publicKey.slice(0, 16)}`);
}

/** A record for `--json`: with `publicKey` (64 lowercase hex digits) in secure rooms. */
function plain(
  p: MemberRecord,
): { ip: string; port: number; id: number; publicKey?: string } {
  const r = { ip: p.ip, port: p.port, id: p.id };
  return p.publicKey === undefined ? r : { ...r, publicKey: p.publicKey };
}

/** The room secret from `--secret-file` or `$OLAF_ROOM_SECRET`, if any. */
function readSecret(file: string | undefined, env: string | undefined): string | undefined {
  if (file === undefined) {
    if (env === undefined || env === "") return undefined;
    return env;
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new UsageError(`--secret-file ${file}: cannot read it: ${describeError(error)}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "") throw new UsageError(`--secret-file ${file} is empty`);
  return secret;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Seconds (decimals allowed, as the bootstrap's `--timeout`) to whole milliseconds. */
function secondsToMs(name: string, text: string | undefined): number | undefined {
  const seconds = secondsFlag(name, text);
  if (seconds === undefined) return undefined;
  const ms = Math.round(seconds * 1000);
  if (ms <= 0) throw new UsageError(`--${name} must be at least 0.001 seconds, got ${text}`);
  return ms;
}

/**
 * Runs the CLI.
 *
 * @param args Command-line arguments (without the program name).
 * @param io Standard streams; defaults to the process's, with SIGINT leaving the room.
 * @returns The exit status.
 *
 * @example Print the help
 * ```ts
 * import { main } from "@olaf/peer/cli";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const status = await main(["--help"], {
 *   stdin: new ReadableStream({ start: (c) => c.close() }),
 *   out: (line) => lines.push(line),
 *   err: (line) => lines.push(line),
 * });
 * assert.equal(status, 0);
 * assert.match(lines.join("\n"), /--bootstrap/);
 * ```
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  let json = false;
  const fail = (error: unknown, context?: string): number => {
    const { lines, status } = failure(PROGRAM, error);
    const message = (context ? `${context}: ` : "") + lines[0]!.slice(PROGRAM.length + 2);
    if (json) io.out(JSON.stringify({ event: "error", message }));
    io.err(`${PROGRAM}: ${message}`);
    for (const line of lines.slice(1)) io.err(line);
    return status;
  };

  let options;
  let bootstraps: string[];
  let port: number | undefined;
  let heartbeatMs: number | undefined;
  let peerTimeoutMs: number | undefined;
  let joinTimeoutMs: number | undefined;
  let probeRate: number | undefined;
  let strangersPerHeartbeat: number | undefined;
  let logLevel: string;
  let secure: Pick<JoinRoomOptions, "secret" | "identity" | "allow"> = {};
  if (args[0] === "keygen") {
    if (args.length > 1) return fail(new UsageError("keygen takes no arguments"));
    io.out(hex(crypto.getRandomValues(new Uint8Array(32))));
    return 0;
  }
  try {
    options = parseFlags(args, { options: FLAGS }).values;
    if (options.help) {
      io.out(USAGE);
      return 0;
    }
    if (options.version) {
      io.out(`${PROGRAM} ${VERSION}`);
      return 0;
    }
    json = options.json;
    if (options["print-public-key"]) {
      if (options.identity === undefined) {
        throw new UsageError("--print-public-key needs --identity FILE");
      }
      io.out(encodePublicKey(loadOrCreateIdentity(options.identity).publicKey));
      return 0;
    }
    if (!options.bootstrap) throw new UsageError("--bootstrap HOST:PORT is required");
    if (options.room === undefined || options.room === "") {
      throw new UsageError("--room NAME is required");
    }
    // The bootstrap drops longer names: say so now instead of timing out.
    const roomBytes = new TextEncoder().encode(options.room).length;
    if (roomBytes > MAX_ROOM_NAME_BYTES) {
      throw new UsageError(
        `--room is ${roomBytes} UTF-8 bytes; bootstraps accept at most ${MAX_ROOM_NAME_BYTES}`,
      );
    }
    bootstraps = options.bootstrap.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const b of bootstraps) {
      try {
        parseHostPort(b); // fail fast on a malformed address
      } catch (error) {
        throw new UsageError(`--bootstrap: ${describeError(error)}`);
      }
    }
    port = integerFlag("port", options.port, 0, 65535);
    if (options.hostname === "") throw new UsageError("--hostname must not be empty");
    heartbeatMs = secondsToMs("heartbeat", options.heartbeat);
    peerTimeoutMs = secondsToMs("timeout", options.timeout);
    joinTimeoutMs = secondsToMs("join-timeout", options["join-timeout"]);
    // Issue 12 limits; 0 switches one off, as the bootstrap's limits.
    probeRate = integerFlag("probe-rate", options["probe-rate"], 0, 1_000_000);
    strangersPerHeartbeat = integerFlag(
      "strangers-per-heartbeat",
      options["strangers-per-heartbeat"],
      0,
      1_000_000,
    );
    const env = io.env ?? ((name: string) => Deno.env.get(name));
    const secret = readSecret(options["secret-file"], env("OLAF_ROOM_SECRET"));
    const allow = options.allow?.split(",").map((k) => k.trim()).filter((k) => k !== "");
    if (allow !== undefined) {
      if (secret === undefined) {
        throw new UsageError(
          "--allow needs a secure room: --secret-file FILE or $OLAF_ROOM_SECRET",
        );
      }
      for (const key of allow) {
        try {
          parsePublicKey(key);
        } catch (error) {
          throw new UsageError(`--allow: ${describeError(error)}`);
        }
      }
    }
    if (options.plaintext && secret !== undefined) {
      throw new UsageError("--plaintext is for open rooms: a secure room is always encrypted");
    }
    secure = {
      ...(secret !== undefined ? { secret } : {}),
      ...(options.identity !== undefined
        ? { identity: loadOrCreateIdentity(options.identity) }
        : {}),
      ...(allow !== undefined ? { allow } : {}),
    };
    logLevel = options["log-level"] ?? "error";
    if (!isLogLevel(logLevel)) {
      throw new UsageError(
        `--log-level must be trace, debug, info, warning, error or fatal, got ${
          JSON.stringify(logLevel)
        }`,
      );
    }
  } catch (error) {
    // A bad identity file is a bad argument too: one line, exit 2.
    if (error instanceof IdentityFileError) return fail(new UsageError(error.message));
    return fail(error);
  }

  await configure({
    reset: true,
    sinks: { stderr: (record) => io.err(defaultTextFormatter(record).trimEnd()) },
    loggers: [
      { category: ["olaf"], lowestLevel: logLevel as LogLevel, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  const log = getLogger(["olaf", "peer", "cli"]);
  // What both modes join with (node mode adds its HTTP API, chat mode the interrupt and NAT).
  const join = {
    port,
    hostname: options.hostname,
    heartbeatMs,
    peerTimeoutMs,
    joinTimeoutMs,
    probeRate,
    strangersPerHeartbeat,
    ...secure,
    ...(options.plaintext ? { opportunistic: false } : {}),
  };

  try {
    // --- node mode (issue 13): olaf-peer --http PORT -------------------------------------
    if (options.http !== undefined) {
      const { runNode } = await import("./_node_cli.ts");
      return await runNode(
        {
          http: options.http,
          httpHost: options["http-host"],
          httpToken: options["http-token"],
          name: options.name,
          room: options.room,
          bootstraps,
          join,
          json,
        },
        io,
        (message, status) => fail(status === 2 ? new UsageError(message) : new Error(message)),
      );
    }
    // --- end node mode ----------------------------------------------------------------------
    let room: Room;
    if (!json) {
      io.out(
        `* joining ${secure.secret !== undefined ? "secure room " : ""}` +
          `${JSON.stringify(options.room)} via ${bootstraps.join(", ")}...`,
      );
    }
    try {
      room = await joinRoom(options.room, {
        bootstraps,
        ...join,
        signal: io.interrupt,
        nat: options.nat, // issue 11
      });
    } catch (error) {
      if (error instanceof JoinError) {
        if (error.code === "aborted") {
          fail(new Error("interrupted before joining"));
          return EXIT_INTERRUPTED;
        }
        return fail(error);
      }
      // The room name or the timings, as the peer machine checks them: bad arguments.
      if (error instanceof RangeError) return fail(new UsageError(error.message));
      // An unresolvable bootstrap name: the message names it already.
      if (error instanceof TypeError) return fail(error);
      // Anything else comes from binding the socket (a foreign or malformed --hostname, a busy
      // --port): one line, no stack trace.
      const local = `${options.hostname ?? "0.0.0.0"}:${port ?? 0}`;
      return fail(error, `cannot bind UDP ${local}`);
    }

    if (json) {
      io.out(JSON.stringify({ event: "joined", self: plain(room.self) }));
      room.on("peer-joined", ({ peer, path }) => {
        const event = { event: "peer-joined", peer: plain(peer) };
        io.out(JSON.stringify(path === undefined ? event : { ...event, path })); // path: issue 11
      });
      room.on("path-changed", ({ peer, path, previous }) => { // issue 11
        io.out(JSON.stringify({ event: "path-changed", peer: plain(peer), path, previous }));
      });
      room.on("link", ({ peer, encrypted }) => {
        io.out(JSON.stringify({ event: "link", peer: plain(peer), encrypted }));
      });
      room.on("peer-left", ({ peer, reason }) => {
        io.out(JSON.stringify({ event: "peer-left", peer: plain(peer), reason }));
      });
      room.on("message", (m) => {
        const event = { event: "message", from: plain(m.from), data: m.text() };
        io.out(JSON.stringify(m.reliable ? { ...event, reliable: true } : event));
      });
      room.on("error", (e) => {
        // Secure rooms' refusals carry their code (wrong-secret, refused-key) for scripts.
        const code = e.code === "wrong-secret" || e.code === "refused-key" ? { code: e.code } : {};
        io.out(JSON.stringify({ event: "error", ...code, message: e.message }));
      });
    } else {
      io.out(
        `* joined room ${JSON.stringify(room.name)} as ${who(room.self)}; ` +
          "type a line to send it to everyone, Ctrl-D to leave",
      );
      room.onPeerJoin((p) => io.out(`* ${who(p)} joined`));
      room.onPeerLeave((p, reason) => {
        io.out(`* ${who(p)} left (${reason === "timeout" ? "timed out" : reason})`);
      });
      room.onMessage((m) => io.out(`<${m.from.ip}:${m.from.port}> ${printable(m.text())}`));
      room.on("error", (e) => io.err(`! ${e.message}`));
    }
    log.info("joined {room} via {bootstrap}", {
      room: room.name,
      bootstrap: `${room.bootstrap.hostname}:${room.bootstrap.port}`,
    });

    const interrupted = new Promise<"interrupted">((resolve) => {
      if (io.interrupt?.aborted) resolve("interrupted");
      io.interrupt?.addEventListener("abort", () => resolve("interrupted"), { once: true });
    });
    const report = (message: string) => {
      if (json) io.out(JSON.stringify({ event: "error", message }));
      else io.err(`! ${message}`);
    };
    /** `--reliable`: lines not yet acknowledged by every member, oldest first. */
    const unacknowledged: Promise<void>[] = [];
    const send = async (text: string) => {
      const line = text.replace(/\r$/, ""); // Windows line ends
      if (line === "" || room.left) return;
      if (!options.reliable) {
        try {
          room.send(line);
        } catch (error) {
          report((error as Error).message);
        }
        return;
      }
      // Backpressure: at most RELIABLE_LINES_IN_FLIGHT lines wait for acknowledgement.
      if (unacknowledged.length >= RELIABLE_LINES_IN_FLIGHT) await unacknowledged.shift();
      if (room.left) return;
      unacknowledged.push(
        room.send(line, { reliable: true, ordered: true }).then((outcomes) => {
          for (const o of outcomes) {
            if (o.ok) continue;
            if (o.error instanceof ReliableSendError && o.error.reason === "not-olaf") {
              room.sendTo(o.peer, line); // a deployed v1 member still gets it, best-effort
            } else if (!room.left) {
              report(`to ${o.peer.ip}:${o.peer.port}: ${o.error.message}`);
            }
          }
        }),
      );
    };
    const reader = io.stdin.pipeThrough(new TextDecoderStream()).getReader();
    const typed = (async () => {
      let buffer = "";
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          await send(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      }
      await send(buffer); // the last line may have no newline
      await Promise.all(unacknowledged); // leave once every line was acknowledged (or failed)
      return "eof" as const;
    })();
    const why = await Promise.race([typed, interrupted]);
    await room.leave();
    log.info("left {room}", { room: room.name });
    reader.cancel().catch(() => {});
    return why === "interrupted" ? EXIT_INTERRUPTED : 0;
  } finally {
    await reset();
  }
}

/**
 * The `olaf-peer` chat CLI: `deno run -A jsr:@olaf/peer --bootstrap HOST:PORT --room NAME`.
 * Each line typed is sent to every member; incoming messages and member
 * changes are printed. `--json` prints one JSON object per line instead.
 * EOF on stdin or Ctrl-C leaves the room with `bye`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  configure,
  defaultTextFormatter,
  getLogger,
  isLogLevel,
  type LogLevel,
  reset,
} from "@logtape/logtape";
import type { PeerRecord } from "@olaf/protocol";
import { parseHostPort } from "./address.ts";
import { JoinError, joinRoom, type Room } from "./room.ts";

/** Usage text of the CLI. */
export const USAGE: string =
  `Usage: olaf-peer --bootstrap HOST:PORT[,HOST:PORT...] --room NAME [options]

Join an Olaf room and chat: every line you type goes to every member.
Leave with Ctrl-D (end of input) or Ctrl-C; members are told at once (bye).

Options:
  --bootstrap LIST        bootstrap servers, comma-separated HOST:PORT (IPv4, localhost or DNS name)
  --room NAME             room to join
  --json                  print one JSON object per line (joined, peer-joined, peer-left,
                          message, error) instead of text for people
  --port N                local UDP port (default: any free port)
  --hostname ADDR         local address to bind (default 0.0.0.0)
  --heartbeat SECONDS     heartbeat interval (default 3; decimals allowed)
  --timeout SECONDS       drop members silent for this long (default 15; more than --heartbeat)
  --join-timeout SECONDS  give up joining after this long (default 15)
  --log-level LEVEL       diagnostics on stderr: trace, debug, info, warning, error, fatal
                          (default: warning)
  -h, --help              show this help

Node mode (an HTTP API instead of the chat; see the README, "Nodes"):
  --http PORT             serve the node API on PORT (0: any free port); stdin is not read,
                          leave with Ctrl-C, SIGTERM or POST /leave
  --http-host ADDR        address of the API (default 127.0.0.1: this machine only)
  --http-token TOKEN      require Authorization: Bearer TOKEN (default: $OLAF_NODE_TOKEN)
  --name NAME             friendly name (default node-<first 8 hex digits of the node id>)

Exit status: 0 after leaving, 1 when the room cannot be joined (ROOM_FULL, no
answer), 2 for bad arguments.`;

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

function who(p: PeerRecord): string {
  return `${p.ip}:${p.port}` + (p.id === 0 ? "" : ` (id ${p.id})`);
}

function plain(p: PeerRecord): { ip: string; port: number; id: number } {
  return { ip: p.ip, port: p.port, id: p.id };
}

/** Seconds (decimals allowed, as the bootstrap's `--timeout`) to whole milliseconds. */
function secondsToMs(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Math.round(Number(text) * 1000);
  if (!/^\d+(\.\d+)?$/.test(text) || ms <= 0) {
    throw new TypeError(`--${name} must be a positive number of seconds`);
  }
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
  let options;
  try {
    options = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        bootstrap: { type: "string" },
        room: { type: "string" },
        json: { type: "boolean", default: false },
        port: { type: "string" },
        hostname: { type: "string" },
        heartbeat: { type: "string" },
        timeout: { type: "string" },
        "join-timeout": { type: "string" },
        "log-level": { type: "string" },
        // node mode (issue 13)
        http: { type: "string" },
        "http-host": { type: "string" },
        "http-token": { type: "string" },
        name: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    io.err(`olaf-peer: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.out(USAGE);
    return 0;
  }
  const json = options.json;
  const fail = (message: string, status: number): number => {
    if (json) io.out(JSON.stringify({ event: "error", message }));
    io.err(`olaf-peer: ${message}`);
    return status;
  };

  let bootstraps: string[];
  let port: number | undefined;
  let heartbeatMs: number | undefined;
  let peerTimeoutMs: number | undefined;
  let joinTimeoutMs: number | undefined;
  const logLevel = options["log-level"] ?? "warning";
  try {
    if (!options.bootstrap) throw new TypeError("--bootstrap HOST:PORT is required");
    if (options.room === undefined || options.room === "") {
      throw new TypeError("--room NAME is required");
    }
    bootstraps = options.bootstrap.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const b of bootstraps) parseHostPort(b); // fail fast on a malformed address
    port = options.port === undefined ? undefined : Number(options.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw new TypeError("--port must be 0..65535");
    }
    heartbeatMs = secondsToMs("heartbeat", options.heartbeat);
    peerTimeoutMs = secondsToMs("timeout", options.timeout);
    joinTimeoutMs = secondsToMs("join-timeout", options["join-timeout"]);
    if (!isLogLevel(logLevel)) throw new TypeError(`unknown --log-level ${logLevel}`);
  } catch (error) {
    io.err(`olaf-peer: ${(error as Error).message}\n\nRun with --help for usage.`);
    return 2;
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
          join: { port, hostname: options.hostname, heartbeatMs, peerTimeoutMs, joinTimeoutMs },
          json,
        },
        io,
        fail,
      );
    }
    // --- end node mode ----------------------------------------------------------------------
    let room: Room;
    try {
      room = await joinRoom(options.room, {
        bootstraps,
        port,
        hostname: options.hostname,
        heartbeatMs,
        peerTimeoutMs,
        joinTimeoutMs,
        signal: io.interrupt,
      });
    } catch (error) {
      if (error instanceof JoinError) {
        return fail(
          error.code === "aborted" ? "interrupted before joining" : error.message,
          error.code === "aborted" ? 0 : 1,
        );
      }
      if (error instanceof TypeError || error instanceof Deno.errors.AddrInUse) {
        return fail((error as Error).message, 1);
      }
      // The room name or the timings, as the peer machine checks them: bad arguments.
      if (error instanceof RangeError) return fail(error.message, 2);
      throw error;
    }

    if (json) {
      io.out(JSON.stringify({ event: "joined", self: plain(room.self) }));
      room.on("peer-joined", ({ peer }) => {
        io.out(JSON.stringify({ event: "peer-joined", peer: plain(peer) }));
      });
      room.on("peer-left", ({ peer, reason }) => {
        io.out(JSON.stringify({ event: "peer-left", peer: plain(peer), reason }));
      });
      room.on("message", (m) => {
        io.out(JSON.stringify({ event: "message", from: plain(m.from), data: m.text() }));
      });
      room.on("error", (e) => io.out(JSON.stringify({ event: "error", message: e.message })));
    } else {
      io.out(
        `* joined room ${JSON.stringify(room.name)} as ${who(room.self)}; ` +
          "type a line to send it to everyone, Ctrl-D to leave",
      );
      room.onPeerJoin((p) => io.out(`* ${who(p)} joined`));
      room.onPeerLeave((p, reason) => {
        io.out(`* ${who(p)} left` + (reason === "timeout" ? " (timed out)" : ""));
      });
      room.onMessage((m) => io.out(`<${m.from.ip}:${m.from.port}> ${printable(m.text())}`));
      room.on("error", (e) => io.err(`! ${e.message}`));
    }
    log.info("joined {room} via {bootstrap}", {
      room: room.name,
      bootstrap: `${room.bootstrap.hostname}:${room.bootstrap.port}`,
    });

    const interrupted = new Promise<void>((resolve) => {
      if (io.interrupt?.aborted) resolve();
      io.interrupt?.addEventListener("abort", () => resolve(), { once: true });
    });
    const send = (text: string) => {
      const line = text.replace(/\r$/, ""); // Windows line ends
      if (line === "" || room.left) return;
      try {
        room.send(line);
      } catch (error) {
        if (json) io.out(JSON.stringify({ event: "error", message: (error as Error).message }));
        else io.err(`! ${(error as Error).message}`);
      }
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
          send(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      }
      send(buffer); // the last line may have no newline
    })();
    await Promise.race([typed, interrupted]);
    await room.leave();
    log.info("left {room}", { room: room.name });
    reader.cancel().catch(() => {});
    return 0;
  } finally {
    await reset();
  }
}

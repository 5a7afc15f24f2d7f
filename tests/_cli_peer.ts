/**
 * Helpers for tests of the peer CLI: an in-memory {@linkcode CliIo}, a CLI peer child process in
 * `--json` mode whose records are parsed as they come, and a loopback sniffer.
 *
 * @module
 */
import type { CliIo } from "../peer/cli.ts";
import { eventually } from "@olaf/protocol/testing";

const cli = new URL("../peer/mod.ts", import.meta.url).pathname;

/** A {@linkcode CliIo} with stdin at EOF that keeps what `main` prints. */
export function memoryIo(
  env: Record<string, string> = {},
): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    env: (name) => env[name],
    lines,
    errors,
  };
}

/** A CLI peer process started by {@linkcode spawnCliPeer}. */
export interface CliPeer {
  readonly child: Deno.ChildProcess;
  /** Its `--json` records so far, in order. */
  readonly events: Record<string, unknown>[];
  /** Settles when its stdout ends. */
  readonly reading: Promise<void>;
  /** All of its stderr, once it exits. */
  readonly stderr: Promise<string>;
  /** Writes `line` and a newline to its stdin. */
  type(line: string): Promise<void>;
  /** Closes its stdin (the CLI leaves) and waits for it to exit. */
  close(): Promise<{ code: number; stderr: string }>;
}

/** Starts `olaf-peer --json --hostname 127.0.0.1 ...args` with `env` added to its environment. */
export function spawnCliPeer(args: string[], env: Record<string, string> = {}): CliPeer {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--json", "--hostname", "127.0.0.1", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        events.push(JSON.parse(buffer.slice(0, i)));
        buffer = buffer.slice(i + 1);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  return {
    child,
    events,
    reading,
    stderr,
    type: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    close: async () => {
      await writer.close();
      const status = await child.status;
      await reading;
      return { code: status.code, stderr: await stderr };
    },
  };
}

/**
 * Captures UDP payloads on loopback with a raw AF_PACKET socket (python3, root only): each
 * line is "srcport dstport hex".
 */
const SNIFFER = `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
s.bind(("lo", 0))
print("ready", flush=True)
while True:
    pkt, addr = s.recvfrom(70000)
    if addr[2] == socket.PACKET_OUTGOING: continue  # each datagram is seen twice on lo
    ip = pkt[14:]
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17: continue
    ihl = (ip[0] & 15) * 4
    sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
    print(sp, dp, ip[ihl + 8:].hex(), flush=True)
`;

/** Why loopback cannot be sniffed here (not root, or no python3), or `undefined` when it can. */
export async function sniffSkipReason(): Promise<string | undefined> {
  if (Deno.uid?.() !== 0) return "not root (a raw AF_PACKET socket needs it)";
  try {
    const out = await new Deno.Command("python3", { args: ["-c", "import socket"] }).output();
    return out.success ? undefined : "python3 cannot import socket";
  } catch {
    return "no python3";
  }
}

/** A running loopback capture from {@linkcode startSniffer}. */
export interface Sniffer extends AsyncDisposable {
  /** Every UDP datagram seen so far from or to one of `ports` (all of them when omitted). */
  datagrams(ports?: Set<number>): SniffedDatagram[];
}

/** One captured UDP datagram: its ports and its payload in lowercase hex. */
export interface SniffedDatagram {
  src: number;
  dst: number;
  hex: string;
}

/** Whether the payload `hex` holds the UTF-8 bytes of `text` (a byte-aligned search). */
export function carriesText(hex: string, text: string): boolean {
  const needle = Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  for (let i = hex.indexOf(needle); i >= 0; i = hex.indexOf(needle, i + 1)) {
    if (i % 2 === 0) return true;
  }
  return false;
}

/** Starts capturing every UDP datagram on loopback; resolves once the raw socket is bound. */
export async function startSniffer(): Promise<Sniffer> {
  const child = new Deno.Command("python3", {
    args: ["-c", SNIFFER],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let captured = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) captured += decoder.decode(chunk, { stream: true });
  })();
  await eventually(() => captured.startsWith("ready"), { what: "sniffer", timeoutMs: 10_000 });
  return {
    datagrams: (ports) =>
      captured.split("\n").slice(1).map((l) => l.split(" ")).filter((f) => f.length === 3)
        .map(([src, dst, hex]) => ({ src: Number(src), dst: Number(dst), hex: hex! }))
        .filter((d) => ports === undefined || ports.has(d.src) || ports.has(d.dst)),
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

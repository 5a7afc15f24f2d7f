// Issue 15: `olaf-bootstrap --shards N` runs N bootstrap processes (shards) on one machine, on
// ports P..P+N-1 (control planes on H+1..H+N with --http H), and with --http one control plane
// on H that adds up their /stats. Rooms stay on one shard because the peers pick it: every member
// of a room ranks the bootstraps it was given by rendezvous hashing of the room name
// (peer/_util.ts rendezvousOrder) and fails over to the next after unanswered heartbeats, where
// its member report rebuilds the room. That is also why SO_REUSEPORT is no option: the kernel
// would spread one room's datagrams over processes that do not share the room.
import { getLogger } from "@logtape/logtape";
import { controlLimitOptions, type ControlServer, serveControl } from "@olaf/control";
import { listenForStop, stopStatus, UsageError, watchLauncher } from "@olaf/protocol/_cli";

const logger = getLogger(["olaf", "bootstrap", "shards"]);

/** Most shards one `--shards` starts. */
export const MAX_SHARDS = 64;
/** The environment variable that tells a shard its parent's pid (it stops when the parent goes). */
const PARENT_ENV = "OLAF_SHARD_PARENT";

/** What the sharding parent needs of the parsed settings. */
export interface ShardSettings {
  shards: number;
  host: string;
  port: number;
  http: number | undefined;
  /** Control-plane limits by flag name, for the aggregating control plane. */
  control: Record<string, number>;
}

/** One running shard, as its start-up line announced it. */
interface Shard {
  index: number;
  child: Deno.ChildProcess;
  udp: string;
  control: string | undefined;
  exited: Promise<Deno.CommandStatus>;
}

/** Checks that N shards fit the port range (P..P+N-1, and H+1..H+N for --http H). */
export function checkShardPorts(settings: ShardSettings): void {
  const n = settings.shards;
  if (settings.port !== 0 && settings.port + n - 1 > 65535) {
    throw new UsageError(`--shards ${n} from --port ${settings.port} runs past port 65535`);
  }
  if (settings.http !== undefined && settings.http !== 0 && settings.http + n > 65535) {
    throw new UsageError(`--shards ${n} from --http ${settings.http} runs past port 65535`);
  }
}

/** The shard's own arguments: the parent's, without --shards, with its own ports (flags win). */
function shardArgs(args: readonly string[], settings: ShardSettings, index: number): string[] {
  const own: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--shards") i++;
    else if (!arg.startsWith("--shards=")) own.push(arg);
  }
  const port = settings.port === 0 ? 0 : settings.port + index;
  // "--shards 1": a config file's "shards" key must not make the shard a parent too.
  own.push("--shards", "1", "--port", String(port));
  if (settings.http !== undefined) {
    own.push("--http", String(settings.http === 0 ? 0 : settings.http + 1 + index));
  }
  return own;
}

function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Starts one shard and waits for its start-up line; its output is passed on, prefixed. */
async function startShard(
  args: readonly string[],
  settings: ShardSettings,
  index: number,
): Promise<Shard> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("./mod.ts", import.meta.url).href,
      ...shardArgs(args, settings, index),
    ],
    env: { [PARENT_ENV]: String(Deno.pid) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const prefix = `shard ${index}: `;
  const ready = Promise.withResolvers<{ udp: string; control: string | undefined }>();
  const pass = async (stream: ReadableStream<Uint8Array>, out: (line: string) => void) => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        const m = /^olaf bootstrap listening on udp:\/\/(\S+)(?: \(control plane (http\S+)\))?/
          .exec(line);
        if (m) ready.resolve({ udp: m[1]!, control: m[2]?.replace(/\/$/, "") });
        out(prefix + line);
      }
    }
    if (rest !== "") out(prefix + rest);
  };
  const piping = Promise.all([
    pass(child.stdout, (line) => console.log(line)),
    pass(child.stderr, (line) => console.error(line)),
  ]);
  const exited = piping.then(() => child.status);
  exited.then((status) =>
    ready.reject(new Error(`shard ${index} exited with code ${status.code}`))
  );
  const { udp, control } = await ready.promise;
  return { index, child, udp, control, exited };
}

/**
 * Runs `settings.shards` bootstrap processes and, with --http, the aggregating control plane,
 * until SIGINT/SIGTERM or `signal`; stops the shards with SIGTERM.
 *
 * @returns The exit status: as the single-process CLI's (1 when a shard or the control plane
 *   cannot start, or when every shard has died).
 */
export async function runShards(
  args: readonly string[],
  settings: ShardSettings,
  options: { signal?: AbortSignal; handleSignals?: boolean },
): Promise<number> {
  const stopped = Promise.withResolvers<string>();
  const handle = options.handleSignals ?? true;
  using stop = handle ? listenForStop() : undefined;
  stop?.signal.addEventListener("abort", () => stopped.resolve(stop?.received ?? "signal"), {
    once: true,
  });
  using _launcher = handle ? watchLauncher(() => stopped.resolve("launcher exit")) : undefined;
  const onAbort = () => stopped.resolve("abort");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const started = await Promise.allSettled(
    Array.from({ length: settings.shards }, (_, i) => startShard(args, settings, i)),
  );
  const shards = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const stopAll = async () => {
    for (const shard of shards) {
      try {
        shard.child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(shards.map((shard) => shard.exited));
  };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stopAll();
    console.error(`olaf-bootstrap: cannot start the shards: ${(failed.reason as Error).message}`);
    return 1;
  }

  let control: ControlServer | undefined;
  if (settings.http !== undefined) {
    try {
      control = await serveControl({
        hostname: settings.host,
        port: settings.http,
        shards: shards.map((shard) => shard.control!),
        ...controlLimitOptions(settings.control),
      });
    } catch (error) {
      await stopAll();
      const where = formatHostPort(settings.host, settings.http);
      console.error(`olaf-bootstrap: cannot listen on HTTP ${where}: ${(error as Error).message}`);
      return 1;
    }
  }

  let alive = shards.length;
  for (const shard of shards) {
    shard.exited.then((status) => {
      if (stop?.signal.aborted || options.signal?.aborted) return;
      // Pre-formatted: logtape would quote the strings.
      logger.warn(
        `shard ${shard.index} (udp://${shard.udp}, pid ${shard.child.pid}) exited with code ` +
          `${status.code}; its rooms move to the next bootstrap in each room's rendezvous order`,
      );
      if (--alive === 0) stopped.resolve("every shard exited");
    });
  }
  const list = shards.map((shard) => shard.udp);
  console.log(
    `olaf bootstrap shards listening on ${list.map((a) => `udp://${a}`).join(",")}` +
      (control
        ? ` (control plane http://${
          formatHostPort(control.addr.hostname, control.addr.port)
        }/ over ${shards.length} shards)`
        : "") +
      ` pids ${shards.map((shard) => shard.child.pid).join(",")}; peers: --bootstrap ${
        list.join(",")
      }`,
  );

  const reason = await stopped.promise;
  logger.info("stopping the shards on {reason}", { reason });
  options.signal?.removeEventListener("abort", onAbort);
  await control?.shutdown();
  await stopAll();
  return reason === "every shard exited" ? 1 : stopStatus(reason);
}

/**
 * In a shard: calls `onGone` when the `--shards` parent that started it is gone (so a killed
 * parent leaves no shard behind). Nothing outside a shard.
 */
export function watchShardParent(onGone: () => void, intervalMs = 500): Disposable {
  let parent: number;
  try {
    parent = Number(Deno.env.get(PARENT_ENV));
  } catch {
    parent = NaN; // no --allow-env
  }
  if (!(parent > 1) || Deno.build.os !== "linux") return { [Symbol.dispose]() {} };
  const timer = setInterval(() => {
    if (Deno.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return { [Symbol.dispose]: () => clearInterval(timer) };
}

// `olaf-peer --http PORT`: runs a node (node.ts) until Ctrl-C, SIGTERM or POST /leave.
import type { CliIo } from "./cli.ts";
import { startNode } from "./node.ts";
import { JoinError, type JoinRoomOptions } from "./room.ts";

export interface NodeCliOptions {
  http: string;
  httpHost: string | undefined;
  httpToken: string | undefined;
  name: string | undefined;
  room: string;
  bootstraps: string[];
  join: Omit<JoinRoomOptions, "bootstraps" | "signal">;
  json: boolean;
}

export async function runNode(
  options: NodeCliOptions,
  io: CliIo,
  fail: (message: string, status: number) => number,
): Promise<number> {
  const port = Number(options.http);
  if (!/^\d+$/.test(options.http) || port > 65535) return fail("--http must be 0..65535", 2);
  let token = options.httpToken;
  if (token === undefined) {
    try {
      token = Deno.env.get("OLAF_NODE_TOKEN") || undefined;
    } catch {
      // No env permission: no token from the environment.
    }
  }
  const host = options.httpHost ?? "127.0.0.1";
  let node;
  try {
    node = await startNode({
      bootstraps: options.bootstraps,
      room: options.room,
      name: options.name,
      httpPort: port,
      httpHostname: host,
      token,
      join: options.join,
    });
  } catch (error) {
    if (error instanceof JoinError) return fail(error.message, 1);
    if (error instanceof RangeError) return fail(error.message, 2);
    if (error instanceof Error) return fail(error.message, 1);
    throw error;
  }
  const self = node.room.self;
  if (options.json) {
    io.out(JSON.stringify({
      event: "node",
      url: node.url,
      node_id: node.nodeId,
      friendly_name: node.name,
      self: { ip: self.ip, port: self.port, id: self.id },
    }));
  } else {
    io.out(
      `* node ${JSON.stringify(node.name)} (${node.nodeId}) joined room ` +
        `${JSON.stringify(options.room)} as ${self.ip}:${self.port}; API at ${node.url}`,
    );
    if (host !== "127.0.0.1" && host !== "localhost" && !token) {
      io.err("! the API listens beyond this machine without --http-token: anyone can use it");
    }
  }
  let stopSignals = () => {};
  try {
    const stop = () => void node.leave();
    Deno.addSignalListener("SIGTERM", stop);
    stopSignals = () => Deno.removeSignalListener("SIGTERM", stop);
  } catch {
    // No signals here (some sandboxes): Ctrl-C (io.interrupt) and POST /leave still work.
  }
  const interrupted = new Promise<void>((resolve) => {
    if (io.interrupt?.aborted) resolve();
    io.interrupt?.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([node.left, interrupted]);
  stopSignals();
  await node.close();
  if (options.json) io.out(JSON.stringify({ event: "left" }));
  else io.out("* left");
  return 0;
}

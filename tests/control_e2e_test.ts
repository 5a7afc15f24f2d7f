// End to end: the real bootstrap CLI with `--http`, real UDP peers on
// loopback, and the control plane's /stats, /rooms/:name, /events and
// /metrics reflecting them.
import assert from "node:assert/strict";
import { decode, encode } from "@olaf/protocol";

const BOOTSTRAP = new URL("../bootstrap/mod.ts", import.meta.url).pathname;

interface Running {
  udpPort: number;
  http: URL;
  child: Deno.ChildProcess;
}

async function startBootstrap(extraArgs: string[] = []): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      BOOTSTRAP,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--http",
      "0",
      ...extraArgs,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const pattern = /udp:\/\/127\.0\.0\.1:(\d+) \(control plane (http:\/\/\S+?\/)\)/;
  // A bootstrap that hangs before its start-up line is killed, which ends stdout.
  const startTimer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  for (let i = 0; i < 50 && !pattern.test(text); i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  clearTimeout(startTimer);
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  const match = text.match(pattern);
  if (!match) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`no start-up line from the bootstrap: ${JSON.stringify(text)}`);
  }
  return { udpPort: Number(match[1]), http: new URL(match[2]), child };
}

/**
 * Reads the SSE stream until `done(text)` holds, for at most `ms`; returns
 * everything read (a stream that stalls or ends just returns what came).
 */
async function readEventsUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  text: string,
  done: (text: string) => boolean,
  ms = 5000,
): Promise<string> {
  const decoder = new TextDecoder();
  const deadline = Date.now() + ms;
  while (!done(text) && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
    });
    const chunk = await Promise.race([reader.read(), stalled]);
    clearTimeout(timer);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text;
}

/** Sends JOIN_B from a fresh loopback socket and waits (bounded) for BOOTSTRAP_R. */
async function join(socket: Deno.DatagramConn, udpPort: number, room: string) {
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: udpPort };
  await socket.send(encode({ type: "JOIN_B", peers: [], room }), target);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no BOOTSTRAP_R within 5 s")), 5000);
  });
  try {
    const [bytes] = await Promise.race([socket.receive(), timeout]);
    const reply = decode(bytes);
    if (reply.type !== "BOOTSTRAP_R") throw new Error(`expected BOOTSTRAP_R, got ${reply.type}`);
    return reply.self;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("e2e: bootstrap --http reports real UDP peers in /stats, /rooms/:name, /events, /metrics", async () => {
  const { udpPort, http, child } = await startBootstrap();
  const sockets: Deno.DatagramConn[] = [];
  let events: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    const health = await (await fetch(new URL("/health", http))).json();
    assert.equal(health.bootstrap, true);

    const res = await fetch(new URL("/events", http));
    assert.equal(res.status, 200);
    events = res.body!.getReader();
    let sse = await readEventsUntil(events, "", (text) => text.includes("\n\n"));
    assert.match(sse, /^: olaf events\n\n/);

    const room = "e2e room ü";
    const records = [];
    for (let i = 0; i < 2; i++) {
      const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      sockets.push(socket);
      records.push(await join(socket, udpPort, room));
    }
    const ports = sockets.map((s) => (s.addr as Deno.NetAddr).port);
    assert.deepEqual(records.map((r) => r.port), ports);

    const stats = await (await fetch(new URL("/stats", http))).json();
    assert.equal(stats.rooms, 1);
    assert.equal(stats.members, 2);
    assert.ok(stats.datagramsIn >= 2);
    assert.ok(stats.datagramsOut >= 2);
    assert.ok(stats.bytesIn > 0);

    const detail = await (await fetch(new URL(`/rooms/${encodeURIComponent(room)}`, http))).json();
    assert.equal(detail.name, room);
    assert.equal(detail.memberCount, 2);
    const members = detail.members
      .map((m: { ip: string; port: number; id: number }) => ({ ip: m.ip, port: m.port, id: m.id }))
      .sort((a: { port: number }, b: { port: number }) => a.port - b.port);
    const expected = records.map((r) => ({ ip: "127.0.0.1", port: r.port, id: r.id }))
      .sort((a, b) => a.port - b.port);
    assert.deepEqual(members, expected);

    const list = await (await fetch(new URL("/rooms", http))).json();
    assert.equal(list.total, 1);
    assert.equal(list.rooms[0].memberCount, 2);

    // The event stream saw the room appear and both members join.
    sse = await readEventsUntil(
      events,
      sse,
      (text) => (text.match(/event: member-joined/g) ?? []).length >= 2,
    );
    assert.match(sse, /event: room-created\ndata: \{[^\n]*"room":"e2e room ü"/);
    for (const port of ports) assert.ok(sse.includes(`"port":${port}`), `no event for ${port}`);

    const metrics = await (await fetch(new URL("/metrics", http))).text();
    assert.match(metrics, /^olaf_rooms 1$/m);
    assert.match(metrics, /^olaf_members 2$/m);

    const missing = await fetch(new URL("/rooms/nope", http));
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await events?.cancel().catch(() => {});
    for (const socket of sockets) socket.close();
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.success, true, `bootstrap exited with ${status.code}`);
  }
});

Deno.test("e2e: a room that goes quiet expires; /events and /stats say so", async () => {
  const { udpPort, http, child } = await startBootstrap(["--timeout", "0.5"]);
  let socket: Deno.DatagramConn | undefined;
  let events: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    events = (await fetch(new URL("/events", http))).body!.getReader();
    let sse = await readEventsUntil(events, "", (text) => text.includes("\n\n"));
    socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const self = await join(socket, udpPort, "quiet");
    // The peer never speaks again: after the 0.5 s timeout it and its room are gone.
    sse = await readEventsUntil(events, sse, (text) => text.includes("event: room-expired"));
    const names = [...sse.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(names, ["room-created", "member-joined", "member-left", "room-expired"]);
    const left = JSON.parse(/event: member-left\ndata: (.*)/.exec(sse)![1]);
    assert.deepEqual(left.member, { ip: "127.0.0.1", port: self.port, id: self.id });
    assert.ok(left.reason === "expired" || left.reason === "room-expired", left.reason);

    const stats = await (await fetch(new URL("/stats", http))).json();
    assert.equal(stats.rooms, 0);
    assert.equal(stats.members, 0);
    const gone = await fetch(new URL("/rooms/quiet", http));
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  } finally {
    await events?.cancel().catch(() => {});
    socket?.close();
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.success, true, `bootstrap exited with ${status.code}`);
  }
});

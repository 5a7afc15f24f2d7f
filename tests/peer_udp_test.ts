/**
 * Real UDP on loopback: the library and the CLI (`--json`) against the real
 * bootstrap. Every wait is bounded; nothing asserts on wall-clock time.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { joinRoom, type Room } from "@olaf/peer";
import { bindDatagram } from "@olaf/protocol/net";
import { eventually } from "@olaf/protocol/testing";

const ROOT = new URL("..", import.meta.url);
const PEER_MOD = new URL("peer/mod.ts", ROOT).pathname;
const CHAT_EXAMPLE = new URL("examples/chat.ts", ROOT).pathname;

Deno.test("library over real UDP: join, see each other, message, bye", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  const options = { bootstraps: [spec], hostname: "127.0.0.1", heartbeatMs: 200 };
  await using alice = await joinRoom("udp-room", options);
  const bob = await joinRoom("udp-room", options);
  await eventually(() => alice.peers.length === 1 && bob.peers.length === 1, {
    what: "membership",
  });
  assert.deepEqual(alice.peers, [bob.self]);
  assert.deepEqual(bob.peers, [alice.self]);

  const inbox = alice.messages()[Symbol.asyncIterator]();
  bob.sendTo(alice.self, "hi alice");
  const { value } = await inbox.next();
  assert.equal(value.text(), "hi alice");
  assert.deepEqual(value.from, bob.self);

  const reason = new Promise((resolve) => alice.onPeerLeave((_p, why) => resolve(why)));
  await bob.leave();
  assert.equal(await reason, "bye");
  assert.deepEqual(alice.peers, []);
});

/** A CLI child (the peer CLI, or another script) with its output lines collected as they come. */
class CliPeer {
  readonly child: Deno.ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly stdout: string[] = [];
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly done: Promise<void>;

  constructor(args: string[], script = PEER_MOD) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    const lines = async (stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) => {
      let buffer = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let i;
        while ((i = buffer.indexOf("\n")) >= 0) {
          onLine(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
        }
      }
      if (buffer) onLine(buffer);
    };
    this.done = Promise.all([
      lines(this.child.stdout, (l) => {
        this.stdout.push(l);
        if (l.startsWith("{")) this.events.push(JSON.parse(l));
      }),
      lines(this.child.stderr, (l) => this.stderr.push(l)),
    ]).then(() => {});
  }

  find(event: string, match: (e: Record<string, unknown>) => boolean = () => true) {
    return this.events.find((e) => e.event === event && match(e));
  }

  async waitFor(event: string, match?: (e: Record<string, unknown>) => boolean) {
    await eventually(() => this.find(event, match) !== undefined, { what: `${event} event` });
    return this.find(event, match)!;
  }

  async type(line: string): Promise<void> {
    await this.write(line + "\n");
  }

  async write(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  async close(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    const status = await this.child.status;
    await this.done;
    return status;
  }
}

Deno.test("CLI --json: joined, peer-joined, message, peer-left on EOF (bye)", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  const args = ["--bootstrap", spec, "--room", "cli-room", "--json", "--heartbeat", "0.3"];
  const a = new CliPeer(args);
  const aJoined = await a.waitFor("joined");
  const b = new CliPeer(args);
  try {
    const bJoined = await b.waitFor("joined");
    const aSelf = aJoined.self as { ip: string; port: number; id: number };
    const bSelf = bJoined.self as { ip: string; port: number; id: number };
    assert.deepEqual(Object.keys(aSelf), ["ip", "port", "id"]);
    assert.equal(aSelf.ip, "127.0.0.1");
    assert.ok(bSelf.id > aSelf.id, "ids increase with join time");

    assert.deepEqual(await a.waitFor("peer-joined"), { event: "peer-joined", peer: bSelf });
    assert.deepEqual(await b.waitFor("peer-joined"), { event: "peer-joined", peer: aSelf });

    await b.type("hello from b");
    assert.deepEqual(await a.waitFor("message"), {
      event: "message",
      from: bSelf,
      data: "hello from b",
    });

    const bStatus = await b.close(); // EOF: leave with bye
    assert.equal(bStatus.code, 0);
    assert.deepEqual(await a.waitFor("peer-left"), {
      event: "peer-left",
      peer: bSelf,
      reason: "bye",
    });
  } finally {
    await b.close();
    assert.equal((await a.close()).code, 0);
  }
});

Deno.test("CLI --json, one-shot script: a piped line reaches the room before the bye", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  await using watcher = await joinRoom("pipe-room", { bootstraps: [spec], hostname: "127.0.0.1" });
  const seen: string[] = [];
  watcher.onMessage((m) => seen.push(`message ${m.text()}`));
  watcher.onPeerLeave((_p, reason) => seen.push(`left ${reason}`));
  // Like `echo "ünïcode line" | olaf-peer ... --json`: the line is there before the join.
  const cli = new CliPeer(["--bootstrap", spec, "--room", "pipe-room", "--json"]);
  await cli.type("ünïcode line");
  await cli.write("crlf line\r\nlast line, no newline\r"); // Windows line ends, unterminated end
  assert.equal((await cli.close()).code, 0);
  assert.ok(cli.find("joined"));
  await eventually(() => seen.length === 4, { what: "the messages and the bye" });
  assert.deepEqual(seen, [
    "message ünïcode line",
    "message crlf line",
    "message last line, no newline",
    "left bye",
  ]);
});

Deno.test("CLI: SIGINT leaves the room with bye and exits 130", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  await using watcher = await joinRoom("sigint-room", {
    bootstraps: [spec],
    hostname: "127.0.0.1",
  });
  const left = new Promise((resolve) => watcher.onPeerLeave((_p, reason) => resolve(reason)));
  const cli = new CliPeer(["--bootstrap", spec, "--room", "sigint-room", "--json"]);
  try {
    await cli.waitFor("peer-joined");
    await eventually(() => watcher.peers.length === 1, { what: "the CLI peer" });
    cli.child.kill("SIGINT");
    assert.equal(await left, "bye");
  } finally {
    assert.equal((await cli.close()).code, 130, "Ctrl-C exits 130, as shells expect");
  }
});

Deno.test("CLI for people: member changes and messages, control characters neutralised", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  const cli = new CliPeer(["--bootstrap", spec, "--room", "human-room"]);
  try {
    await eventually(() => cli.stdout.some((l) => l.startsWith("* joined room")), {
      what: "joined line",
    });
    const friend = await joinRoom("human-room", { bootstraps: [spec], hostname: "127.0.0.1" });
    const name = `${friend.self.ip}:${friend.self.port}`;
    await eventually(() => cli.stdout.includes(`* ${name} (id ${friend.self.id}) joined`), {
      what: "join line",
    });
    friend.send("hi \x1b[2Jthere");
    await eventually(() => cli.stdout.includes(`<${name}> hi \\u001b[2Jthere`), {
      what: "message line",
    });
    await friend.leave();
    await eventually(() => cli.stdout.includes(`* ${name} (id ${friend.self.id}) left (bye)`), {
      what: "leave line",
    });
  } finally {
    assert.equal((await cli.close()).code, 0);
  }
});

Deno.test("CLI: ROOM_FULL is a clear error with a non-zero exit", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0, maxRooms: 1 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  await using _first: Room = await joinRoom("only-room", { bootstraps: [spec] });
  const cli = new CliPeer(["--bootstrap", spec, "--room", "second-room", "--json"]);
  const status = await cli.close();
  assert.equal(status.code, 1);
  const error = cli.find("error") as { message: string } | undefined;
  assert.match(error?.message ?? "", /ROOM_FULL/);
  assert.match(cli.stderr.join("\n"), /ROOM_FULL/);
});

Deno.test("CLI: bad arguments exit 2 with a message", async () => {
  for (
    const args of [
      ["--room", "x"],
      ["--room", "x", "--bootstrap", "127.0.0.1"],
      ["--room", "x", "--bootstrap", "[::1]:5000"],
      ["--room", "x", "--bootstrap", "127.0.0.1:5000", "--heartbeat", "soon"],
      ["--unknown"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", PEER_MOD, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /olaf-peer: /);
  }
});

Deno.test("examples/chat.ts: talks both ways, a line cut across writes goes whole, Ctrl-C says bye", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  await using watcher = await joinRoom("example-room", {
    bootstraps: [spec],
    hostname: "127.0.0.1",
  });
  const seen: string[] = [];
  watcher.onMessage((m) => seen.push(m.text()));
  const left = new Promise((resolve) => watcher.onPeerLeave((_p, reason) => resolve(reason)));
  const chat = new CliPeer([spec, "example-room"], CHAT_EXAMPLE);
  try {
    await eventually(() => chat.stdout.some((l) => l.startsWith("joined example-room as")), {
      what: "joined",
    });
    const me = `${watcher.self.ip}:${watcher.self.port}`;
    await eventually(() => chat.stdout.includes(`+ ${me}`), { what: "the watcher listed" });
    watcher.send("hi example");
    await eventually(() => chat.stdout.includes(`<${me}> hi example`), { what: "message shown" });
    await chat.write("hel");
    await new Promise((r) => setTimeout(r, 100)); // a separate chunk of input
    await chat.write("lo there\n");
    await eventually(() => seen.length === 1, { what: "the line" });
    assert.deepEqual(seen, ["hello there"]);
    chat.child.kill("SIGINT");
    assert.equal(await left, "bye");
  } finally {
    assert.equal((await chat.close()).code, 0);
  }
});

Deno.test("examples/chat.ts: end of input leaves with bye", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const spec = `127.0.0.1:${server.localAddress.port}`;
  await using watcher = await joinRoom("example-eof", {
    bootstraps: [spec],
    hostname: "127.0.0.1",
  });
  const seen: string[] = [];
  watcher.onMessage((m) => seen.push(m.text()));
  watcher.onPeerLeave((_p, reason) => seen.push(reason));
  const chat = new CliPeer([spec, "example-eof"], CHAT_EXAMPLE);
  await chat.type("last words");
  assert.equal((await chat.close()).code, 0);
  await eventually(() => seen.length === 2, { what: "the line and the bye" });
  assert.deepEqual(seen, ["last words", "bye"]);
});

Deno.test("library over real UDP: a bye reaches every member, not only the first", async () => {
  await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const options = {
    bootstraps: [`127.0.0.1:${server.localAddress.port}`],
    hostname: "127.0.0.1",
    heartbeatMs: 200,
  };
  const rooms: Room[] = [];
  for (let i = 0; i < 5; i++) rooms.push(await joinRoom("bye-room", options));
  await eventually(() => rooms.every((r) => r.peers.length === 4), { what: "membership" });
  const [leaving, ...rest] = rooms;
  const reasons: string[] = [];
  for (const r of rest) r.onPeerLeave((_p, reason) => reasons.push(reason));
  await leaving!.leave();
  await eventually(() => reasons.length === 4, { what: "a bye at every member" });
  assert.deepEqual(reasons, ["bye", "bye", "bye", "bye"]);
  await Promise.all(rest.map((r) => r.leave()));
});

Deno.test("examples/chat.ts: with the bootstrap down, one line and exit 1 (no stack trace)", async () => {
  // A bound socket that never answers stands for a bootstrap that is down: the join times out.
  await using down = await bindDatagram({ hostname: "127.0.0.1", port: 0 });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHAT_EXAMPLE, `127.0.0.1:${down.localAddress.port}`, "lobby"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 1);
  assert.equal(
    new TextDecoder().decode(stderr),
    `chat: no answer from the bootstrap within 15000 ms (tried 127.0.0.1:${down.localAddress.port})\n`,
  );
});

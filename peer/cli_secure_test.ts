// The CLI's secure-room options, and secure rooms over real UDP: three CLI peers sharing a secret
// and a fourth with a wrong one, with loopback sniffed (raw socket, as root) to show the typed
// lines never travel in the clear.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { eventually } from "@olaf/protocol/testing";
import { type CliIo, main } from "./cli.ts";

function io(env: Record<string, string> = {}): CliIo & { lines: string[]; errors: string[] } {
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

Deno.test("cli: keygen prints a random 32-byte secret as 64 hex digits", async () => {
  const a = io();
  const b = io();
  assert.equal(await main(["keygen"], a), 0);
  assert.equal(await main(["keygen"], b), 0);
  assert.match(a.lines[0]!, /^[0-9a-f]{64}$/);
  assert.notEqual(a.lines[0], b.lines[0]);
});

Deno.test("cli: --print-public-key creates the identity file (0600) once and prints its key", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/me.json`;
  const a = io();
  assert.equal(await main(["--identity", file, "--print-public-key"], a), 0);
  assert.match(a.lines[0]!, /^[0-9a-f]{64}$/);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  const b = io();
  assert.equal(await main(["--identity", file, "--print-public-key"], b), 0);
  assert.deepEqual(b.lines, a.lines, "the same identity on the next run");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: bad keys, secrets and identity files are one line and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const open = `${dir}/open.json`;
  await Deno.writeTextFile(open, "{}", { mode: 0o644 });
  await Deno.chmod(open, 0o644);
  const garbage = `${dir}/garbage.json`;
  await Deno.writeTextFile(garbage, "hello", { mode: 0o600 });
  const empty = `${dir}/empty`;
  await Deno.writeTextFile(empty, "\n");
  const secret = `${dir}/secret`;
  await Deno.writeTextFile(secret, "s3cret\n");
  const base = ["--room", "x", "--bootstrap", "127.0.0.1:5000"];
  const cases: [string[], RegExp][] = [
    [["--print-public-key"], /--print-public-key needs --identity FILE/],
    [[...base, "--secret-file", secret, "--allow", "abc"], /--allow: not an Olaf public key/],
    [[...base, "--allow", "ab".repeat(32)], /--allow needs a secure room/],
    [[...base, "--secret-file", `${dir}/missing`], /--secret-file .*missing: cannot read it/],
    [[...base, "--secret-file", empty], /--secret-file .*empty is empty/],
    [[...base, "--identity", open], /readable by others \(mode 644\); run chmod 600/],
    [[...base, "--identity", garbage], /not an Olaf identity file/],
    [["keygen", "extra"], /keygen takes no arguments/],
  ];
  for (const [args, why] of cases) {
    const x = io();
    assert.equal(await main(args, x), 2, args.join(" "));
    assert.match(x.errors[0]!, why);
    assert.equal(x.errors.length, 2, x.errors.join("\n"));
    assert.equal(x.errors[1], "Run with --help for usage.");
  }
  const help = io();
  await main(["--help"], help);
  for (const flag of ["--secret-file", "--identity", "--allow", "--print-public-key", "keygen"]) {
    assert.ok(help.lines[0]!.includes(flag), flag);
  }
  await Deno.remove(dir, { recursive: true });
});

const cli = new URL("mod.ts", import.meta.url).pathname;

/** A CLI peer process in `--json` mode; its stdout lines parsed as they come. */
function spawnPeer(secret: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--json", "--hostname", "127.0.0.1", ...args],
    env: { OLAF_ROOM_SECRET: secret, NO_COLOR: "1" },
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
    events: () => events,
    type: (line: string) => writer.write(new TextEncoder().encode(line + "\n")),
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

async function canSniff(): Promise<boolean> {
  if (Deno.uid?.() !== 0) return false;
  try {
    const out = await new Deno.Command("python3", { args: ["-c", "import socket"] }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "cli over real UDP: three peers share a secret, a fourth with a wrong one gets nothing; " +
    "no typed line appears in any datagram",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sniff = await canSniff();
    const sniffer = sniff
      ? new Deno.Command("python3", { args: ["-c", SNIFFER], stdout: "piped", stderr: "null" })
        .spawn()
      : undefined;
    let captured = "";
    const reading = (async () => {
      if (!sniffer) return;
      const decoder = new TextDecoder();
      for await (const chunk of sniffer.stdout) captured += decoder.decode(chunk);
    })();
    if (sniffer) {
      await eventually(() => captured.startsWith("ready"), { what: "sniffer", timeoutMs: 10_000 });
    }

    await using boot = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    const bootstrap = `127.0.0.1:${boot.localAddress.port}`;
    const args = [
      "--room",
      "ops-room-2026",
      "--bootstrap",
      bootstrap,
      "--hostname",
      "127.0.0.1",
      "--json",
      "--heartbeat",
      "0.5",
    ];
    const right = "b7e2f0c4d5a6978812ab34cd56ef7890b7e2f0c4d5a6978812ab34cd56ef7890";
    const peers = [spawnPeer(right, args), spawnPeer(right, args), spawnPeer(right, args)];
    const mallory = spawnPeer("not the secret", args);
    type Peer = typeof mallory;
    const joined = (p: Peer) =>
      p.events().find((e) => e.event === "joined")?.self as
        | { port: number; publicKey: string }
        | undefined;
    await eventually(() => [...peers, mallory].every((p) => joined(p) !== undefined), {
      what: "all joined",
      timeoutMs: 60_000,
    });
    const keys = peers.map((p) => joined(p)!.publicKey);
    for (const k of keys) assert.match(k, /^[0-9a-f]{64}$/);
    const members = (p: Peer) =>
      p.events().filter((e) => e.event === "peer-joined").map((e) =>
        (e.peer as { publicKey: string }).publicKey
      );
    await eventually(() => peers.every((p) => members(p).length === 2), {
      what: "the three meet",
      timeoutMs: 15_000,
    });
    peers.forEach((p, i) =>
      assert.deepEqual(members(p).sort(), keys.filter((_, j) => j !== i).sort())
    );

    const lines = ["first secret line", "second secret line", "third secret line"];
    await Promise.all(peers.map((p, i) => p.type(lines[i]!)));
    await mallory.type("mallory was here");
    const got = (p: Peer) =>
      p.events().filter((e) => e.event === "message").map((e) =>
        `${(e.from as { publicKey: string }).publicKey}:${e.data}`
      );
    await eventually(() => peers.every((p) => got(p).length === 2), {
      what: "every line reaches the two others",
      timeoutMs: 15_000,
    });
    peers.forEach((p, i) =>
      assert.deepEqual(
        got(p).sort(),
        lines.map((l, j) => `${keys[j]}:${l}`).filter((_, j) => j !== i).sort(),
      )
    );
    assert.deepEqual(got(mallory), [], "the wrong secret never sees their messages");
    assert.deepEqual(members(mallory), [], "nor any member");
    const ends = await Promise.all([...peers, mallory].map((p) => p.close()));
    for (const end of ends) assert.equal(end.code, 0, end.stderr);

    if (sniffer) {
      await new Promise((r) => setTimeout(r, 200));
      sniffer.kill("SIGTERM");
      await reading.catch(() => {});
      await sniffer.status;
      const ports = new Set(
        [...peers, mallory].map((p) => joined(p)!.port),
      );
      const datagrams = captured.split("\n").slice(1).map((l) => l.split(" ")).filter((f) =>
        f.length === 3 && (ports.has(Number(f[0])) || ports.has(Number(f[1])))
      );
      const hexOf = (s: string) =>
        Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
      assert.ok(datagrams.some((f) => f[2]!.startsWith("13")), "SEALED datagrams were captured");
      // Byte-aligned search in the hex text.
      const carries = (hex: string, needle: string) => {
        for (let i = hex.indexOf(needle); i >= 0; i = hex.indexOf(needle, i + 1)) {
          if (i % 2 === 0) return true;
        }
        return false;
      };
      for (const line of [...lines, "ops-room-2026"]) {
        assert.ok(!datagrams.some((f) => carries(f[2]!, hexOf(line))), `${line} never in clear`);
      }
      console.log(`sniffed ${datagrams.length} datagrams on lo: none carries a typed line`);
    } else {
      console.log("not root or no python3: loopback not sniffed (the memory test covers it)");
    }
  },
});

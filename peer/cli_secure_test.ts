// The CLI's secure-room options, and secure rooms over real UDP: three CLI peers sharing a secret
// and a fourth with a wrong one, with loopback sniffed (raw socket, as root) to show the typed
// lines never travel in the clear.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { eventually } from "@olaf/protocol/testing";
import { main } from "./cli.ts";
import {
  carriesText,
  memoryIo,
  sniffSkipReason,
  spawnCliPeer,
  startSniffer,
} from "../tests/_cli_peer.ts";

Deno.test("cli: keygen prints a random 32-byte secret as 64 hex digits", async () => {
  const a = memoryIo();
  const b = memoryIo();
  assert.equal(await main(["keygen"], a), 0);
  assert.equal(await main(["keygen"], b), 0);
  assert.match(a.lines[0]!, /^[0-9a-f]{64}$/);
  assert.notEqual(a.lines[0], b.lines[0]);
});

Deno.test("cli: --print-public-key creates the identity file (0600) once and prints its key", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/me.json`;
  const a = memoryIo();
  assert.equal(await main(["--identity", file, "--print-public-key"], a), 0);
  assert.match(a.lines[0]!, /^[0-9a-f]{64}$/);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  const b = memoryIo();
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
    const x = memoryIo();
    assert.equal(await main(args, x), 2, args.join(" "));
    assert.match(x.errors[0]!, why);
    assert.equal(x.errors.length, 2, x.errors.join("\n"));
    assert.equal(x.errors[1], "Run with --help for usage.");
  }
  const help = memoryIo();
  await main(["--help"], help);
  for (const flag of ["--secret-file", "--identity", "--allow", "--print-public-key", "keygen"]) {
    assert.ok(help.lines[0]!.includes(flag), flag);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "cli over real UDP: three peers share a secret, a fourth with a wrong one gets nothing; " +
    "no typed line appears in any datagram",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const skip = await sniffSkipReason();
    await using sniffer = skip === undefined ? await startSniffer() : undefined;

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
    const peers = [
      spawnCliPeer(args, { OLAF_ROOM_SECRET: right }),
      spawnCliPeer(args, { OLAF_ROOM_SECRET: right }),
      spawnCliPeer(args, { OLAF_ROOM_SECRET: right }),
    ];
    const mallory = spawnCliPeer(args, { OLAF_ROOM_SECRET: "not the secret" });
    type Peer = typeof mallory;
    const joined = (p: Peer) =>
      p.events.find((e) => e.event === "joined")?.self as
        | { port: number; publicKey: string }
        | undefined;
    await eventually(() => [...peers, mallory].every((p) => joined(p) !== undefined), {
      what: "all joined",
      timeoutMs: 60_000,
    });
    const keys = peers.map((p) => joined(p)!.publicKey);
    for (const k of keys) assert.match(k, /^[0-9a-f]{64}$/);
    const members = (p: Peer) =>
      p.events.filter((e) => e.event === "peer-joined").map((e) =>
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
      p.events.filter((e) => e.event === "message").map((e) =>
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
      const ports = new Set([...peers, mallory].map((p) => joined(p)!.port));
      const datagrams = sniffer.datagrams(ports);
      assert.ok(datagrams.some((d) => d.hex.startsWith("13")), "SEALED datagrams were captured");
      for (const line of [...lines, "ops-room-2026"]) {
        assert.ok(!datagrams.some((d) => carriesText(d.hex, line)), `${line} never in clear`);
      }
      console.log(`sniffed ${datagrams.length} datagrams on lo: none carries a typed line`);
    } else {
      console.log(`loopback not sniffed (${skip}; the memory test covers it)`);
    }
  },
});

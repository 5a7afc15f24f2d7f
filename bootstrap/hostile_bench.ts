/**
 * Issue 12's attacks on the bootstrap's v1 side, measured over loopback with
 * spoofed sources (root and gcc: `tests/spoof.c`), against this tree's
 * bootstrap and, with `--before DIR`, against another checkout's (say the
 * tree before issue 12) in the same run, each as its own CLI process with
 * its default limits. Prints one table: attack, before, after.
 *
 *   sudo deno run -A bootstrap/hostile_bench.ts --before /tmp/olaf-main
 *
 * @module
 */
import { decode, encode, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/net";
import { eventually } from "@olaf/protocol/testing";
import {
  buildSpoofer,
  fillRoom,
  receiver,
  type Spoofer,
  spoofSkipReason,
} from "../tests/_spoof.ts";

const join = (room: string, peers: PeerRecord[] = []) => encode({ type: "JOIN_B", peers, room });
const collect = (room: string, peers: PeerRecord[] = []) =>
  encode({ type: "PEER_COLLECTOR", peers, room });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Bootstrap {
  udp: NetAddress;
  http: string;
  stop(): Promise<void>;
}

async function start(tree: string, host: string): Promise<Bootstrap> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${tree}/bootstrap/mod.ts`, "--host", host, "--port", "0", "--http", "0"],
    cwd: tree,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let match: RegExpMatchArray | null = null;
  while (!(match = text.match(/udp:\/\/[\d.]+:(\d+) \(control plane (http:\S+\/)\)/))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`bootstrap in ${tree} did not start: ${text}`);
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    udp: { hostname: host, port: Number(match[1]) },
    http: match[2]!,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

const roomOf = async (b: Bootstrap, name: string) => {
  const res = await fetch(new URL(`rooms/${encodeURIComponent(name)}`, b.http));
  return res.ok ? await res.json() : undefined;
};

/** A room of 150 made-up members, from one real collector's report (sent twice). */
const fill = (b: Bootstrap, room: string) => fillRoom(b.udp, room);

type Attack = (b: Bootstrap, spoof: Spoofer, host: number) => Promise<string>;

const attacks: [string, Attack][] = [
  ["7-byte JOIN_B, room filled by a report: bytes back per request", async (b, spoof, h) => {
    const c = await fill(b, "");
    const victim = await receiver(`127.${h}.0.9`);
    await spoof.send(join(""), victim.address, b.udp, { count: 60, gapUs: 50_000 }); // 20/s, 3 s
    await sleep(500);
    const bytes = victim.got.reduce((n, d) => n + d.length, 0);
    await victim.socket.close();
    await c.socket.close();
    return `${(bytes / victim.got.length).toFixed(0)} B (${
      (bytes / (60 * 7)).toFixed(1)
    }x sustained)`;
  }],
  ["JOIN_B spread over 3000 spoofed victims: bytes out / bytes in", async (b, spoof, h) => {
    const c = await fill(b, "lobby");
    const sniff = spoof.sniff(b.udp.port, `127.${h + 100}.0.0`, 16, 30);
    await sniff.ready;
    const started = Date.now();
    await spoof.send(join("lobby"), { hostname: `127.${h + 100}.0.1`, port: 9999 }, b.udp, {
      count: 3000,
      sources: 3000,
      gapUs: 300,
    });
    const { bytes } = await sniff.done;
    const s = (Date.now() - started) / 1000 - 1; // the sniffer waits 1 s of silence
    await c.socket.close();
    return `${(bytes / (3000 * 12)).toFixed(1)}x, ${(bytes / s / 1024).toFixed(0)} KiB/s`;
  }],
  ["a non-member's PEER_COLLECTOR report: reply bytes / request bytes", async (b, _spoof, h) => {
    const c = await fill(b, "r");
    const stranger = await receiver(`127.${h}.0.7`);
    const report = collect("r", [{
      ip: stranger.address.hostname,
      port: stranger.address.port,
      id: 1,
    }]);
    stranger.socket.send(report, b.udp);
    await eventually(() => stranger.got.length === 1, { what: "the stranger's reply" });
    const ratio = stranger.got[0]!.length / report.length;
    const room = await roomOf(b, "r");
    await stranger.socket.close();
    await c.socket.close();
    return `${ratio.toFixed(1)}x, ${room.memberCount} members left of 152`;
  }],
  ["third party's self-only reports, 10/s for 3 s: members left of 3", async (b, spoof, h) => {
    const alice = await receiver(`127.${h}.0.1`);
    const bob = await receiver(`127.${h}.0.2`);
    alice.socket.send(join("h"), b.udp);
    await eventually(() => alice.got.length === 1, { what: "alice's reply" });
    const self = (decode(alice.got[0]!) as { self: PeerRecord }).self;
    alice.socket.send(join("h", [self]), b.udp);
    bob.socket.send(join("h"), b.udp);
    await eventually(() => bob.got.length === 1, { what: "bob's reply" });
    const stranger = { hostname: `127.${h}.0.66`, port: 6666 };
    await spoof.send(
      collect("h", [{ ip: stranger.hostname, port: stranger.port, id: 5 }]),
      stranger,
      b.udp,
      { count: 30, gapUs: 100_000 },
    );
    const carol = await receiver(`127.${h}.0.3`);
    carol.socket.send(join("h"), b.udp);
    await eventually(() => carol.got.length === 1, { what: "carol's reply" });
    const told = decode(carol.got[0]!).peers.toArray().filter((p) =>
      p.ip !== carol.address.hostname
    );
    const members = ((await roomOf(b, "h"))?.members ?? []) as { ip: string }[];
    const left = [alice, bob].filter((x) => members.some((m) => m.ip === x.address.hostname));
    for (const x of [alice, bob, carol]) await x.socket.close();
    return `${left.length + 1} of 3; a newcomer meets ${
      told.some((p) => p.ip === alice.address.hostname) ? "the collector" : "only the attacker"
    }`;
  }],
  ["JOIN_B claiming id 1 in a room: id granted", async (b, spoof, h) => {
    const alice = await receiver(`127.${h}.0.1`);
    alice.socket.send(join("ids"), b.udp);
    await eventually(() => alice.got.length === 1, { what: "alice's reply" });
    const x = { hostname: `127.${h}.0.67`, port: 6767 };
    await spoof.send(join("ids", [{ ip: x.hostname, port: x.port, id: 1 }]), x, b.udp);
    await sleep(300);
    const member = ((await roomOf(b, "ids"))?.members ?? []).find((m: { ip: string }) =>
      m.ip === x.hostname
    );
    await alice.socket.close();
    return member.id === 1 ? "1 (the collector)" : `${member.id} (fresh, not the collector)`;
  }],
  ["10 spoofed JOIN_Bs every 10 s (10-room limit): a new room", async (b, spoof, h) => {
    for (let i = 0; i < 10; i++) {
      await spoof.send(join(`squat-${i}`), { hostname: `127.${h}.1.${i + 1}`, port: 1000 }, b.udp);
    }
    const alice = await receiver(`127.${h}.0.1`);
    const started = Date.now();
    let served = false;
    for (let t = 0; t < 12_000 && !served; t += 500) {
      const before = alice.got.length;
      alice.socket.send(join("game"), b.udp);
      await eventually(() => alice.got.length > before, { what: "a reply" });
      served = decode(alice.got.at(-1)!).type === "BOOTSTRAP_R";
      if (!served) await sleep(500);
    }
    await alice.socket.close();
    return served
      ? `served after ${((Date.now() - started) / 1000).toFixed(0)} s`
      : "ROOM_FULL for 12 s";
  }],
];

if (import.meta.main) {
  const skip = spoofSkipReason();
  if (skip) {
    console.log(`hostile_bench: cannot run: ${skip}`);
    Deno.exit(0);
  }
  const beforeAt = Deno.args.indexOf("--before");
  const trees: [string, string][] = [];
  if (beforeAt >= 0) trees.push(["before", Deno.args[beforeAt + 1]!]);
  trees.push(["after", new URL("..", import.meta.url).pathname.replace(/\/$/, "")]);
  await using spoof = await buildSpoofer();
  const rows: string[][] = attacks.map(([name]) => [name]);
  for (const [, tree] of trees) {
    for (let i = 0; i < attacks.length; i++) {
      // A fresh bootstrap per attack, on its own loopback address block.
      const host = 10 + i + (tree === trees[0]![1] ? 0 : 20);
      const b = await start(tree, "127.0.0.1");
      try {
        rows[i]!.push(await attacks[i]![1](b, spoof, host));
      } catch (error) {
        rows[i]!.push(`error: ${(error as Error).message}`);
      } finally {
        await b.stop();
      }
    }
  }
  console.log(`| attack | ${trees.map(([n]) => n).join(" | ")} |`);
  console.log(`| --- | ${trees.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}

// Opportunistic encryption in open rooms over real UDP (issue 10): two CLI peers and a deployed
// v1 peer (the faithful model, on its own socket) in one open room. The CLI peers' --json says
// when their link is encrypted; loopback is sniffed (raw socket, as root) to show their typed
// lines never travel in the clear between them, while the v1 peer still gets both in plaintext.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { bindDatagram } from "@olaf/protocol/net";
import { systemClock } from "@olaf/protocol/sans-io";
import { eventually } from "@olaf/protocol/testing";
import { LegacyV1Peer } from "../tests/legacy_v1_peer.ts";
import { drive } from "../tests/peer_sim_driver.ts";
import { type CliIo, main } from "./cli.ts";

const cli = new URL("mod.ts", import.meta.url).pathname;

/** A CLI peer process in `--json` mode (open room: no secret in its environment). */
function spawnPeer(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--json", "--hostname", "127.0.0.1", ...args],
    env: { NO_COLOR: "1" },
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

/** UDP payloads on loopback from a raw AF_PACKET socket (python3, root): "srcport dstport hex". */
const SNIFFER = `
import socket, struct
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
    return (await new Deno.Command("python3", { args: ["-c", "import socket"] }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("cli: --plaintext is for open rooms only (exit 2 with a secret)", async () => {
  const lines: string[] = [];
  const errors: string[] = [];
  const io: CliIo = {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    env: (name) => name === "OLAF_ROOM_SECRET" ? "s3cret" : undefined,
  };
  const code = await main(["--room", "x", "--bootstrap", "127.0.0.1:5000", "--plaintext"], io);
  assert.equal(code, 2);
  assert.match(errors[0]!, /--plaintext is for open rooms/);
  const help: string[] = [];
  await main(["--help"], { ...io, out: (l) => help.push(l) });
  assert.ok(help[0]!.includes("--plaintext"));
});

Deno.test({
  name: "cli over real UDP, open room: two Olaf peers' link is encrypted (the sniffer never sees " +
    "their lines); a v1 peer in the room still gets both lines in plaintext",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sniffer = await canSniff()
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
    const bootstrap = { hostname: "127.0.0.1", port: boot.localAddress.port };
    const room = "open-room-2026";
    const args = [
      "--room",
      room,
      "--bootstrap",
      `127.0.0.1:${bootstrap.port}`,
      "--heartbeat",
      "0.5",
    ];
    const legacy = new LegacyV1Peer({
      room,
      bootstraps: [bootstrap],
      heartbeatMs: 500,
      now: systemClock.now(),
    });
    const v1 = await drive(legacy, {
      bind: bindDatagram,
      clock: systemClock,
      hostname: "127.0.0.1",
    });
    const peers = [spawnPeer(args), spawnPeer(args)];
    type Peer = (typeof peers)[number];
    const self = (p: Peer) =>
      p.events().find((e) => e.event === "joined")?.self as { port: number } | undefined;
    const encrypted = (p: Peer) =>
      p.events().filter((e) => e.event === "link" && e.encrypted === true).map((e) =>
        (e.peer as { port: number }).port
      );
    await eventually(() => peers.every((p) => self(p) !== undefined), {
      what: "both joined",
      timeoutMs: 60_000,
    });
    const ports = peers.map((p) => self(p)!.port);
    // The link between them is encrypted (background upgrade: 5 s after meeting, at a
    // heartbeat); the v1 peer's never is.
    await eventually(() => peers.every((p, i) => encrypted(p).includes(ports[1 - i]!)), {
      what: "both see the link encrypted",
      timeoutMs: 30_000,
    });
    await eventually(() => ports.every((port) => legacy.known.has(`127.0.0.1:${port}`)), {
      what: "the v1 peer knows both",
      timeoutMs: 15_000,
    });
    const lines = ["first opportunistic line", "second opportunistic line"];
    await Promise.all(peers.map((p, i) => p.type(lines[i]!)));
    const got = (p: Peer) =>
      p.events().filter((e) => e.event === "message").map((e) => String(e.data));
    await eventually(
      () =>
        peers.every((p) => got(p).length === 1) &&
        lines.every((l) => legacy.received.some((m) => m.text === l)),
      { what: "each line reaches the other Olaf peer and the v1 peer", timeoutMs: 15_000 },
    );
    peers.forEach((p, i) => assert.deepEqual(got(p), [lines[1 - i]]));
    for (const p of peers) {
      assert.ok(
        !p.events().some((e) =>
          e.event === "link" && e.encrypted === true &&
          (e.peer as { port: number }).port === v1.address.port
        ),
        "no encryption with v1",
      );
    }
    const ends = await Promise.all(peers.map((p) => p.close()));
    for (const end of ends) assert.equal(end.code, 0, end.stderr);
    await v1.stop();

    if (sniffer) {
      await new Promise((r) => setTimeout(r, 200));
      sniffer.kill("SIGTERM");
      await reading.catch(() => {});
      await sniffer.status;
      const datagrams = captured.split("\n").slice(1).map((l) => l.split(" ")).filter((f) =>
        f.length === 3
      ).map(([sp, dp, hex]) => ({ from: Number(sp), to: Number(dp), hex: hex! }));
      const hexOf = (s: string) =>
        Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
      const carries = (hex: string, needle: string) => {
        for (let i = hex.indexOf(needle); i >= 0; i = hex.indexOf(needle, i + 1)) {
          if (i % 2 === 0) return true; // byte-aligned
        }
        return false;
      };
      const between = datagrams.filter((d) => ports.includes(d.from) && ports.includes(d.to));
      const toV1 = datagrams.filter((d) => ports.includes(d.from) && d.to === v1.address.port);
      assert.ok(between.some((d) => d.hex.startsWith("13")), "SEALED between the Olaf peers");
      for (const line of lines) {
        assert.ok(!between.some((d) => carries(d.hex, hexOf(line))), `${line}: never in clear`);
        assert.ok(toV1.some((d) => carries(d.hex, hexOf(line))), `${line}: plaintext to v1`);
      }
      // The v1 peer is never sent a handshake (18) or a SEALED (19).
      assert.ok(!toV1.some((d) => d.hex.startsWith("12") || d.hex.startsWith("13")));
      console.log(
        `sniffed ${between.length} datagrams between the Olaf peers (none carries a line) and ` +
          `${toV1.length} to the v1 peer (plaintext, as v1)`,
      );
    } else {
      console.log("not root or no python3: loopback not sniffed (the memory test covers it)");
    }
  },
});

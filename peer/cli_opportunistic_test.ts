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
import { main } from "./cli.ts";
import {
  carriesText,
  memoryIo,
  sniffSkipReason,
  spawnCliPeer,
  startSniffer,
} from "../tests/_cli_peer.ts";

Deno.test("cli: --plaintext is for open rooms only (exit 2 with a secret)", async () => {
  const io = memoryIo({ OLAF_ROOM_SECRET: "s3cret" });
  const code = await main(["--room", "x", "--bootstrap", "127.0.0.1:5000", "--plaintext"], io);
  assert.equal(code, 2);
  assert.match(io.errors[0]!, /--plaintext is for open rooms/);
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
    const skip = await sniffSkipReason();
    await using sniffer = skip === undefined ? await startSniffer() : undefined;
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
    const peers = [spawnCliPeer(args), spawnCliPeer(args)];
    type Peer = (typeof peers)[number];
    const self = (p: Peer) =>
      p.events.find((e) => e.event === "joined")?.self as { port: number } | undefined;
    const encrypted = (p: Peer) =>
      p.events.filter((e) => e.event === "link" && e.encrypted === true).map((e) =>
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
      p.events.filter((e) => e.event === "message").map((e) => String(e.data));
    await eventually(
      () =>
        peers.every((p) => got(p).length === 1) &&
        lines.every((l) => legacy.received.some((m) => m.text === l)),
      { what: "each line reaches the other Olaf peer and the v1 peer", timeoutMs: 15_000 },
    );
    peers.forEach((p, i) => assert.deepEqual(got(p), [lines[1 - i]]));
    for (const p of peers) {
      assert.ok(
        !p.events.some((e) =>
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
      const datagrams = sniffer.datagrams();
      const between = datagrams.filter((d) => ports.includes(d.src) && ports.includes(d.dst));
      const toV1 = datagrams.filter((d) => ports.includes(d.src) && d.dst === v1.address.port);
      assert.ok(between.some((d) => d.hex.startsWith("13")), "SEALED between the Olaf peers");
      for (const line of lines) {
        assert.ok(!between.some((d) => carriesText(d.hex, line)), `${line}: never in clear`);
        assert.ok(toV1.some((d) => carriesText(d.hex, line)), `${line}: plaintext to v1`);
      }
      // The v1 peer is never sent a handshake (18) or a SEALED (19).
      assert.ok(!toV1.some((d) => d.hex.startsWith("12") || d.hex.startsWith("13")));
      console.log(
        `sniffed ${between.length} datagrams between the Olaf peers (none carries a line) and ` +
          `${toV1.length} to the v1 peer (plaintext, as v1)`,
      );
    } else {
      console.log(`loopback not sniffed (${skip}; the memory test covers it)`);
    }
  },
});

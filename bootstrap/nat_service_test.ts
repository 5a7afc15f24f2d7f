// The bootstrap's NAT services over real UDP on loopback (issue 11): NAT_CHECK from two ports,
// relay reservations and forwarding with their limits, counters in /metrics, STUN.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { decodeStun, readXorMappedAddress } from "@olaf/bootstrap/handshake";
import { serveControl } from "@olaf/control";
import {
  decodeNatCheck,
  decodeRelayed,
  decodeRelayReserve,
  encodeNatCheck,
  encodeRelayed,
  encodeRelayReserve,
} from "@olaf/protocol/nat";
import { bindDatagram, type DatagramSocket } from "@olaf/protocol/net";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { eventually } from "@olaf/protocol/testing";

interface Client {
  socket: DatagramSocket;
  inbox: { data: Uint8Array; from: NetAddress }[];
  address: NetAddress;
}

const ipPort = (a: NetAddress) => ({ ip: a.hostname, port: a.port });

async function client(): Promise<Client> {
  const inbox: Client["inbox"] = [];
  const socket = await bindDatagram({
    hostname: "127.0.0.1",
    port: 0,
    onDatagram: (data, from) => inbox.push({ data: data.slice(), from }),
  });
  return { socket, inbox, address: socket.localAddress };
}

async function next(c: Client, what: string): Promise<{ data: Uint8Array; from: NetAddress }> {
  await eventually(() => c.inbox.length > 0, { what });
  return c.inbox.shift()!;
}

Deno.test("NAT_CHECK: both bootstrap ports name the source, the first tells the second", async () => {
  await using boot = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    nat: { checkPort: 0 },
  });
  const c = await client();
  try {
    const nonce = new Uint8Array(8).fill(5);
    const request = encodeNatCheck({ kind: "request", nonce });
    c.socket.send(request, boot.localAddress);
    const first = await next(c, "a NAT_CHECK reply from the bootstrap port");
    assert.equal(first.from.port, boot.localAddress.port);
    const reply = decodeNatCheck(first.data);
    assert.ok(reply?.kind === "reply");
    assert.deepEqual(reply.nonce, nonce);
    assert.deepEqual(reply.observed, { ip: "127.0.0.1", port: c.address.port });
    assert.equal(reply.checkPort, boot.natCheckAddress!.port);
    assert.ok(first.data.length <= request.length, "no amplification");

    c.socket.send(request, { hostname: "127.0.0.1", port: reply.checkPort });
    const second = await next(c, "a NAT_CHECK reply from the check port");
    assert.equal(second.from.port, boot.natCheckAddress!.port);
    const reply2 = decodeNatCheck(second.data);
    assert.ok(reply2?.kind === "reply");
    assert.deepEqual(reply2.observed, reply.observed, "no NAT: the same mapping both ways");
    assert.equal(boot.natStats().natChecks, 2);
  } finally {
    await c.socket.close();
  }
});

Deno.test("relay: off by default, the reservation is refused and nothing is forwarded", async () => {
  await using boot = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const a = await client();
  const b = await client();
  try {
    a.socket.send(encodeRelayReserve({ kind: "request" }), boot.localAddress);
    const refused = decodeRelayReserve((await next(a, "a refusal")).data);
    assert.deepEqual(refused, { kind: "refused", reason: "disabled" });
    a.socket.send(
      encodeRelayed({ peer: ipPort(b.address), data: Uint8Array.of(1, 2) }),
      boot.localAddress,
    );
    await eventually(() => boot.natStats().drops["relay-disabled"] === 1, { what: "the drop" });
    assert.equal(b.inbox.length, 0);
    assert.equal(boot.natStats().reservationsRefused.disabled, 1);
  } finally {
    await a.socket.close();
    await b.socket.close();
  }
});

Deno.test("relay: forwards between two reservations, within rate and bytes, counted in /metrics", async () => {
  await using boot = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    nat: { relay: { lifetimeMs: 60_000, bytes: 200, rate: 1000 } },
  });
  await using control = await serveControl({ bootstrap: boot, hostname: "127.0.0.1", port: 0 });
  const a = await client();
  const b = await client();
  const stranger = await client();
  try {
    // The target has no reservation yet: dropped.
    a.socket.send(encodeRelayReserve({ kind: "request" }), boot.localAddress);
    assert.deepEqual(decodeRelayReserve((await next(a, "a grant")).data), {
      kind: "grant",
      lifetimeMs: 60_000,
      bytes: 200,
      rate: 1000,
    });
    a.socket.send(
      encodeRelayed({ peer: ipPort(b.address), data: Uint8Array.of(1) }),
      boot.localAddress,
    );
    await eventually(() => boot.natStats().drops["relay-target-not-reserved"] === 1, {
      what: "the drop",
    });
    b.socket.send(encodeRelayReserve({ kind: "request" }), boot.localAddress);
    assert.equal(decodeRelayReserve((await next(b, "a grant")).data)?.kind, "grant");

    const payload = new TextEncoder().encode("hello through the relay");
    const sent = encodeRelayed({ peer: ipPort(b.address), data: payload });
    a.socket.send(sent, boot.localAddress);
    const got = await next(b, "the relayed datagram");
    const relayed = decodeRelayed(got.data)!;
    assert.deepEqual(relayed.peer, { ip: "127.0.0.1", port: a.address.port }, "names the source");
    assert.deepEqual(relayed.data, payload);
    assert.equal(got.data.length, sent.length, "forwarded at the size it arrived");

    // A stranger without a reservation cannot use it.
    stranger.socket.send(sent, boot.localAddress);
    await eventually(() => boot.natStats().drops["relay-no-reservation"] === 1, { what: "drop" });

    // The byte budget (200 per lifetime) runs out: 40-byte datagrams, the 6th one is refused.
    for (let i = 0; i < 5; i++) a.socket.send(sent, boot.localAddress);
    await eventually(() => boot.natStats().drops["relay-bytes"] === 1, { what: "byte limit" });
    assert.equal(boot.natStats().relayedDatagrams, 5);

    const metrics = await (await fetch(`http://127.0.0.1:${control.addr.port}/metrics`)).text();
    assert.match(metrics, /^olaf_nat_relayed_datagrams_total 5$/m);
    assert.match(metrics, /^olaf_nat_reservations 2$/m);
    assert.match(metrics, /^olaf_nat_drops_total\{reason="relay-bytes"\} 1$/m);
  } finally {
    for (const c of [a, b, stranger]) await c.socket.close();
  }
});

Deno.test("STUN: the RFC 5769 sample request gets XOR-MAPPED-ADDRESS of its source", async () => {
  await using boot = await startBootstrap({
    hostname: "127.0.0.1",
    port: 0,
    handshake: { stun: true, stunPort: 0 },
  });
  const c = await client();
  try {
    // RFC 5769 section 2.1, as a standard ICE client sends it.
    const request = Uint8Array.from(
      ("000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063" +
        "6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836" +
        "7659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf")
        .match(/../g)!.map((x) => parseInt(x, 16)),
    );
    c.socket.send(request, boot.handshake!.stunAddress!);
    const reply = decodeStun((await next(c, "a Binding response")).data)!;
    assert.equal(reply.type, 0x0101);
    assert.deepEqual(reply.transactionId, request.slice(8, 20));
    assert.equal(reply.fingerprintOk, true);
    assert.deepEqual(readXorMappedAddress(reply), { hostname: "127.0.0.1", port: c.address.port });
  } finally {
    await c.socket.close();
  }
});

Deno.test("CLI: --relay and --nat-check-port reach the NAT services", async () => {
  const { main } = await import("@olaf/bootstrap");
  const stop = new AbortController();
  let seen: { relay: boolean; checkPort: number | undefined } | undefined;
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: string) => void logged.push(line);
  try {
    const code = await main(
      [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--relay",
        "--nat-check-port",
        "0",
        "--log-level",
        "error",
      ],
      {
        signal: stop.signal,
        handleSignals: false,
        onListening: (server) => {
          seen = { relay: server.natStats().relay, checkPort: server.natCheckAddress?.port };
          stop.abort();
        },
      },
    );
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  assert.equal(seen?.relay, true);
  assert.ok(seen!.checkPort! > 0);
  assert.ok(
    logged.some((l) => /olaf NAT services: relay=on nat-check=udp:\/\/127\.0\.0\.1:\d+/.test(l)),
  );
});

Deno.test("CLI: --stun-port alone answers STUN Binding requests", async () => {
  const { main } = await import("@olaf/bootstrap");
  const stop = new AbortController();
  let stun: NetAddress | undefined;
  const log = console.log;
  console.log = () => {};
  try {
    const code = await main(
      ["--host", "127.0.0.1", "--port", "0", "--stun-port", "0", "--log-level", "error"],
      {
        signal: stop.signal,
        handleSignals: false,
        onListening: (server) => {
          stun = server.handshake?.stunAddress;
          stop.abort();
        },
      },
    );
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  assert.ok(stun !== undefined && stun.port > 0, "a STUN socket was bound");
});

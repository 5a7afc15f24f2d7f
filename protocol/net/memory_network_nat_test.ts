import assert from "node:assert/strict";
import { MemoryNetwork, NAT_TYPES, type NatOptions, type NatType } from "./memory_network.ts";
import type { DatagramSocket, NetAddress } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (data: Uint8Array) => decoder.decode(data);
const send = (socket: DatagramSocket, message: string, to: NetAddress) =>
  socket.send(encoder.encode(message), to);
const show = (address: NetAddress) => `${address.hostname}:${address.port}`;

// natlab.sh's topology: a rendezvous on the public segment, one host behind each NAT.
const RENDEZVOUS = "203.0.113.1";
const RV_PORTS = [3478, 3479];
const RV_PROBE_PORT = 3480;

interface PunchResult {
  /** Both sides heard the other (PUNCH or ACK), as natlab's selftest requires. */
  ok: boolean;
  /** External ports each side was observed with via the two rendezvous ports. */
  observedA: number[];
  observedB: number[];
  /** Whether the rendezvous' unsolicited probe (from a third port) got through. */
  probeA: boolean;
  probeB: boolean;
}

/**
 * natlab.sh's selftest on the simulator: each client registers with the
 * rendezvous on two ports (learning its own public endpoint and the peer's,
 * as seen by the first port), then both send PUNCH to the peer's endpoint
 * every 200 ms and answer a PUNCH with an ACK to its source.
 */
async function punch(natA: Partial<NatOptions>, natB: Partial<NatOptions>): Promise<PunchResult> {
  const net = new MemoryNetwork({ seed: 3, delayMs: { min: 2, max: 15 } });
  net.addNat({ publicHostname: "203.0.113.11", hosts: ["10.1.0.0/24"], ...natA });
  net.addNat({ publicHostname: "203.0.113.12", hosts: ["10.2.0.0/24"], ...natB });

  const seen = new Map<string, NetAddress>();
  const probe = await net.bind({ hostname: RENDEZVOUS, port: RV_PROBE_PORT });
  const probed = new Set<string>();
  const rendezvous: DatagramSocket[] = [];
  for (const port of RV_PORTS) {
    const socket: DatagramSocket = await net.bind({
      hostname: RENDEZVOUS,
      port,
      onDatagram: (data, from) => {
        const [verb, id, want] = text(data).split(" ");
        if (verb !== "REG") return;
        let reply = `OBS ${from.hostname} ${from.port}`;
        if (port === RV_PORTS[0]) {
          seen.set(id, from);
          const peer = seen.get(want);
          if (peer) reply += ` PEER ${want} ${peer.hostname} ${peer.port}`;
          if (!probed.has(id)) {
            probed.add(id);
            send(probe, `PROBE ${id}`, from);
          }
        }
        send(socket, reply, from);
      },
    });
    rendezvous.push(socket);
  }

  const client = async (id: string, peerId: string, hostname: string) => {
    const state = {
      observed: new Map<number, number>(),
      peer: undefined as NetAddress | undefined,
      got: false,
      probe: false,
    };
    const socket: DatagramSocket = await net.bind({
      hostname,
      onDatagram: (data, from) => {
        const f = text(data).split(" ");
        if (from.hostname === RENDEZVOUS && f[0] === "OBS") {
          state.observed.set(from.port, Number(f[2]));
          if (f[3] === "PEER" && f[4] === peerId) {
            state.peer ??= { hostname: f[5], port: Number(f[6]) };
          }
        } else if (f[0] === "PROBE") {
          state.probe = true;
        } else if ((f[0] === "PUNCH" || f[0] === "ACK") && f[1] === peerId) {
          state.got = true;
          if (f[0] === "PUNCH") send(socket, `ACK ${id}`, from);
        }
      },
    });
    return { id, peerId, socket, state };
  };
  const a = await client("a", "b", "10.1.0.2");
  const b = await client("b", "a", "10.2.0.2");

  for (let t = 0; t < 5000; t += 300) {
    if ([a, b].every((c) => c.state.peer && c.state.observed.size === RV_PORTS.length)) break;
    for (const c of [a, b]) {
      for (const port of RV_PORTS) {
        send(c.socket, `REG ${c.id} ${c.peerId}`, { hostname: RENDEZVOUS, port });
      }
    }
    await net.advance(300);
  }
  assert.ok(a.state.peer && b.state.peer, "both clients learned the peer's endpoint");

  for (let round = 0; round < 25 && !(a.state.got && b.state.got); round++) {
    for (const c of [a, b]) send(c.socket, `PUNCH ${c.id}`, c.state.peer!);
    await net.advance(200);
  }
  await net.advance(500);
  const ports = (observed: Map<number, number>) => RV_PORTS.map((port) => observed.get(port)!);
  return {
    ok: a.state.got && b.state.got,
    observedA: ports(a.state.observed),
    observedB: ports(b.state.observed),
    probeA: a.state.probe,
    probeB: b.state.probe,
  };
}

const TYPES: NatType[] = ["full-cone", "restricted-cone", "port-restricted-cone", "symmetric"];

// RFC 4787 semantics: an EIM side's mapping is the one the rendezvous saw, so two EIM sides meet
// once both have sent. A symmetric side punches from a fresh port, which only an EIF or ADF peer
// lets in (ADF admits any port of a host it sent to); the ACK then goes back to that fresh port,
// which was opened towards the peer. Against APDF (port-restricted, symmetric) nothing gets in.
const EXPECTED: Record<NatType, Record<NatType, boolean>> = {
  "full-cone": {
    "full-cone": true,
    "restricted-cone": true,
    "port-restricted-cone": true,
    symmetric: true,
  },
  "restricted-cone": {
    "full-cone": true,
    "restricted-cone": true,
    "port-restricted-cone": true,
    symmetric: true,
  },
  "port-restricted-cone": {
    "full-cone": true,
    "restricted-cone": true,
    "port-restricted-cone": true,
    symmetric: false,
  },
  symmetric: {
    "full-cone": true,
    "restricted-cone": true,
    "port-restricted-cone": false,
    symmetric: false,
  },
};

Deno.test("NAT: rendezvous punch across every pair of classic NAT types", async () => {
  const got: string[] = [];
  const want: string[] = [];
  for (const typeA of TYPES) {
    for (const typeB of TYPES) {
      const result = await punch({ type: typeA }, { type: typeB });
      got.push(`${typeA} x ${typeB}: ${result.ok ? "ok" : "failed"}`);
      want.push(`${typeA} x ${typeB}: ${EXPECTED[typeA][typeB] ? "ok" : "failed"}`);

      // What natlab's client reports: one external port for EIM, one per destination for APDM.
      const independentA = result.observedA[0] === result.observedA[1];
      const independentB = result.observedB[0] === result.observedB[1];
      assert.equal(independentA, NAT_TYPES[typeA].mapping === "endpoint-independent", typeA);
      assert.equal(independentB, NAT_TYPES[typeB].mapping === "endpoint-independent", typeB);
      // The probe comes from the rendezvous host but an uncontacted port: EIF and ADF admit it.
      assert.equal(result.probeA, NAT_TYPES[typeA].filtering !== "address-and-port-dependent");
      assert.equal(result.probeB, NAT_TYPES[typeB].filtering !== "address-and-port-dependent");
    }
  }
  assert.deepEqual(got, want);
});

Deno.test("NAT: natlab's cone and symmetric modes give natlab's selftest results", async () => {
  // natlab cone = masquerade (EIM with port preservation, conntrack APDF);
  // natlab symmetric = masquerade fully-random (APDM, random ports, APDF).
  const cone: Partial<NatOptions> = { type: "port-restricted-cone", portAllocation: "preserve" };
  const symmetric: Partial<NatOptions> = { type: "symmetric", portAllocation: "random" };
  const coneCone = await punch(cone, cone);
  assert.equal(coneCone.ok, true);
  assert.deepEqual(coneCone.observedA, [49152, 49152]); // the private port, preserved
  assert.equal(coneCone.probeA, false); // "unsolicited probe: blocked (as expected)"
  assert.equal((await punch(cone, symmetric)).ok, false);
  assert.equal((await punch(symmetric, cone)).ok, false);
  const symSym = await punch(symmetric, symmetric);
  assert.equal(symSym.ok, false);
  assert.notEqual(symSym.observedA[0], symSym.observedA[1]);
});

/** A network with one NAT in front of 10.1.0.2 and a public echo server at 203.0.113.1:7. */
async function natWithEcho(options: Partial<NatOptions> = {}) {
  const net = new MemoryNetwork({ seed: 5, delayMs: 1 });
  const nat = net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"], ...options });
  const echoSeen: NetAddress[] = [];
  const echo: DatagramSocket = await net.bind({
    hostname: "203.0.113.1",
    port: 7,
    onDatagram: (data, from) => {
      echoSeen.push(from);
      echo.send(data, from);
    },
  });
  const replies: NetAddress[] = [];
  const client = await net.bind({
    hostname: "10.1.0.2",
    onDatagram: (_d, from) => replies.push(from),
  });
  return { net, nat, echo, echoSeen, client, replies };
}

Deno.test("NAT: receivers see the translated source; replies are translated back", async () => {
  const { net, nat, echo, echoSeen, client, replies } = await natWithEcho({ type: "symmetric" });
  send(client, "x", echo.localAddress);
  await net.advance(10);
  assert.deepEqual(echoSeen.map(show), ["198.51.100.1:1024"]);
  assert.deepEqual(replies.map(show), ["203.0.113.1:7"]);
  assert.deepEqual(nat.mappings().map((m) => [show(m.internal), show(m.external), m.remote]), [
    ["10.1.0.2:49152", "198.51.100.1:1024", "203.0.113.1:7"],
  ]);
  const stats = nat.stats();
  assert.equal(stats.translatedOut, 1);
  assert.equal(stats.translatedIn, 1);
  assert.equal(stats.mappingsCreated, 1);
  assert.equal(stats.mappingsLive, 1);
});

Deno.test("NAT: a mapping expires after mappingTimeoutMs without outbound traffic", async () => {
  const { net, nat, echo, client, replies } = await natWithEcho({ mappingTimeoutMs: 30_000 });
  const server = await net.bind({ hostname: "203.0.113.1", port: 9 });
  send(client, "x", echo.localAddress);
  send(client, "x", server.localAddress);
  await net.advance(10);
  assert.equal(replies.length, 1);
  const mapped = nat.mappings()[0].external;
  assert.equal(nat.mappings()[0].expiresAt, 30_000);

  // Inbound traffic does not refresh (inboundRefresh is off): the mapping dies at 30 s.
  await net.advance(29_980); // t = 29 990
  send(server, "late but in time", mapped);
  await net.advance(5);
  assert.equal(replies.length, 2);
  await net.advance(10); // t = 30 005: no inbound datagram may find the mapping now
  send(server, "too late", mapped);
  await net.advance(10);
  assert.equal(replies.length, 2);
  assert.equal(nat.stats().unmapped, 1);
  assert.equal(nat.stats().mappingsLive, 0);
  assert.equal(nat.stats().mappingsExpired, 1);
  assert.deepEqual(nat.mappings(), []);
  assert.equal(net.stats.natDropped, 1);
});

Deno.test("NAT: outbound keepalives hold a mapping; inboundRefresh makes inbound count too", async () => {
  for (const inboundRefresh of [false, true]) {
    const { net, nat, echo, client } = await natWithEcho({
      mappingTimeoutMs: 30_000,
      inboundRefresh,
    });
    const server = await net.bind({ hostname: "203.0.113.1", port: 9 });
    send(client, "open", server.localAddress);
    await net.advance(10);
    const mapped = nat.mappings()[0].external;
    for (let i = 0; i < 5; i++) {
      // Keepalive to the echo (outbound) holds the EIM mapping; the server's traffic is inbound.
      if (!inboundRefresh) send(client, "keepalive", echo.localAddress);
      send(server, "ping", mapped);
      await net.advance(20_000);
    }
    assert.equal(nat.stats().mappingsExpired, 0, `inboundRefresh ${inboundRefresh}`);
    assert.equal(nat.stats().translatedIn, inboundRefresh ? 5 : 10);
  }
});

Deno.test("NAT: after expiry the host is rebound to a new public port", async () => {
  const { net, nat, echo, echoSeen, client } = await natWithEcho({ mappingTimeoutMs: 10_000 });
  send(client, "x", echo.localAddress);
  await net.advance(11_000);
  send(client, "x", echo.localAddress);
  await net.advance(10);
  assert.deepEqual(echoSeen.map(show), ["198.51.100.1:1024", "198.51.100.1:1025"]);
  assert.equal(nat.stats().mappingsCreated, 2);
  assert.equal(nat.stats().mappingsExpired, 1);

  // With port preservation the new mapping gets the private port again.
  const kept = await natWithEcho({ mappingTimeoutMs: 10_000, portAllocation: "preserve" });
  send(kept.client, "x", kept.echo.localAddress);
  await kept.net.advance(11_000);
  send(kept.client, "x", kept.echo.localAddress);
  await kept.net.advance(10);
  assert.deepEqual(kept.echoSeen.map(show), ["198.51.100.1:49152", "198.51.100.1:49152"]);
});

Deno.test("NAT: expireAll() is a NAT reboot: the way in closes, the host rebinds", async () => {
  const { net, nat, echo, echoSeen, client } = await natWithEcho();
  const server = await net.bind({ hostname: "203.0.113.1", port: 9 });
  send(client, "x", echo.localAddress);
  await net.advance(10);
  nat.expireAll();
  send(server, "lost", { hostname: "198.51.100.1", port: 1024 });
  await net.advance(10);
  assert.equal(nat.stats().unmapped, 1);
  send(client, "x", echo.localAddress);
  await net.advance(10);
  assert.deepEqual(echoSeen.map(show), ["198.51.100.1:1024", "198.51.100.1:1025"]);
  assert.equal(nat.stats().mappingsExpired, 1);
  assert.equal(nat.stats().mappingsLive, 1);
});

Deno.test("NAT: hairpinning loops a datagram to the public mapping back inside, or drops it", async () => {
  for (const hairpinning of [true, false]) {
    const net = new MemoryNetwork();
    const nat = net.addNat({
      publicHostname: "198.51.100.1",
      hosts: ["10.1.0.0/24"],
      type: "full-cone",
      hairpinning,
    });
    const seen: string[] = [];
    const server = await net.bind({ hostname: "203.0.113.1", port: 3478 });
    const a = await net.bind({ hostname: "10.1.0.2" });
    const b = await net.bind({
      hostname: "10.1.0.3",
      onDatagram: (data, from) => seen.push(`${text(data)} from ${show(from)}`),
    });
    send(a, "register", server.localAddress); // a -> 198.51.100.1:1024
    send(b, "register", server.localAddress); // b -> 198.51.100.1:1025
    await net.advance(10);
    send(a, "hairpin", { hostname: "198.51.100.1", port: 1025 });
    send(a, "direct", b.localAddress); // same LAN: no translation at all
    await net.advance(10);
    const stats = nat.stats();
    if (hairpinning) {
      // The receiver sees a's public endpoint, as RFC 4787 REQ-9 requires.
      assert.deepEqual(seen, ["hairpin from 198.51.100.1:1024", "direct from 10.1.0.2:49152"]);
      assert.equal(stats.hairpinned, 1);
      assert.equal(stats.hairpinDropped, 0);
    } else {
      assert.deepEqual(seen, ["direct from 10.1.0.2:49152"]);
      assert.equal(stats.hairpinned, 0);
      assert.equal(stats.hairpinDropped, 1);
      assert.equal(net.stats.natDropped, 1);
    }
    assert.equal(stats.translatedOut, hairpinning ? 3 : 2);
  }
});

Deno.test("NAT: each filtering behaviour admits exactly its remotes and counts the rest", async () => {
  const cases: [NatType, string[]][] = [
    ["full-cone", ["server:9", "server:10", "stranger:9"]],
    ["restricted-cone", ["server:9", "server:10"]],
    ["port-restricted-cone", ["server:9"]],
  ];
  for (const [type, admitted] of cases) {
    const net = new MemoryNetwork();
    const nat = net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.2"], type });
    const got: string[] = [];
    const client = await net.bind({
      hostname: "10.1.0.2",
      onDatagram: (data) => got.push(text(data)),
    });
    const server9 = await net.bind({ hostname: "203.0.113.1", port: 9 });
    const server10 = await net.bind({ hostname: "203.0.113.1", port: 10 });
    const stranger = await net.bind({ hostname: "203.0.113.66", port: 9 });
    send(client, "open", server9.localAddress);
    await net.advance(10);
    const mapped = { hostname: "198.51.100.1", port: 1024 };
    send(server9, "server:9", mapped);
    send(server10, "server:10", mapped);
    send(stranger, "stranger:9", mapped);
    send(stranger, "unmapped", { hostname: "198.51.100.1", port: 2000 });
    send(stranger, "private", client.localAddress); // no route to a private address
    await net.advance(10);
    assert.deepEqual(got, admitted, type);
    const stats = nat.stats();
    assert.equal(stats.translatedIn, admitted.length, type);
    assert.equal(stats.filtered, 3 - admitted.length, type);
    assert.equal(stats.unmapped, 1, type);
    assert.equal(stats.unreachable, 1, type);
    assert.equal(net.stats.natDropped, 3 - admitted.length + 2, type);
  }
});

Deno.test("NAT: address-dependent mapping shares a port per destination host", async () => {
  const net = new MemoryNetwork();
  net.addNat({
    publicHostname: "198.51.100.1",
    hosts: ["10.1.0.2"],
    mapping: "address-dependent",
    filtering: "address-dependent",
  });
  const seen: string[] = [];
  const servers = [];
  for (const [hostname, port] of [["203.0.113.1", 1], ["203.0.113.1", 2], ["203.0.113.2", 1]]) {
    servers.push(
      await net.bind({
        hostname: hostname as string,
        port: port as number,
        onDatagram: (_d, from) => seen.push(`${hostname}:${port} saw ${show(from)}`),
      }),
    );
  }
  const client = await net.bind({ hostname: "10.1.0.2" });
  for (const server of servers) send(client, "x", server.localAddress);
  await net.advance(10);
  assert.deepEqual(seen, [
    "203.0.113.1:1 saw 198.51.100.1:1024",
    "203.0.113.1:2 saw 198.51.100.1:1024",
    "203.0.113.2:1 saw 198.51.100.1:1025",
  ]);
});

Deno.test("NAT: an exhausted port range drops new mappings and counts them", async () => {
  const net = new MemoryNetwork();
  const nat = net.addNat({
    publicHostname: "198.51.100.1",
    hosts: ["10.1.0.2"],
    type: "symmetric",
    portRange: { min: 2000, max: 2001 },
  });
  let delivered = 0;
  const client = await net.bind({ hostname: "10.1.0.2" });
  for (let port = 1; port <= 3; port++) {
    await net.bind({ hostname: "203.0.113.1", port, onDatagram: () => delivered++ });
    send(client, "x", { hostname: "203.0.113.1", port });
  }
  await net.advance(10);
  assert.equal(delivered, 2);
  assert.equal(nat.stats().portsExhausted, 1);
  assert.deepEqual(nat.mappings().map((m) => m.external.port), [2000, 2001]);
});

Deno.test("NAT: random port allocation is determined by the network seed", async () => {
  const ports = async (seed: number) => {
    const net = new MemoryNetwork({ seed });
    const nat = net.addNat({
      publicHostname: "198.51.100.1",
      hosts: ["10.1.0.2"],
      type: "symmetric",
      portAllocation: "random",
    });
    const client = await net.bind({ hostname: "10.1.0.2" });
    for (let port = 1; port <= 20; port++) send(client, "x", { hostname: "203.0.113.1", port });
    return nat.mappings().map((m) => m.external.port);
  };
  const a = await ports(11);
  assert.deepEqual(await ports(11), a);
  assert.notDeepEqual(await ports(12), a);
  assert.equal(new Set(a).size, 20);
  assert.ok(a.every((port) => port >= 1024 && port <= 65535));
  assert.notDeepEqual(a, [...a].sort((x, y) => x - y)); // not sequential
});

Deno.test("NAT: public hosts and other NATs are unaffected; bad configurations are refused", async () => {
  const net = new MemoryNetwork();
  const before = await net.bind({ hostname: "198.51.100.9" });
  net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.0/16"] });
  const seen: string[] = [];
  const a = await net.bind({ hostname: "203.0.113.1", onDatagram: (_d, f) => seen.push(show(f)) });
  const b = await net.bind({ hostname: "203.0.113.2" });
  send(b, "x", a.localAddress);
  await net.advance(10);
  assert.deepEqual(seen, ["203.0.113.2:49152"]);

  await assert.rejects(net.bind({ hostname: "198.51.100.1", port: 5 }), Deno.errors.AddrInUse);
  assert.throws(() => net.addNat({ publicHostname: "198.51.100.9", hosts: ["10.9.0.1"] }));
  assert.throws(() => net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.9.0.1"] }));
  assert.throws(() => net.addNat({ publicHostname: "198.51.100.2", hosts: ["10.1.2.0/24"] }));
  assert.throws(() => net.addNat({ publicHostname: "10.1.0.5", hosts: ["10.3.0.1"] }));
  assert.throws(() => net.addNat({ publicHostname: "198.51.100.3", hosts: ["10.3.0.0/33"] }));
  assert.throws(() => net.addNat({ publicHostname: "198.51.100.3", hosts: [] }));
  assert.throws(() =>
    net.addNat({ publicHostname: "198.51.100.3", hosts: ["10.3.0.1"], mappingTimeoutMs: 0 })
  );
  assert.throws(() =>
    net.addNat({
      publicHostname: "198.51.100.3",
      hosts: ["10.3.0.1"],
      portRange: { min: 10, max: 5 },
    })
  );
  await before.close();
});

Deno.test("NAT: partitions match a datagram's private and public addresses", async () => {
  const { net, echo, client, replies } = await natWithEcho();
  net.partition(["10.1.0.2"], ["203.0.113.1"]);
  send(client, "x", echo.localAddress);
  await net.advance(10);
  assert.equal(net.stats.partitioned, 1);
  net.heal();
  send(client, "x", echo.localAddress);
  await net.advance(1); // arrived at the echo, reply in flight
  net.partition(["10.1.0.2"], ["203.0.113.1:7"]);
  await net.advance(10);
  assert.equal(net.stats.partitioned, 2); // the reply, cut after inbound translation
  net.heal();
  net.partition(["198.51.100.1"], ["203.0.113.1"]); // the whole site, by its public address
  send(client, "x", echo.localAddress);
  await net.advance(10);
  assert.equal(net.stats.partitioned, 3);
  assert.equal(replies.length, 0);
});

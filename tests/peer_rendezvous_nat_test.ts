/**
 * The REST rendezvous flow through NATs (issue 11): host and guest swap
 * candidate addresses through `/games` (the control plane, in process), then
 * one `room.connect(addresses)` each punches (LAN first) or falls back to the
 * bootstrap's relay, and messages flow both ways. On the simulator.
 */
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { createControlApp } from "@olaf/control";
import { MemoryNetwork, type NatType } from "@olaf/protocol/memory-network";
import { joinRoom, type PathKind, type Room } from "@olaf/peer";

const T0 = 1_763_700_000_000;

async function flow(hosts: [string, string], nats: [NatType, NatType?], want: PathKind) {
  const net = new MemoryNetwork({ seed: 3, startTime: T0, delayMs: { min: 2, max: 20 } });
  // One NAT for both (no hairpinning: only their LAN addresses work), or one each.
  net.addNat({ publicHostname: "198.51.100.1", hosts: ["10.1.0.0/24"], type: nats[0] });
  if (nats[1]) {
    net.addNat({ publicHostname: "198.51.100.2", hosts: ["10.2.0.0/24"], type: nats[1] });
  }
  const boot = await startBootstrap({
    bind: net.bind,
    clock: net.clock,
    hostname: "203.0.113.1",
    port: 5000,
    nat: { relay: true },
  });
  const control = createControlApp({ now: () => net.clock.now() });
  const post = async (path: string, body: unknown, token?: string) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await control.request(path, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const run = <T>(p: Promise<T>) => {
    let settled = false;
    const tracked = p.finally(() => (settled = true));
    return net.runUntil(() => settled, { timeoutMs: 20_000 }).then(() => tracked);
  };
  const join = (hostname: string) =>
    joinRoom("game:my-game", {
      bootstraps: ["203.0.113.1:5000"],
      bind: net.bind,
      clock: net.clock,
      hostname,
      port: 4000,
      nat: { lanAddresses: [{ hostname, port: 4000 }] },
    });
  const [host, guest] = await run(Promise.all(hosts.map(join))) as [Room, Room];
  const addresses = (r: Room, lan: string) => [[r.self.ip, r.self.port], [lan, 4000]];
  try {
    // The host opens the session and publishes its addresses; the guest joins with its own.
    const registered = await post("/games/register", { name: "my-game", peerId: "host" });
    assert.equal(registered.status, 201);
    const token = registered.body.token as string;
    const poll = () =>
      post(
        "/games/poll",
        { name: "my-game", peerId: "host", addresses: addresses(host, hosts[0]) },
        token,
      );
    assert.equal((await poll()).body.status, 0);
    const started = await post("/games/start", {
      name: "my-game",
      peerId: "guest",
      addresses: addresses(guest, hosts[1]),
    });
    assert.equal(started.status, 200);
    const polled = await poll();
    assert.equal(polled.body.status, 1);
    // One call each: punch (LAN first), or the relay.
    const [atHost, atGuest] = await run(Promise.all([
      host.connect(polled.body.addresses[0].addresses),
      guest.connect(started.body.addresses),
    ]));
    assert.deepEqual(atHost.peer.ip, guest.self.ip);
    assert.deepEqual(atGuest.peer.ip, host.self.ip);
    await net.advance(5_000); // punching's deadline passes; the path settles
    assert.equal(host.pathOf(guest.self), want);
    assert.equal(guest.pathOf(host.self), want);
    const inbox: string[] = [];
    host.on("message", (m) => inbox.push(`host got ${m.text()}`));
    guest.on("message", (m) => inbox.push(`guest got ${m.text()}`));
    host.send("hi guest");
    guest.send("hi host");
    assert.ok(await net.runUntil(() => inbox.length === 2, { timeoutMs: 5_000 }), "both ways");
    assert.deepEqual(inbox.sort(), ["guest got hi guest", "host got hi host"]);
  } finally {
    await Promise.all([host.leave(), guest.leave()]);
    await boot.close();
  }
}

Deno.test("rendezvous: two peers behind one NAT (no hairpinning) connect on their LAN", async () => {
  await flow(["10.1.0.2", "10.1.0.3"], ["port-restricted-cone"], "lan");
});

Deno.test("rendezvous: symmetric x symmetric connect through the bootstrap's relay", async () => {
  await flow(["10.1.0.2", "10.2.0.2"], ["symmetric", "symmetric"], "relayed");
});

Deno.test("rendezvous: cone x cone connect directly", async () => {
  await flow(["10.1.0.2", "10.2.0.2"], ["port-restricted-cone", "full-cone"], "direct");
});

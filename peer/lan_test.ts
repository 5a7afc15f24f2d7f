import assert from "node:assert/strict";
import { lanAddresses } from "./_lan.ts";
import type { Room } from "./room.ts";
import { simWorld } from "../tests/_sim_world.ts";

const interfaces = () =>
  [
    { family: "IPv4", address: "127.0.0.1" },
    { family: "IPv6", address: "fe80::1" },
    { family: "IPv4", address: "192.168.1.20" },
    { family: "IPv4", address: "169.254.3.4" },
    { family: "IPv4", address: "10.8.0.5" },
    { family: "IPv4", address: "192.168.1.20" },
  ] as const;

Deno.test("lan: a socket on every address offers the host's IPv4 interfaces with its port", () => {
  assert.deepEqual(lanAddresses({ hostname: "0.0.0.0", port: 4000 }, interfaces), [
    { hostname: "192.168.1.20", port: 4000 },
    { hostname: "10.8.0.5", port: 4000 },
  ]);
});

Deno.test("lan: a socket on one address offers that address; loopback offers nothing", () => {
  const bound = { hostname: "10.1.0.2", port: 4000 };
  assert.deepEqual(lanAddresses(bound, interfaces), [bound]);
  assert.deepEqual(lanAddresses({ hostname: "127.0.0.1", port: 4000 }, interfaces), []);
});

Deno.test("lan: without the sys permission there are none, and no error", () => {
  const denied = () => {
    throw new Deno.errors.NotCapable('Requires sys access to "networkInterfaces"');
  };
  assert.deepEqual(lanAddresses({ hostname: "0.0.0.0", port: 4000 }, denied), []);
});

Deno.test("lan: with nat on, two peers behind one NAT meet on the LAN through the relay without lanAddresses", async () => {
  await using world = await simWorld({
    seed: 3,
    nats: [{ type: "symmetric", portAllocation: "random" }],
    bootstrap: { nat: { relay: true, checkPort: 5001 } },
  });
  const rooms: Room[] = [];
  for (const host of ["10.1.0.2", "10.1.0.3"]) {
    const joining = world.join(host, { nat: true, joinTimeoutMs: 10_000 });
    let room: Room | undefined;
    joining.then((r) => (room = r));
    assert.ok(await world.net.runUntil(() => room !== undefined, { timeoutMs: 10_000 }), host);
    rooms.push(room!);
  }
  const [a, b] = rooms as [Room, Room];
  try {
    const onLan = () => a.pathOf(b.self) === "lan" && b.pathOf(a.self) === "lan";
    assert.ok(
      await world.net.runUntil(onLan, { timeoutMs: 30_000 }),
      `paths ${a.pathOf(b.self)} ${b.pathOf(a.self)}`,
    );
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
  }
});

Deno.test("lan: with nat and the dialect on, WELCOME / INTRODUCE carry the detected LAN addresses", async () => {
  await using world = await simWorld({ seed: 9, nats: [{ type: "port-restricted-cone" }] });
  const rooms: Room[] = [];
  for (const [i, host] of ["10.1.0.2", "10.1.0.3"].entries()) {
    world.join(host, { dialect: {}, nat: { relay: false } }).then((r) => rooms.push(r));
    assert.ok(await world.net.runUntil(() => rooms.length === i + 1, { timeoutMs: 10_000 }), host);
  }
  const [a, b] = rooms as [Room, Room];
  try {
    const met = () => a.peers.length === 1 && b.peers.length === 1;
    assert.ok(await world.net.runUntil(met, { timeoutMs: 10_000 }), "they met");
    assert.equal(a.pathOf(b.self), "lan");
    assert.equal(b.pathOf(a.self), "lan");
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
  }
});

import assert from "node:assert/strict";
import { decode, encode } from "../codec.ts";
import { MemoryNetwork } from "../net/memory_network.ts";
import { startFakeBootstrap } from "./fake_bootstrap.ts";

Deno.test("fake bootstrap: ids in join order, a re-join keeps its id, junk is ignored", async () => {
  const net = new MemoryNetwork();
  await using bootstrap = await startFakeBootstrap(net.bind, { port: 6000 });
  assert.equal(bootstrap.spec, "127.0.0.1:6000");
  const replies: unknown[] = [];
  const onDatagram = (data: Uint8Array) => {
    const m = decode(data);
    if (m.type === "BOOTSTRAP_R") replies.push({ self: m.self, peers: m.peers.toArray() });
  };
  await using a = await net.bind({ hostname: "10.0.0.1", port: 1, onDatagram });
  await using b = await net.bind({ hostname: "10.0.0.2", port: 2, onDatagram });
  const join = encode({ type: "JOIN_B", peers: [], room: "lobby" });
  a.send(join, bootstrap.address);
  await net.advance(5);
  b.send(new Uint8Array([9, 9]), bootstrap.address); // junk: no answer, no crash
  b.send(encode({ type: "PING", peers: [], payload: new Uint8Array() }), bootstrap.address);
  b.send(join, bootstrap.address);
  await net.advance(5);
  a.send(join, bootstrap.address);
  await net.advance(5);
  const ra = { ip: "10.0.0.1", port: 1, id: 1 };
  const rb = { ip: "10.0.0.2", port: 2, id: 2 };
  assert.deepEqual(replies, [
    { self: ra, peers: [ra] },
    { self: rb, peers: [ra, rb] },
    { self: ra, peers: [ra, rb] },
  ]);
  assert.deepEqual(bootstrap.members, [ra, rb]);
});

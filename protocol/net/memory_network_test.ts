import assert from "node:assert/strict";
import { MemoryNetwork, type MemoryNetworkOptions } from "./memory_network.ts";
import type { DatagramSocket, NetAddress } from "./types.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

/** Ten nodes each send 50 numbered datagrams to the next; returns the delivery trace. */
async function trace(options: MemoryNetworkOptions): Promise<string[]> {
  const net = new MemoryNetwork(options);
  const log: string[] = [];
  const sockets: DatagramSocket[] = [];
  for (let i = 0; i < 10; i++) {
    sockets.push(
      await net.bind({
        hostname: `10.0.0.${i + 1}`,
        port: 4000,
        onDatagram: (data, from) => log.push(`${net.now()} ${from.hostname}->${i + 1} #${data[0]}`),
      }),
    );
  }
  for (let n = 0; n < 50; n++) {
    sockets.forEach((s, i) => s.send(bytes(n), sockets[(i + 1) % 10].localAddress));
    await net.advance(1);
  }
  await net.advance(1000);
  return log;
}

Deno.test("MemoryNetwork: the same seed gives the same trace, another seed a different one", async () => {
  const options = { delayMs: { min: 1, max: 20 }, loss: 0.1, duplicate: 0.05, reorder: 0.1 };
  const a = await trace({ ...options, seed: 7 });
  const b = await trace({ ...options, seed: 7 });
  const c = await trace({ ...options, seed: 8 });
  assert.ok(a.length > 300);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("MemoryNetwork: fixed delay delivers exactly after delayMs, ranges stay in bounds", async () => {
  const fixed = new MemoryNetwork({ delayMs: 25 });
  const times: number[] = [];
  const a = await fixed.bind({ onDatagram: () => times.push(fixed.now()) });
  const b = await fixed.bind({});
  await fixed.advance(100);
  b.send(bytes(1), a.localAddress);
  await fixed.advance(24);
  assert.deepEqual(times, []);
  await fixed.advance(1);
  assert.deepEqual(times, [125]);

  const ranged = new MemoryNetwork({ seed: 3, delayMs: { min: 10, max: 30 } });
  const delays: number[] = [];
  const c = await ranged.bind({ onDatagram: (data) => delays.push(ranged.now() - data[0]) });
  const d = await ranged.bind({});
  for (let i = 0; i < 200; i++) {
    d.send(bytes(ranged.now()), c.localAddress);
    await ranged.advance(1);
  }
  await ranged.advance(100);
  assert.equal(delays.length, 200);
  assert.ok(delays.every((ms) => ms >= 10 && ms <= 30), `delays out of range: ${delays}`);
  assert.ok(new Set(delays).size > 10, "a range should produce varied delays");
});

Deno.test("MemoryNetwork: loss rate roughly matches the configured probability", async () => {
  const net = new MemoryNetwork({ seed: 11, loss: 0.3 });
  let received = 0;
  const a = await net.bind({ onDatagram: () => received++ });
  const b = await net.bind({});
  const n = 5000;
  for (let i = 0; i < n; i++) b.send(bytes(i & 255), a.localAddress);
  await net.advance(10);
  assert.equal(received + net.stats.lost, n);
  assert.ok(Math.abs(net.stats.lost / n - 0.3) < 0.03, `lost ${net.stats.lost} of ${n}`);
});

Deno.test("MemoryNetwork: duplication delivers independent copies", async () => {
  const net = new MemoryNetwork({ seed: 5, duplicate: 1 });
  const got: Uint8Array[] = [];
  const a = await net.bind({ onDatagram: (data) => got.push(data) });
  const b = await net.bind({});
  const sent = bytes(1, 2, 3);
  b.send(sent, a.localAddress);
  sent[0] = 99; // the network copied on send
  await net.advance(10);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], bytes(1, 2, 3));
  got[0][1] = 42;
  assert.deepEqual(got[1], bytes(1, 2, 3));
  assert.equal(net.stats.duplicated, 1);
  assert.equal(net.stats.delivered, 2);
});

Deno.test("MemoryNetwork: reordering lets later datagrams overtake; without it order holds", async () => {
  async function arrivalOrder(reorder: number): Promise<number[]> {
    const net = new MemoryNetwork({ seed: 9, delayMs: 5, reorder });
    const order: number[] = [];
    const a = await net.bind({ onDatagram: (data) => order.push(data[0]) });
    const b = await net.bind({});
    for (let i = 0; i < 100; i++) {
      b.send(bytes(i), a.localAddress);
      await net.advance(1);
    }
    await net.advance(100);
    return order;
  }
  const inOrder = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(await arrivalOrder(0), inOrder);
  const shuffled = await arrivalOrder(0.3);
  assert.notDeepEqual(shuffled, inOrder);
  assert.deepEqual([...shuffled].sort((x, y) => x - y), inOrder);
});

Deno.test("MemoryNetwork: datagrams at the same time arrive in send order", async () => {
  const net = new MemoryNetwork({ delayMs: 3 });
  const order: number[] = [];
  const a = await net.bind({ onDatagram: (data) => order.push(data[0]) });
  const b = await net.bind({});
  for (let i = 0; i < 50; i++) b.send(bytes(i), a.localAddress);
  await net.advance(3);
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("MemoryNetwork: partitions cut both directions by host or endpoint, heal restores", async () => {
  const net = new MemoryNetwork();
  const got: string[] = [];
  const node = (hostname: string, port: number) =>
    net.bind({ hostname, port, onDatagram: (_, from) => got.push(`${from.hostname}>${hostname}`) });
  const a = await node("10.0.0.1", 1000);
  const b = await node("10.0.0.2", 1000);
  const c = await node("10.0.0.3", 1000);
  const everyone = async () => {
    got.length = 0;
    for (const from of [a, b, c]) {
      for (const to of [a, b, c]) if (from !== to) from.send(bytes(0), to.localAddress);
    }
    await net.advance(5);
    return got.sort();
  };

  net.partition(["10.0.0.1"], [{ hostname: "10.0.0.2", port: 1000 }]);
  assert.deepEqual(await everyone(), [
    "10.0.0.1>10.0.0.3",
    "10.0.0.2>10.0.0.3",
    "10.0.0.3>10.0.0.1",
    "10.0.0.3>10.0.0.2",
  ]);
  assert.equal(net.stats.partitioned, 2);

  net.partition(["10.0.0.3:1000"], ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(await everyone(), []);

  net.heal();
  assert.equal((await everyone()).length, 6);
});

Deno.test("MemoryNetwork: a partition made while a datagram is in flight drops it", async () => {
  const net = new MemoryNetwork({ delayMs: 10 });
  let got = 0;
  const a = await net.bind({ hostname: "10.0.0.1", onDatagram: () => got++ });
  const b = await net.bind({ hostname: "10.0.0.2" });
  b.send(bytes(1), a.localAddress);
  await net.advance(5);
  net.partition(["10.0.0.1"], ["10.0.0.2"]);
  await net.advance(10);
  assert.equal(got, 0);
  assert.equal(net.stats.partitioned, 1);
});

Deno.test("MemoryNetwork: timers fire in time order, ties in creation order, clearTimer cancels", async () => {
  const net = new MemoryNetwork({ startTime: 1000 });
  const fired: string[] = [];
  const t = (name: string, ms: number) =>
    net.clock.setTimer(() => fired.push(`${name}@${net.clock.now()}`), ms);
  t("c", 30);
  t("a", 10);
  const cancelled = t("x", 20);
  t("b1", 20);
  t("b2", 20);
  t("now", 0);
  net.clock.clearTimer(cancelled);
  net.clock.clearTimer(123456); // unknown handles are ignored
  await net.advance(25);
  assert.deepEqual(fired, ["now@1000", "a@1010", "b1@1020", "b2@1020"]);
  assert.equal(net.now(), 1025);
  await net.advance(10);
  assert.deepEqual(fired.slice(4), ["c@1030"]);
  assert.equal(net.stats.timersFired, 5);
});

Deno.test("MemoryNetwork: timers set by timers and deliveries interleave in virtual time", async () => {
  const net = new MemoryNetwork({ delayMs: 15 });
  const log: string[] = [];
  const a = await net.bind({ onDatagram: () => log.push(`recv@${net.now()}`) });
  const b = await net.bind({});
  net.clock.setTimer(() => {
    log.push(`t1@${net.now()}`);
    b.send(bytes(0), a.localAddress);
    net.clock.setTimer(() => log.push(`t2@${net.now()}`), 10);
  }, 10);
  await net.advance(100);
  assert.deepEqual(log, ["t1@10", "t2@20", "recv@25"]);
});

Deno.test("MemoryNetwork: closed sockets drop traffic, send after close throws, address reusable", async () => {
  const net = new MemoryNetwork();
  let got = 0;
  const a = await net.bind({ port: 6000, onDatagram: () => got++ });
  const b = await net.bind({});
  b.send(bytes(1), a.localAddress);
  await a.close();
  await a.close(); // idempotent
  await net.advance(5);
  assert.equal(got, 0);
  assert.equal(net.stats.unroutable, 1);
  assert.throws(() => a.send(bytes(1), b.localAddress), TypeError);

  b.send(bytes(1), { hostname: "10.9.9.9", port: 1 }); // never bound
  await net.advance(5);
  assert.equal(net.stats.unroutable, 2);

  const again = await net.bind({ port: 6000, onDatagram: () => got++ });
  b.send(bytes(1), again.localAddress);
  await net.advance(5);
  assert.equal(got, 1);
});

Deno.test("MemoryNetwork: binding rules (defaults, port 0, address in use, bad options)", async () => {
  const net = new MemoryNetwork();
  const a = await net.bind({});
  const b = await net.bind({ hostname: "0.0.0.0", port: 0 });
  const v6 = await net.bind({ hostname: "::" });
  assert.equal(a.localAddress.hostname, "127.0.0.1");
  assert.notEqual(a.localAddress.port, b.localAddress.port);
  assert.ok(a.localAddress.port > 0);
  assert.equal(v6.localAddress.hostname, "::1");
  await assert.rejects(net.bind({ port: a.localAddress.port }), Deno.errors.AddrInUse);
  await assert.rejects(net.bind({ port: 70000 }), RangeError);
  // Same port on another simulated host is fine.
  await net.bind({ hostname: "10.0.0.5", port: a.localAddress.port });
  assert.throws(() => new MemoryNetwork({ loss: 2 }), RangeError);
});

Deno.test("MemoryNetwork: async iteration, bounded queue drops the oldest, close ends iterators", async () => {
  const net = new MemoryNetwork();
  const a = await net.bind({ queueLimit: 3 });
  const b = await net.bind({});
  for (let i = 0; i < 5; i++) b.send(bytes(i), a.localAddress);
  await net.advance(5);
  assert.equal(net.stats.overflowed, 2);
  const seen: number[] = [];
  const loop = (async () => {
    for await (const { data, from } of a) {
      assert.deepEqual(from, b.localAddress);
      seen.push(data[0]);
    }
  })();
  await net.advance(0);
  assert.deepEqual(seen, [2, 3, 4]);
  b.send(bytes(9), a.localAddress);
  await net.advance(5);
  assert.deepEqual(seen, [2, 3, 4, 9]);
  await a.close();
  await loop; // ends

  const withCallback = await net.bind({ onDatagram: () => {} });
  assert.throws(() => withCallback[Symbol.asyncIterator](), TypeError);
});

Deno.test("MemoryNetwork: promise-based code progresses between events (runUntil)", async () => {
  const net = new MemoryNetwork({ delayMs: 10 });
  const server = await net.bind({
    port: 53,
    onDatagram: (data, from) => server.send(bytes(data[0] + 1), from),
  });
  const client = await net.bind({});
  // A driver written with for-await and an awaited round trip per step.
  const results: number[] = [];
  const driver = (async () => {
    const replies = client[Symbol.asyncIterator]();
    let value = 0;
    for (let i = 0; i < 5; i++) {
      client.send(bytes(value), server.localAddress);
      const next = await replies.next();
      value = (next.value as { data: Uint8Array }).data[0];
      results.push(value);
    }
  })();
  assert.equal(await net.runUntil(() => results.length === 5), true);
  await driver;
  assert.deepEqual(results, [1, 2, 3, 4, 5]);
  assert.equal(net.now(), 100);
  // A predicate that never holds times out at the deadline.
  assert.equal(await net.runUntil(() => false, { timeoutMs: 500 }), false);
  assert.equal(net.now(), 600);
});

Deno.test("MemoryNetwork: errors in callbacks reject advance(), or go to onError", async () => {
  const net = new MemoryNetwork();
  net.clock.setTimer(() => {
    throw new Error("boom");
  }, 1);
  await assert.rejects(net.advance(5), /boom/);

  const noHandler = await net.bind({
    onDatagram: () => {
      throw new Error("unhandled");
    },
  });
  const c = await net.bind({});
  c.send(bytes(1), noHandler.localAddress);
  await assert.rejects(net.advance(5), /unhandled/);

  const errors: Error[] = [];
  const a = await net.bind({
    onDatagram: () => {
      throw new Error("bad handler");
    },
    onError: (error) => errors.push(error),
  });
  const b = await net.bind({});
  b.send(bytes(1), a.localAddress);
  await net.advance(5);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /bad handler/);
});

Deno.test("MemoryNetwork: 300 nodes all-to-all exchange completes", async () => {
  const net = new MemoryNetwork({ seed: 2, delayMs: { min: 1, max: 40 } });
  const n = 300;
  const counts = new Array<number>(n).fill(0);
  let total = 0;
  const sockets: DatagramSocket[] = [];
  for (let i = 0; i < n; i++) {
    sockets.push(
      await net.bind({
        hostname: `10.${i >> 8}.${i & 255}.1`,
        port: 9000,
        onDatagram: (data, from: NetAddress) => {
          counts[i]++;
          total++;
          if (data[0] === 0) sockets[i].send(bytes(1), from); // acknowledge
        },
      }),
    );
  }
  for (const from of sockets) {
    for (const to of sockets) if (from !== to) from.send(bytes(0), to.localAddress);
  }
  const expected = 2 * (n - 1);
  assert.equal(await net.runUntil(() => total === n * expected), true);
  assert.ok(counts.every((c) => c === expected));
  assert.equal(net.stats.delivered, 2 * n * (n - 1));
  assert.equal(net.pendingEvents, 0);
});

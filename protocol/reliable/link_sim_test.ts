import assert from "node:assert/strict";
import { createPair, type Endpoint, patternBytes } from "../../tests/reliable_harness.ts";

/** Sends `count` messages from `from` (even: ordered, odd: unordered; every 7th fragmented). */
async function sendMany(from: Endpoint, count: number, tag: number): Promise<Uint8Array[]> {
  const sent: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const size = i % 7 === 3 ? 3000 + i : 20 + (i % 50);
    const data = patternBytes(size, tag * 100_000 + i);
    data[0] = tag;
    data[1] = i >> 8;
    data[2] = i & 255;
    sent.push(data);
    const result = await from.send(data, i % 2 === 0);
    assert.ok(result.ok, `send ${i} failed: ${JSON.stringify(result)}`);
  }
  return sent;
}

function key(data: Uint8Array): string {
  return `${data[1]! * 256 + data[2]!}:${data.length}`;
}

/** Every message exactly once, byte for byte, and the ordered ones in order. */
function assertExactlyOnce(sent: Uint8Array[], to: Endpoint): void {
  assert.equal(to.received.length, sent.length, "message count");
  const byKey = new Map(sent.map((d) => [key(d), d]));
  const seen = new Set<string>();
  for (const { data } of to.received) {
    const k = key(data);
    assert.ok(!seen.has(k), `duplicate ${k}`);
    seen.add(k);
    assert.deepEqual(data, byKey.get(k), `content of ${k}`);
  }
  const ordered = to.received.filter((r) => r.ordered).map((r) => r.data[1]! * 256 + r.data[2]!);
  assert.deepEqual(ordered, [...ordered].sort((x, y) => x - y), "ordered messages in order");
  assert.equal(ordered.length, Math.ceil(sent.length / 2));
}

for (const loss of [0.1, 0.3, 0.5]) {
  Deno.test(`reliable: ${loss * 100}% loss, 5% duplication, 10% reordering, both ways: exactly once, in order`, async () => {
    const { net, a, b } = await createPair({
      seed: 900 + loss * 100,
      loss,
      duplicate: 0.05,
      reorder: 0.1,
      link: { windowPackets: 64, maxTransmissions: 40, giveUpMs: 600_000 },
    });
    const count = 150;
    // Sends wait on the virtual clock when the window is full, so run it meanwhile.
    const fromA = sendMany(a, count, 1);
    const fromB = sendMany(b, count, 2);
    const done = await net.runUntil(
      () => a.delivered.size === count && b.delivered.size === count,
      { timeoutMs: 900_000 },
    );
    assert.ok(done, `delivered a=${a.delivered.size} b=${b.delivered.size}`);
    assertExactlyOnce(await fromA, b);
    assertExactlyOnce(await fromB, a);
    assert.equal(a.failed.size + b.failed.size, 0);
    // Nothing is left in flight or buffered once everything is acknowledged.
    assert.equal(a.link.stats().inFlight, 0);
    assert.equal(b.link.stats().bufferedBytes, 0);
    assert.ok(net.stats.lost > 0 && net.stats.duplicated > 0 && net.stats.reordered > 0);
  });
}

Deno.test("reliable: 256 KiB messages reassemble at 10% loss with reordering (ordered and unordered)", async () => {
  const { net, a, b } = await createPair({ seed: 77, loss: 0.1, duplicate: 0.02, reorder: 0.1 });
  const sent = [0, 1, 2, 3].map((i) => {
    const data = patternBytes(256 * 1024, 500 + i);
    data[1] = 0;
    data[2] = i;
    return data;
  });
  const sending = (async () => {
    for (const [i, data] of sent.entries()) assert.ok((await a.send(data, i < 2)).ok);
  })();
  assert.ok(await net.runUntil(() => a.delivered.size === 4, { timeoutMs: 300_000 }));
  await sending;
  assertExactlyOnce(sent, b);
  assert.equal(b.link.stats().partialMessages, 0);
});

Deno.test("reliable: a crashed receiver fails the message within the give-up time, with a clear error", async () => {
  const giveUpMs = 10_000;
  const { net, a, b } = await createPair({ seed: 5, link: { giveUpMs } });
  assert.ok((await a.send(patternBytes(100, 1), true)).ok);
  assert.ok(await net.runUntil(() => a.delivered.size === 1));
  await b.crash();
  const sentAt = net.now();
  const first = await a.send(patternBytes(5000, 2), true);
  const second = await a.send(patternBytes(10, 3), false);
  assert.ok(first.ok && second.ok);
  assert.ok(await net.runUntil(() => a.failed.size === 2, { timeoutMs: 60_000 }));
  const elapsed = net.now() - sentAt;
  assert.ok(elapsed <= giveUpMs, `failed after ${elapsed} ms`);
  const error = a.failed.get(first.handle)!;
  assert.equal(error.name, "DeliveryError");
  assert.equal(error.reason, "gave-up");
  assert.match(error.message, /no acknowledgement after \d+ transmissions/);
  assert.equal(a.failed.get(second.handle)!.reason, "link-failed");
  assert.deepEqual(a.link.send(new Uint8Array(1), {}, net.now()), { ok: false, reason: "failed" });
  assert.equal(a.link.failure?.reason, "gave-up");
});

Deno.test("reliable: give-up after maxTransmissions when the RTO is short", async () => {
  const { net, a, b } = await createPair({
    seed: 6,
    link: { maxTransmissions: 3, giveUpMs: 600_000, rtt: { initialRtoMs: 200, maxRtoMs: 400 } },
  });
  await b.crash();
  const sent = await a.send(patternBytes(10, 1), true);
  assert.ok(sent.ok);
  assert.ok(await net.runUntil(() => a.failed.size === 1));
  assert.equal(a.failed.get(sent.handle)!.transmissions, 3);
  assert.ok(net.now() <= 200 + 400 + 400 + 100, `gave up at ${net.now()}`);
});

Deno.test("reliable: sequence numbers wrap around 2^32 under loss and reordering", async () => {
  const { net, a, b } = await createPair({
    seed: 11,
    loss: 0.2,
    reorder: 0.2,
    sessionA: 0xffff_ffc0,
    sessionB: 0xffff_fffe,
  });
  const fromA = sendMany(a, 120, 1);
  const fromB = sendMany(b, 120, 2);
  assert.ok(
    await net.runUntil(() => a.delivered.size === 120 && b.delivered.size === 120, {
      timeoutMs: 300_000,
    }),
  );
  assertExactlyOnce(await fromA, b);
  assertExactlyOnce(await fromB, a);
  assert.ok(a.link.stats().dataSent > 0x40, "A's sequence numbers went past 2^32");
});

Deno.test("reliable: a full window blocks sends until acknowledgements open it (backpressure)", async () => {
  const { net, a, b } = await createPair({ seed: 3, link: { windowPackets: 4 } });
  let accepted = 0;
  while (a.link.send(new Uint8Array(100), {}, net.now()).ok) accepted++;
  assert.equal(accepted, 4);
  assert.equal(a.link.writable, false);
  assert.deepEqual(a.link.send(new Uint8Array(1), {}, net.now()), { ok: false, reason: "blocked" });
  a.pump();
  let writable = false;
  const waiting = a.send(new Uint8Array(1), false).then((r) => (writable = r.ok));
  assert.equal(writable, false);
  assert.ok(await net.runUntil(() => writable));
  await waiting;
  assert.ok(await net.runUntil(() => b.received.length === 5));
});

Deno.test("reliable: a 1 MiB message (the default limit) goes through; one byte more is refused", async () => {
  const { net, a, b } = await createPair({ seed: 8, loss: 0.05 });
  const data = patternBytes(1024 * 1024, 99);
  const sent = await a.send(data, false);
  assert.ok(sent.ok);
  assert.ok(await net.runUntil(() => a.delivered.has(sent.handle), { timeoutMs: 300_000 }));
  assert.equal(b.received.length, 1);
  assert.deepEqual(b.received[0]!.data, data);
  assert.deepEqual(a.link.send(new Uint8Array(1024 * 1024 + 1), {}, net.now()), {
    ok: false,
    reason: "too-large",
  });
});

Deno.test("reliable: malformed and foreign datagrams are counted by reason, never thrown", async () => {
  const { a } = await createPair({ seed: 2 });
  assert.equal(a.link.handleDatagram(new Uint8Array([16, 0]), 0), "truncated-header");
  assert.equal(a.link.handleDatagram(new Uint8Array([0, 0, 0, 0, 0, 0, 0]), 0), "unexpected-type");
  assert.equal(
    a.link.handleDatagram(new Uint8Array([17, 0, 0, 0, 0, 0, 1, 0]), 0),
    "truncated-payload",
  );
  assert.deepEqual(a.link.stats().invalid, {
    "truncated-header": 1,
    "unexpected-type": 1,
    "truncated-payload": 1,
  });
});

Deno.test("reliable: a peer that restarts (new session) fails what it did not acknowledge, and the link goes on", async () => {
  const { net, a, b } = await createPair({ seed: 21 });
  assert.ok((await a.send(patternBytes(50, 1), true)).ok);
  assert.ok(await net.runUntil(() => a.delivered.size === 1 && b.received.length === 1));
  // B crashes with a message from A in flight, and comes back on the same address with a new session.
  await b.crash();
  const lost = await a.send(patternBytes(50, 2), true);
  assert.ok(lost.ok);
  await net.advance(50);
  const { Endpoint } = await import("../../tests/reliable_harness.ts");
  const reborn = new Endpoint(net, { session: 0x7777 });
  reborn.socket = await net.bind({
    hostname: "10.0.0.2",
    port: 4000,
    onDatagram: (d) => reborn.receive(d),
  });
  reborn.peer = a.socket!.localAddress;
  assert.ok((await reborn.send(patternBytes(30, 3), true)).ok);
  assert.ok(await net.runUntil(() => a.failed.size === 1));
  assert.equal(a.failed.get(lost.handle)!.reason, "peer-restarted");
  assert.equal(a.received.length, 1); // B's new message arrived
  // A talks to the new B on a new session; messages flow again, in order.
  const again = await a.send(patternBytes(40, 4), true);
  assert.ok(again.ok);
  assert.ok(
    await net.runUntil(() => reborn.received.length === 1 && a.delivered.has(again.handle)),
  );
  assert.notEqual(a.link.session, 0x1000);
});

Deno.test("reliable: reordering without loss causes almost no retransmissions (the reordering window adapts)", async () => {
  const { net, a, b } = await createPair({
    seed: 1,
    delayMs: 10,
    reorder: 0.2, // one datagram in five overtaken by up to 15 ms
    reorderDelayMs: { min: 1, max: 15 },
  });
  let firstHalf = -1;
  let done = false;
  (async () => {
    for (let i = 0; i < 2000; i++) {
      assert.ok((await a.send(patternBytes(200, i), true)).ok);
      if (i === 999) firstHalf = a.link.stats().fastRetransmits + a.link.stats().rtoRetransmits;
    }
    done = true;
  })();
  assert.ok(await net.runUntil(() => done && a.delivered.size === 2000, { timeoutMs: 300_000 }));
  const s = a.link.stats();
  assert.ok(net.stats.reordered > 500);
  const retransmits = s.fastRetransmits + s.rtoRetransmits + s.probes;
  assert.ok(
    retransmits <= 20,
    `${retransmits} retransmissions for ${net.stats.reordered} reordered`,
  );
  assert.equal(s.fastRetransmits + s.rtoRetransmits, firstHalf, "none once the window adapted");
  assert.ok(s.spuriousRetransmits > 0, "the spurious ones were noticed");
  assert.equal(b.received.length, 2000);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DataFrame,
  decodeAck,
  decodeData,
  encodeAck,
  encodeData,
  type ReceiverEvent,
  ReliableLink,
  ReliableReceiver,
  ReliableSender,
  RttEstimator,
  type SenderEvent,
  serialAdd,
  serialDiff,
  serialLess,
} from "@olaf/protocol/reliable";

Deno.test("rtt: RFC 6298 arithmetic, sample by sample", () => {
  const rtt = new RttEstimator({ minRtoMs: 1, maxRtoMs: 60_000 });
  assert.equal(rtt.rto, 1000); // 2.1: initial RTO 1 s
  assert.equal(rtt.srtt, undefined);
  let srtt = 0;
  let rttvar = 0;
  const samples = [500, 300, 700, 100, 100, 100, 2000];
  for (const [i, r] of samples.entries()) {
    if (i === 0) {
      srtt = r; // 2.2
      rttvar = r / 2;
    } else {
      rttvar = (1 - 1 / 4) * rttvar + (1 / 4) * Math.abs(srtt - r); // 2.3, RTTVAR first
      srtt = (1 - 1 / 8) * srtt + (1 / 8) * r;
    }
    rtt.sample(r);
    assert.ok(Math.abs(rtt.srtt! - srtt) < 1e-9, `SRTT after ${r}`);
    assert.ok(Math.abs(rtt.rttvar - rttvar) < 1e-9, `RTTVAR after ${r}`);
    assert.ok(Math.abs(rtt.rto - (srtt + Math.max(1, 4 * rttvar))) < 1e-9, `RTO after ${r}`);
  }
  assert.equal(rtt.minRtt, 100);
  assert.equal(rtt.latest, 2000);
});

Deno.test("rtt: floor, ceiling, exponential backoff, and a sample ends the backoff", () => {
  const rtt = new RttEstimator(); // floor 200 ms, ceiling 60 s
  rtt.sample(10);
  assert.equal(rtt.rto, 200); // 10 + 4 * 5 = 30, raised to the floor
  rtt.backoff();
  assert.equal(rtt.rto, 400);
  rtt.backoff();
  assert.equal(rtt.rto, 800);
  for (let i = 0; i < 20; i++) rtt.backoff();
  assert.equal(rtt.rto, 60_000);
  rtt.sample(10);
  assert.equal(rtt.backoffs, 0);
  assert.equal(rtt.rto, 200);
  const slow = new RttEstimator();
  slow.sample(50_000);
  assert.equal(slow.rto, 60_000);
  assert.throws(() => new RttEstimator({ minRtoMs: 0 }), RangeError);
});

Deno.test("serial arithmetic across the wrap", () => {
  assert.equal(serialAdd(0xffff_ffff, 2), 1);
  assert.equal(serialDiff(1, 0xffff_ffff), 2);
  assert.ok(serialLess(0xffff_fff0, 5));
  assert.ok(!serialLess(5, 0xffff_fff0));
  assert.equal(serialDiff(0x8000_0000, 0), -0x8000_0000); // exactly half way: the edge of the window
});

function ackFor(
  frames: DataFrame[],
  cumulative: number,
  echo: DataFrame,
  ranges = [] as { start: number; end: number }[],
) {
  return {
    session: frames[0]!.session,
    incarnation: 0,
    cumulative,
    echoTimestamp: echo.timestamp,
    delayMs: 0,
    ranges,
  };
}

Deno.test("sender: Karn's rule: an ACK of a retransmitted packet gives no RTT sample", () => {
  const events: SenderEvent[] = [];
  const sender = new ReliableSender({ session: 50 }, (e) => events.push(e));
  sender.send(new Uint8Array(10), false, 0);
  const first = decodeData(sender.pollTransmit(0)!);
  assert.equal(sender.pollTimeout(), 1000); // initial RTO
  sender.handleTimeout(1000);
  assert.equal(sender.rto, 2000); // backed off
  const again = decodeData(sender.pollTransmit(1000)!);
  assert.equal(again.seq, first.seq); // a retransmission reuses the sequence number
  assert.equal(again.timestamp, 1000);
  sender.onAck(ackFor([first], 51, again), 1300);
  assert.equal(sender.srtt, undefined); // no sample...
  assert.equal(sender.rto, 2000); // ...so the backoff stays (RFC 6298 5.7 with Karn)
  assert.deepEqual(events, [{ type: "delivered", handle: 0, latencyMs: 1300 }]);
  assert.equal(sender.stats.rtoRetransmits, 1);
});

Deno.test("sender: SACK gaps trigger fast retransmission after the reordering window, not before", () => {
  const sender = new ReliableSender({ session: 0 }, () => {});
  // Establish min RTT 100 ms with one message.
  sender.send(new Uint8Array(1), false, 0);
  const warm = decodeData(sender.pollTransmit(0)!);
  sender.onAck(ackFor([warm], 1, warm), 100);
  for (let i = 0; i < 5; i++) sender.send(new Uint8Array(1), false, 1000);
  const sent = Array.from({ length: 5 }, () => decodeData(sender.pollTransmit(1000)!));
  assert.deepEqual(sent.map((f) => f.seq), [1, 2, 3, 4, 5]);
  // 2..5 arrive, 1 does not (yet): the ACK says so at 1100.
  sender.onAck(ackFor(sent, 1, sent[4]!, [{ start: 2, end: 6 }]), 1100);
  assert.equal(sender.pollTransmit(1100), undefined); // within RTT + min_RTT/4: maybe just reordered
  assert.equal(sender.pollTimeout(), 1000 + 100 + 25);
  sender.handleTimeout(1125);
  const resent = decodeData(sender.pollTransmit(1125)!);
  assert.equal(resent.seq, 1);
  assert.equal(sender.stats.fastRetransmits, 1);
  assert.equal(sender.stats.rtoRetransmits, 0);
});

Deno.test("sender: ACKs of another session or of unsent sequence numbers are ignored", () => {
  const events: SenderEvent[] = [];
  const sender = new ReliableSender({ session: 10 }, (e) => events.push(e));
  sender.send(new Uint8Array(1), false, 0);
  const frame = decodeData(sender.pollTransmit(0)!);
  sender.onAck({ ...ackFor([frame], 11, frame), session: 99 }, 5);
  sender.onAck(ackFor([frame], 5000, frame), 5);
  assert.equal(events.length, 0);
  assert.equal(sender.stats.acksIgnored, 2);
  assert.equal(sender.inFlight, 1);
});

Deno.test("sender: messages are fragmented to the datagram limit and the window bounds what is queued", () => {
  const sender = new ReliableSender(
    { session: 0, maxDatagramBytes: 100, windowPackets: 8 },
    () => {},
  );
  const result = sender.send(new Uint8Array(1000), true, 0);
  assert.ok(result.ok);
  assert.equal(sender.writable, false); // 14 fragments of 72 bytes > 8
  assert.deepEqual(sender.send(new Uint8Array(1), false, 0), { ok: false, reason: "blocked" });
  const frames: DataFrame[] = [];
  for (let d = sender.pollTransmit(0); d; d = sender.pollTransmit(0)) {
    assert.ok(d.length <= 100);
    frames.push(decodeData(d));
  }
  assert.equal(frames.length, 8); // the rest waits for the window
  assert.ok(frames.every((f) => f.fragmentCount === 14 && f.ordered));
  assert.deepEqual(sender.send(new Uint8Array(2_000_000), false, 0), {
    ok: false,
    reason: "too-large",
  });
});

function fragment(
  seq: number,
  messageId: number,
  index: number,
  count: number,
  size: number,
): DataFrame {
  return {
    session: 1,
    seq,
    timestamp: seq,
    messageId,
    reliable: true,
    ordered: false,
    fragmentIndex: index,
    fragmentCount: count,
    data: new Uint8Array(size),
  };
}

Deno.test("receiver: a flood of fragment headers cannot grow memory past the bound; the timeout frees it", () => {
  const maxBufferedBytes = 256 * 1024;
  const events: ReceiverEvent[] = [];
  const receiver = new ReliableReceiver(
    { maxBufferedBytes, maxPartialMessages: 64, reassemblyTimeoutMs: 5000 },
    (e) => events.push(e),
  );
  let peak = 0;
  let acked = 0;
  let seq = 1;
  let messageId = 0;
  // 20,000 first fragments of 65,535-fragment messages, 1 KiB each, every sequence number in turn.
  for (let i = 0; i < 20_000; i++) {
    const frame = fragment(seq, messageId++, 0, 0xffff, 1024);
    const bytes = encodeData(frame);
    receiver.onData(decodeData(bytes), bytes.length, i);
    const ack = receiver.pollAck(i);
    if (ack) {
      acked++;
      assert.ok(ack.length <= 3 * bytes.length, "an ACK is at most 3x what drew it");
      if (decodeAck(ack).cumulative === serialAdd(seq, 1)) seq = serialAdd(seq, 1);
    }
    peak = Math.max(peak, receiver.bufferedBytes);
    assert.ok(receiver.partialMessages <= 64);
  }
  assert.ok(peak <= maxBufferedBytes, `peak ${peak}`);
  assert.ok(receiver.stats.memoryDrops > 10_000, "refused unacknowledged once full");
  assert.ok(acked > 0);
  assert.equal(events.filter((e) => e.type === "message").length, 0);
  receiver.handleTimeout(20_000 + 5000);
  assert.equal(receiver.bufferedBytes, 0);
  assert.equal(receiver.partialMessages, 0);
  assert.ok(events.some((e) => e.type === "dropped" && e.reason === "reassembly-timeout"));
});

Deno.test("receiver: tiny DATA draws ACKs of at most 3x its size, even with many gaps", () => {
  const receiver = new ReliableReceiver({ maxAckRanges: 16 }, () => {});
  for (let i = 0; i < 40; i++) {
    const bytes = encodeData({ ...fragment(1 + 2 * i, i, 0, 1, 0), session: 1 });
    receiver.onData(decodeData(bytes), bytes.length, i * 100);
    const ack = receiver.pollAck(i * 100 + 25)!; // the first one is a delayed ACK
    assert.ok(ack.length <= 3 * bytes.length, `${ack.length} > 3 x ${bytes.length}`);
  }
});

Deno.test("receiver: duplicates are dropped and acknowledged again; sequence numbers beyond the window are refused", () => {
  const events: ReceiverEvent[] = [];
  const receiver = new ReliableReceiver({ windowPackets: 16 }, (e) => events.push(e));
  const one = encodeData({ ...fragment(1, 0, 0, 1, 3), session: 1 });
  receiver.onData(decodeData(one), one.length, 0);
  receiver.onData(decodeData(one), one.length, 1);
  assert.equal(events.length, 1);
  assert.equal(receiver.stats.duplicates, 1);
  assert.ok(receiver.pollAck(1)); // the duplicate asks for an ACK at once
  const far = encodeData({ ...fragment(100, 1, 0, 1, 3), session: 1 });
  receiver.onData(decodeData(far), far.length, 2);
  assert.equal(receiver.stats.refused, 1);
  assert.equal(receiver.pollAck(2), undefined);
});

Deno.test("receiver: messages over maxMessageBytes are dropped, and later ordered messages still flow", () => {
  const events: ReceiverEvent[] = [];
  const receiver = new ReliableReceiver({ maxMessageBytes: 100 }, (e) => events.push(e));
  const big = { ...fragment(1, 0, 0, 2, 80), ordered: true };
  receiver.onData(big, 100, 0);
  receiver.onData({ ...big, seq: 2, fragmentIndex: 1 }, 100, 0); // 160 bytes in all: too large
  receiver.onData({ ...fragment(3, 1, 0, 1, 5), ordered: true }, 30, 0);
  assert.deepEqual(events.map((e) => e.type), ["dropped", "message"]);
  assert.equal(receiver.bufferedBytes, 0);
});

Deno.test("receiver: a new session from the peer (it restarted) resets the receive state; old-session stragglers are refused", () => {
  const events: ReceiverEvent[] = [];
  const receiver = new ReliableReceiver({}, (e) => events.push(e));
  receiver.onData({ ...fragment(1, 0, 0, 1, 1) }, 30, 0);
  receiver.onData({ ...fragment(77, 0, 0, 1, 1), session: 77 }, 30, 1);
  receiver.onData({ ...fragment(2, 1, 0, 1, 1) }, 30, 2);
  assert.deepEqual(events.map((e) => e.type), ["message", "reset", "message"]);
  assert.equal(receiver.session, 77);
  assert.equal(receiver.stats.refused, 1);
});

Deno.test("sender: an ACK from a new incarnation of the peer fails what is unacknowledged, and is not trusted", () => {
  const events: SenderEvent[] = [];
  const sender = new ReliableSender({ session: 5 }, (e) => events.push(e));
  sender.send(new Uint8Array(1), true, 0);
  sender.send(new Uint8Array(1), true, 0);
  const first = decodeData(sender.pollTransmit(0)!);
  const second = decodeData(sender.pollTransmit(0)!);
  sender.onAck({ ...ackFor([first], 6, first), incarnation: 41 }, 20);
  assert.equal(sender.peerIncarnation, 41);
  // The peer restarts; its new receiver acknowledges the second packet as if it were all it knew.
  sender.onAck({ ...ackFor([first], 5, second, [{ start: 6, end: 7 }]), incarnation: 42 }, 30);
  assert.deepEqual(events.map((e) => e.type), ["delivered", "failed"]);
  const failed = events[1]!;
  assert.ok(failed.type === "failed" && failed.error.reason === "peer-restarted");
  assert.match(failed.error.message, /peer restarted/);
  assert.equal(sender.peerIncarnation, 42);
});

Deno.test("link: random DATA and ACK from a hostile peer never throw, stay within the memory bounds and draw at most 3x back", () => {
  const maxBufferedBytes = 64 * 1024;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            kind: fc.constant("data" as const),
            session: fc.constantFrom(1, 2, 0xffff_ffff),
            seq: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.nat(0xffff_ffff)),
            messageId: fc.integer({ min: 0, max: 40 }),
            ordered: fc.boolean(),
            reliable: fc.boolean(),
            count: fc.integer({ min: 1, max: 0xffff }),
            index: fc.nat(),
            size: fc.integer({ min: 0, max: 1100 }),
          }),
          fc.record({
            kind: fc.constant("ack" as const),
            session: fc.constantFrom(7, 8),
            incarnation: fc.constantFrom(1, 2),
            cumulative: fc.integer({ min: 0, max: 40 }),
            gap: fc.integer({ min: 1, max: 5 }),
          }),
        ),
        { maxLength: 300 },
      ),
      (inputs) => {
        const link = new ReliableLink({
          session: 7,
          incarnation: 99,
          maxBufferedBytes,
          maxMessageBytes: 32 * 1024,
          maxPartialMessages: 8,
        });
        link.send(new Uint8Array(3000), { ordered: true }, 0);
        let now = 0;
        for (const input of inputs) {
          now += 3;
          let bytes: Uint8Array;
          if (input.kind === "data") {
            bytes = encodeData({
              session: input.session,
              seq: input.seq,
              timestamp: now,
              messageId: input.messageId,
              reliable: input.reliable,
              ordered: input.ordered,
              fragmentCount: input.count,
              fragmentIndex: input.index % input.count,
              data: new Uint8Array(input.size),
            });
          } else {
            bytes = encodeAck({
              session: input.session,
              incarnation: input.incarnation,
              cumulative: input.cumulative,
              echoTimestamp: 0,
              delayMs: 0,
              ranges: [{
                start: input.cumulative + input.gap,
                end: input.cumulative + input.gap + 2,
              }],
            });
          }
          assert.equal(link.handleDatagram(bytes, now), undefined);
          for (let out = link.pollTransmit(now); out; out = link.pollTransmit(now)) {
            if (out[0] === 17) assert.ok(out.length <= 3 * bytes.length || input.kind === "ack");
          }
          while (link.pollEvent()) { /* drain */ }
          const timeout = link.pollTimeout();
          if (timeout !== undefined && timeout <= now) link.handleTimeout(now);
          const stats = link.stats();
          assert.ok(stats.bufferedBytes <= maxBufferedBytes && stats.bufferedBytes >= 0);
          assert.ok(stats.partialMessages <= 8);
        }
      },
    ),
    { numRuns: 200, seed: 17 },
  );
});

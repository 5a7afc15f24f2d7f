import assert from "node:assert/strict";
import { decode, encode, type Message, type PeerList, type PeerRecord } from "@olaf/protocol";
import {
  bindDatagram,
  type Datagram,
  type DatagramSocket,
  type NetAddress,
} from "@olaf/protocol/net";
import { MemoryNetwork } from "@olaf/protocol/memory-network";
import type { BootstrapEvent } from "./types.ts";
import { type BootstrapOptions, startBootstrap } from "./server.ts";

/** A raw v1 client on loopback: sends bytes, reads decoded replies with a deadline. */
class RawClient implements AsyncDisposable {
  readonly socket: DatagramSocket;
  readonly #iterator: AsyncIterator<Datagram>;
  #pending: Promise<IteratorResult<Datagram>> | undefined;
  constructor(socket: DatagramSocket) {
    this.socket = socket;
    this.#iterator = socket[Symbol.asyncIterator]();
  }
  static async open(hostname = "127.0.0.1"): Promise<RawClient> {
    return new RawClient(await bindDatagram({ hostname, port: 0 }));
  }
  get record(): { ip: string; port: number } {
    return { ip: this.socket.localAddress.hostname, port: this.socket.localAddress.port };
  }
  send(bytes: Uint8Array, to: NetAddress): void {
    this.socket.send(bytes, to);
  }
  /** The next datagram, or `undefined` if none comes within `ms`. */
  async receive(ms = 2000): Promise<Uint8Array | undefined> {
    // A read that timed out stays pending and gets the next datagram.
    this.#pending ??= this.#iterator.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      const next = await Promise.race([this.#pending, timeout]);
      if (next === undefined) return undefined;
      this.#pending = undefined;
      return next.done ? undefined : next.value.data;
    } finally {
      clearTimeout(timer);
    }
  }
  async receiveMessage(ms?: number): Promise<Message> {
    const data = await this.receive(ms);
    assert.ok(data !== undefined, "expected a reply");
    return decode(data);
  }
  /** Sends and waits for a BOOTSTRAP_R. */
  async request(
    bytes: Uint8Array,
    to: NetAddress,
  ): Promise<{ peers: PeerList; self: PeerRecord; size: number }> {
    this.send(bytes, to);
    const data = await this.receive();
    assert.ok(data !== undefined, "expected a reply");
    const m = decode(data);
    assert.equal(m.type, "BOOTSTRAP_R");
    if (m.type !== "BOOTSTRAP_R") throw new Error("unreachable");
    return { peers: m.peers, self: m.self, size: data.length };
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.socket.close();
  }
}

const join = (room: string, peers: PeerRecord[] = []) => encode({ type: "JOIN_B", peers, room });
const collect = (room: string, peers: PeerRecord[] = []) =>
  encode({ type: "PEER_COLLECTOR", peers, room });
const local = (options: BootstrapOptions = {}) =>
  startBootstrap({ hostname: "127.0.0.1", port: 0, ...options });

async function waitFor(predicate: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

Deno.test("UDP: JOIN_B, re-join, PEER_COLLECTOR and ROOM_FULL, byte for byte", async () => {
  await using server = await local({ maxRooms: 1 });
  await using a = await RawClient.open();
  await using b = await RawClient.open();
  const to = server.localAddress;

  const first = await a.request(join("lobby"), to);
  const aRecord = { ...a.record, id: first.self.id };
  assert.ok(Math.abs(aRecord.id - Date.now() / 1000) < 5, "id is the Unix time in seconds");
  assert.deepEqual(first.peers.toArray(), [aRecord]);

  // B joins in the same second: a different, higher id (deployed defect 1).
  const second = await b.request(join("lobby"), to);
  const bRecord = { ...b.record, id: second.self.id };
  assert.ok(bRecord.id > aRecord.id);
  // The exact bytes the deployed bootstrap sends.
  b.send(join("lobby", [bRecord]), to);
  assert.deepEqual(
    await b.receive(),
    encode({ type: "BOOTSTRAP_R", peers: [aRecord, bRecord], self: bRecord }),
  );

  // The collector (lowest id) gets the room's list.
  const collected = await a.request(collect("lobby"), to);
  assert.deepEqual(collected.peers.toArray(), [aRecord, bRecord]);
  assert.deepEqual(collected.self, aRecord);

  // A second room is one too many.
  b.send(join("other"), to);
  assert.deepEqual(
    await b.receive(),
    encode({ type: "ROOM_FULL", peers: [], payload: new Uint8Array() }),
  );

  const stats = server.stats();
  assert.equal(stats.rooms, 1);
  assert.equal(stats.members, 2);
  assert.equal(stats.datagramsIn, 5);
  assert.equal(stats.datagramsOut, 5);
  assert.equal(stats.drops["room-limit"], 1);
  const detail = server.room("lobby")!;
  assert.deepEqual(detail.members.map(({ ip, port, id }) => ({ ip, port, id })), [
    aRecord,
    bRecord,
  ]);
});

Deno.test("UDP: a full room answers ROOM_FULL; unknown types get no answer and are counted", async () => {
  await using server = await local({ maxMembersPerRoom: 1 });
  await using a = await RawClient.open();
  await using b = await RawClient.open();
  await a.request(join("r"), server.localAddress);
  b.send(join("r"), server.localAddress);
  assert.equal((await b.receiveMessage()).type, "ROOM_FULL");
  b.send(
    encode({ type: "EXTENSION", code: 42, peers: [], payload: new Uint8Array(8) }),
    server.localAddress,
  );
  b.send(encode({ type: "PING", peers: [], payload: new Uint8Array() }), server.localAddress);
  assert.equal(await b.receive(200), undefined);
  assert.ok(await waitFor(() => server.stats().drops["unexpected-type"] === 1));
  assert.equal(server.stats().drops["unknown-type"], 1);
  assert.equal(server.stats().drops["member-limit"], 1);
});

Deno.test("UDP: room-name and datagram-size limits drop without answering", async () => {
  await using server = await local({ maxRoomNameBytes: 16, maxDatagramBytes: 512 });
  await using a = await RawClient.open();
  a.send(join("a-room-name-that-is-too-long"), server.localAddress);
  a.send(
    collect("r", Array.from({ length: 60 }, (_, i) => ({ ip: "10.0.0.1", port: i + 1, id: 1 }))),
    server.localAddress,
  );
  assert.equal(await a.receive(200), undefined);
  assert.equal(server.stats().drops["room-too-long"], 1);
  assert.equal(server.stats().drops["datagram-too-large"], 1);
  assert.equal(server.stats().rooms, 0);
  assert.equal((await a.request(join("sixteen-bytes-ok"), server.localAddress)).peers.length, 1);
});

Deno.test("UDP: reply bytes to one address are bounded; replies shrink, then stop", async () => {
  await using server = await local({
    requestsPerSecond: Infinity,
    replyBytesPerSecond: 1,
    replyBytesBurst: 300,
    amplificationFactor: Infinity, // the per-address limit alone (issue 12's 3x rule: hostile_test)
  });
  await using a = await RawClient.open();
  const others = Array.from({ length: 20 }, (_, i) => ({ ip: "10.2.0.1", port: 2000 + i, id: 0 }));
  const sizes: number[] = [];
  const first = await a.request(
    collect("r", [{ ...a.record, id: 0 }, ...others]),
    server.localAddress,
  );
  sizes.push(first.size);
  for (let i = 0; i < 4; i++) a.send(join("r"), server.localAddress);
  for (let data = await a.receive(300); data !== undefined; data = await a.receive(300)) {
    sizes.push(data.length);
  }
  assert.deepEqual(sizes, [223, 33, 33]);
  assert.equal(server.stats().drops["reply-rate-trimmed"], 2);
  assert.equal(server.stats().drops["rate-limited-reply"], 2);
});

Deno.test("UDP: the collector heartbeat keeps a room alive (defect 2); silence expires it", async () => {
  await using server = await local({ roomTimeoutMs: 400 });
  await using a = await RawClient.open();
  await a.request(join("r"), server.localAddress);
  // Heartbeat every 100 ms for 1.2 s: three times the timeout.
  for (let i = 0; i < 12; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.request(collect("r"), server.localAddress);
  }
  assert.equal(server.stats().rooms, 1);
  assert.ok(
    await waitFor(() => server.stats().rooms === 0),
    "room expires after the heartbeat stops",
  );
  assert.equal(server.stats().members, 0);
});

Deno.test("UDP: a big room's reply still fits 1024 bytes (defect 6)", async () => {
  await using server = await local({ maxMembersPerRoom: 500 });
  await using a = await RawClient.open();
  const others = Array.from({ length: 299 }, (_, i) => ({ ip: "10.1.0.1", port: 1000 + i, id: 0 }));
  const reply = await a.request(
    collect("big", [{ ...a.record, id: 0 }, ...others]),
    server.localAddress,
  );
  assert.equal(server.room("big")!.memberCount, 300);
  assert.equal(reply.size, 1023);
  assert.equal(reply.peers.length, 101);
  assert.equal(reply.peers.portAt(0), a.record.port, "the recipient comes first");
  assert.equal(reply.peers.get(0).id, reply.self.id);
});

Deno.test("UDP: restart recovery — a member report recreates the room on a new server", async () => {
  await using a = await RawClient.open();
  await using b = await RawClient.open();
  let port: number;
  let records: PeerRecord[];
  {
    await using first = await local();
    port = first.localAddress.port;
    await a.request(join("keep"), first.localAddress);
    records = (await b.request(join("keep"), first.localAddress)).peers.toArray();
  }
  // Same port, empty memory.
  await using second = await local({ port });
  assert.equal(second.stats().rooms, 0);
  const reply = await a.request(collect("keep", records), second.localAddress);
  assert.deepEqual(reply.peers.toArray(), records, "same members, same ids");
  assert.deepEqual(reply.self, records[0]);
  assert.equal(second.room("keep")!.memberCount, 2);
  // A report that does not name its sender recreates nothing but the sender.
  await using c = await RawClient.open();
  const spoof = await c.request(collect("spoofed", records), second.localAddress);
  assert.deepEqual(spoof.peers.toArray().map((p) => p.port), [c.record.port]);
  assert.equal(second.stats().drops["untrusted-report"], 1);
});

Deno.test("UDP: rate limits per source address, with counters", async () => {
  // The per-source limit alone (issue 12's 3x rule would shorten b's reply: hostile_test).
  await using server = await local({
    requestsPerSecond: 1,
    requestBurst: 5,
    amplificationFactor: Infinity,
  });
  await using a = await RawClient.open();
  await using b = await RawClient.open("127.0.0.2");
  for (let i = 0; i < 20; i++) a.send(join("r"), server.localAddress);
  let replies = 0;
  while (await a.receive(300) !== undefined) replies++;
  assert.equal(replies, 5);
  assert.equal(server.stats().drops["rate-limited"], 15);
  // Another address is not affected.
  assert.equal((await b.request(join("r"), server.localAddress)).peers.length, 2);
});

Deno.test("UDP: a flood of random and truncated datagrams is counted and dropped; service goes on", async () => {
  await using server = await local({ requestsPerSecond: Infinity, maxRooms: 50 });
  await using flooder = await RawClient.open();
  await using peer = await RawClient.open("127.0.0.2");
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const valid = [
    join("room-x"),
    collect("room-y", [{ ...flooder.record, id: 1 }]),
    join("r", [{ ip: "1.2.3.4", port: 5, id: 6 }]),
  ];
  const count = 3000;
  for (let i = 0; i < count; i++) {
    let bytes: Uint8Array;
    if (i % 3 === 0) {
      bytes = new Uint8Array(Math.floor(random() * 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() * 256;
      bytes[0] = bytes[0]! % 8; // mostly known type codes, to reach deeper
    } else {
      const v = valid[i % valid.length]!;
      bytes = v.slice(0, Math.floor(random() * v.length)); // truncated
    }
    flooder.send(bytes, server.localAddress);
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Wait until the server has read everything that arrived (loopback drops some under load).
  let last = -1;
  while (server.stats().datagramsIn !== last) {
    last = server.stats().datagramsIn;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const stats = server.stats();
  const dropped = Object.values(stats.drops).reduce((a, b) => a + b, 0);
  assert.ok(stats.drops["truncated-header"]! > 0);
  assert.ok(stats.drops["payload-length-overflow"]! + stats.drops["truncated-payload"]! > 0);
  assert.ok(stats.datagramsIn > count / 4);
  // Every datagram was either answered or counted as a drop.
  assert.ok(dropped + stats.datagramsOut >= stats.datagramsIn);
  // The server still answers correctly.
  const reply = await peer.request(join("after-flood"), server.localAddress);
  assert.deepEqual(reply.peers.toArray(), [{ ...peer.record, id: reply.self.id }]);
  assert.ok(stats.rooms <= 50);
});

Deno.test("driver on the in-memory network: timers expire rooms, events reach subscribers", async () => {
  const net = new MemoryNetwork({ startTime: 1_763_700_000_000 });
  await using server = await startBootstrap({ bind: net.bind, clock: net.clock, port: 5000 });
  const events: BootstrapEvent[] = [];
  const unsubscribe = server.subscribe((e) => events.push(e));
  const replies: Uint8Array[] = [];
  await using peer = await net.bind({
    hostname: "10.0.0.7",
    onDatagram: (data) => replies.push(data),
  });
  peer.send(join("r"), server.localAddress);
  await net.advance(10);
  assert.equal(replies.length, 1);
  assert.deepEqual(events.map((e) => e.type), ["room-created", "member-joined"]);
  // The heartbeat keeps it (virtual 60 s), then silence expires it 15 s later.
  for (let i = 0; i < 20; i++) {
    await net.advance(3000);
    peer.send(collect("r"), server.localAddress);
  }
  await net.advance(10);
  assert.equal(server.stats().rooms, 1);
  await net.advance(14_900);
  assert.equal(server.stats().rooms, 1);
  await net.advance(200);
  assert.equal(server.stats().rooms, 0);
  assert.deepEqual(events.slice(-2).map((e) => e.type), ["member-left", "room-expired"]);
  unsubscribe();
  peer.send(join("r2"), server.localAddress);
  await net.advance(10);
  assert.equal(events.length, 4, "no events after unsubscribe");
  assert.equal(server.stats().rooms, 1);
});

Deno.test("a timeout longer than a timer can hold is waited out in steps, not spun on", async () => {
  const net = new MemoryNetwork({ startTime: 1_763_700_000_000 });
  const delays: number[] = [];
  const clock = {
    now: () => net.clock.now(),
    setTimer: (callback: () => void, ms: number) => {
      delays.push(ms);
      return net.clock.setTimer(callback, ms);
    },
    clearTimer: (handle: number) => net.clock.clearTimer(handle),
  };
  const month = 30 * 24 * 3600 * 1000;
  await using server = await startBootstrap({ bind: net.bind, clock, roomTimeoutMs: month });
  await using peer = await net.bind({ hostname: "10.0.0.7" });
  peer.send(join("r"), server.localAddress);
  await net.advance(10);
  assert.deepEqual(delays, [0x7fffffff], "one timer, as long as a timer can be");
  await net.advance(month - 20);
  assert.equal(server.stats().rooms, 1);
  assert.equal(delays.length, 2, "re-armed once, for the rest of the month");
  await net.advance(20);
  assert.equal(server.stats().rooms, 0);
});

Deno.test("startBootstrap refuses bad limits before binding, and reports a port in use", async () => {
  await assert.rejects(() => local({ maxRooms: -1 }), RangeError);
  await using server = await local();
  await assert.rejects(() => local({ port: server.localAddress.port }));
});

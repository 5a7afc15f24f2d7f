import assert from "node:assert/strict";
import { MemoryNetwork } from "../net/memory_network.ts";
import type { Clock, NetAddress, Transmit } from "../net/types.ts";
import { drive, MAX_TIMER_MS } from "./drive.ts";
import { Fifo } from "../net/fifo.ts";
import type { SansIoMachine } from "./machine.ts";

/** Echoes datagrams, emits "tick" at each deadline in `ticks`, records the `now`s it saw. */
class Model implements SansIoMachine<string> {
  out = new Fifo<Transmit>();
  events = new Fifo<string>();
  ticks: number[];
  polledAt: number[] = [];
  timeouts: number[] = [];
  constructor(ticks: number[] = []) {
    this.ticks = ticks;
  }
  handleDatagram(data: Uint8Array, from: NetAddress): void {
    this.out.push({ data, to: from });
    this.events.push(`got ${data.length}`);
  }
  handleTimeout(now: number): void {
    this.timeouts.push(now);
    while (this.ticks.length > 0 && this.ticks[0]! <= now) {
      this.events.push(`tick ${this.ticks.shift()}`);
    }
  }
  pollTransmit(now: number): Transmit | undefined {
    const t = this.out.shift();
    if (t !== undefined) this.polledAt.push(now);
    return t;
  }
  pollEvent(): string | undefined {
    return this.events.shift();
  }
  pollTimeout(): number | undefined {
    return this.ticks[0];
  }
}

const from = { hostname: "10.0.0.9", port: 9 };

Deno.test("drive: receive sends the machine's transmits with the clock's now and delivers events", async () => {
  const net = new MemoryNetwork();
  await net.advance(5);
  const model = new Model();
  const events: string[] = [];
  const sent: [number, NetAddress][] = [];
  const driver = drive(model, { clock: net.clock, onEvent: (e) => events.push(e) });
  driver.receive(new Uint8Array(2), from); // not attached yet: the transmit waits
  assert.equal(sent.length, 0);
  assert.deepEqual(events, ["got 2"]);
  driver.attach({ send: (data, to) => sent.push([data.length, to]) });
  assert.deepEqual(sent, [[2, from]]);
  assert.deepEqual(model.polledAt, [5]);
  driver.stop();
  driver.receive(new Uint8Array(3), from);
  assert.deepEqual(sent, [[2, from]]);
  assert.equal(driver.stopped, true);
});

Deno.test("drive: one timer follows pollTimeout, and stop() clears it", async () => {
  const net = new MemoryNetwork();
  const model = new Model([100, 250, 400]);
  const events: string[] = [];
  const driver = drive(model, { clock: net.clock, onEvent: (e) => events.push(e) });
  driver.attach({ send: () => {} });
  await net.advance(99);
  assert.deepEqual(events, []);
  await net.advance(1);
  assert.deepEqual(events, ["tick 100"]);
  // The machine moves its deadline earlier: pump re-arms.
  model.ticks.unshift(120);
  driver.pump();
  await net.advance(200); // t = 300
  assert.deepEqual(events, ["tick 100", "tick 120", "tick 250"]);
  assert.deepEqual(model.timeouts, [100, 120, 250]);
  driver.stop();
  await net.advance(1000);
  assert.deepEqual(events, ["tick 100", "tick 120", "tick 250"]);
});

Deno.test("drive: delays are capped at 2^31-1 ms, so a far deadline fires early and re-arms", () => {
  const delays: number[] = [];
  const clock: Clock = {
    now: () => 0,
    setTimer: (_callback, delay) => delays.push(delay),
    clearTimer: () => {},
  };
  const driver = drive(new Model([10 * MAX_TIMER_MS]), { clock });
  driver.pump();
  assert.deepEqual(delays, [MAX_TIMER_MS]);
  driver.pump(); // same deadline: not armed twice
  assert.deepEqual(delays, [MAX_TIMER_MS]);
});

Deno.test("drive: a throwing listener or socket goes to onError and the pump goes on", () => {
  const net = new MemoryNetwork();
  const errors: string[] = [];
  const events: string[] = [];
  const driver = drive(new Model(), {
    clock: net.clock,
    onEvent: (e) => {
      events.push(e);
      throw new Error("listener");
    },
    onError: (error) => errors.push((error as Error).message),
  });
  let sent = 0;
  driver.attach({
    send: () => {
      sent++;
      throw new Error("socket");
    },
  });
  driver.receive(new Uint8Array(1), from);
  driver.receive(new Uint8Array(2), from);
  assert.equal(sent, 2);
  assert.deepEqual(events, ["got 1", "got 2"]);
  assert.deepEqual(errors, ["socket", "listener", "socket", "listener"]);
});

Deno.test("drive: stopping from an event listener ends the pump at once", () => {
  const net = new MemoryNetwork();
  const model = new Model();
  model.events.push("a");
  model.events.push("b");
  const seen: string[] = [];
  const driver = drive(model, {
    clock: net.clock,
    onEvent: (e) => {
      seen.push(e);
      driver.stop();
    },
  });
  driver.pump();
  assert.deepEqual(seen, ["a"]);
  assert.equal(model.events.size, 1);
});

import assert from "node:assert/strict";
import {
  bindDatagram,
  bindDenoDatagram,
  bindNodeDatagram,
  DEFAULT_UDP_IMPLEMENTATION,
  isDenoDatagramAvailable,
  resolveUdpImplementation,
  udpImplementationsAvailable,
} from "./mod.ts";
import type { BindOptions, NetAddress } from "./types.ts";

const implementations = [
  { name: "deno", bind: bindDenoDatagram, available: isDenoDatagramAvailable() },
  { name: "node", bind: bindNodeDatagram, available: true },
] as const;

async function hasIPv6(): Promise<boolean> {
  try {
    await (await bindNodeDatagram({ hostname: "::1" })).close();
    return true;
  } catch {
    return false;
  }
}
const families = [
  { family: "IPv4", hostname: "127.0.0.1", available: true },
  { family: "IPv6", hostname: "::1", available: await hasIPv6() },
];

/** Resolves with `promise`, or rejects after `ms` (a real timer, always cleared). */
async function within<T>(promise: Promise<T>, ms = 2000, what = "datagram"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its resolver, for callbacks. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const bytes = (...values: number[]) => new Uint8Array(values);

for (const impl of implementations) {
  for (const { family, hostname, available } of families) {
    const ignore = !impl.available || !available;
    const test = (name: string, fn: () => Promise<void>) =>
      Deno.test({ name: `udp ${impl.name} ${family}: ${name}`, ignore, fn });
    const bind = (options: BindOptions = {}) => impl.bind({ hostname, ...options });

    test("port 0 binds a real port on the requested address", async () => {
      await using socket = await bind({ port: 0 });
      assert.equal(socket.implementation, impl.name);
      assert.equal(socket.localAddress.hostname, hostname);
      assert.ok(socket.localAddress.port > 0 && socket.localAddress.port <= 65535);
    });

    test("callback style: send and receive with the sender's address", async () => {
      const got = deferred<[Uint8Array, NetAddress]>();
      await using server = await bind({ onDatagram: (data, from) => got.resolve([data, from]) });
      await using client = await bind();
      client.send(bytes(1, 2, 3), server.localAddress);
      const [data, from] = await within(got.promise);
      assert.deepEqual(data, bytes(1, 2, 3));
      assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
      assert.deepEqual(from, client.localAddress);
    });

    test("iterator style: round trip through an echo server", async () => {
      await using echo = await bind({ onDatagram: (data, from) => echo.send(data, from) });
      await using client = await bind();
      const replies = client[Symbol.asyncIterator]();
      for (let i = 0; i < 3; i++) {
        client.send(bytes(i, 42), echo.localAddress);
        const next = await within(replies.next());
        assert.equal(next.done, false);
        assert.deepEqual(next.value?.data, bytes(i, 42));
        assert.deepEqual(next.value?.from, echo.localAddress);
      }
    });

    test("1000 datagrams arrive in order (32 in flight)", async () => {
      const total = 1000;
      const window = 32;
      const order: number[] = [];
      const done = deferred<void>();
      let sent = 0;
      await using client = await bind();
      const sendNext = () => {
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, sent++);
        client.send(data, server.localAddress);
      };
      await using server = await bind({
        onDatagram: (data) => {
          order.push(new DataView(data.buffer, data.byteOffset).getUint32(0));
          if (order.length === total) done.resolve();
          else if (sent < total) sendNext();
        },
      });
      for (let i = 0; i < window; i++) sendNext();
      await within(done.promise, 5000, `all ${total} datagrams`);
      assert.deepEqual(order, Array.from({ length: total }, (_, i) => i));
    });

    test("close ends iterators, send after close throws TypeError, close is idempotent", async () => {
      const socket = await bind();
      const loop = (async () => {
        let n = 0;
        for await (const _ of socket) n++;
        return n;
      })();
      await socket.close();
      assert.equal(await within(loop, 2000, "end of iteration"), 0);
      assert.throws(() => socket.send(bytes(1), socket.localAddress), TypeError);
      await socket.close();
    });

    test("binding an address in use rejects with AddrInUse", async () => {
      await using first = await bind();
      await assert.rejects(
        bind({ port: first.localAddress.port }),
        (error: Error) => {
          assert.ok(error instanceof Deno.errors.AddrInUse, `got ${error}`);
          assert.match(error.message, new RegExp(`${first.localAddress.port}.*in use`));
          return true;
        },
      );
    });

    test("errors thrown by onDatagram go to onError; the socket keeps receiving", async () => {
      const errors: Error[] = [];
      const second = deferred<void>();
      let calls = 0;
      await using server = await bind({
        onDatagram: () => {
          if (++calls === 1) throw new Error("handler failed");
          second.resolve();
        },
        onError: (error) => errors.push(error),
      });
      await using client = await bind();
      client.send(bytes(1), server.localAddress);
      client.send(bytes(2), server.localAddress);
      await within(second.promise);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /handler failed/);
    });

    test("a failed send goes to onError and later sends still go out", async () => {
      const errors: Error[] = [];
      const got = deferred<Uint8Array>();
      await using server = await bind({ onDatagram: (data) => got.resolve(data) });
      await using client = await bind({ onError: (error) => errors.push(error) });
      // The other address family cannot be reached from this socket.
      const unreachable = { hostname: hostname === "::1" ? "127.0.0.1" : "::1", port: 9 };
      client.send(bytes(1), unreachable);
      client.send(bytes(2), server.localAddress);
      assert.deepEqual(await within(got.promise), bytes(2));
      assert.equal(errors.length, 1, `errors: ${errors}`);
    });

    test("a callback socket is not iterable", async () => {
      await using socket = await bind({ onDatagram: () => {} });
      assert.throws(() => socket[Symbol.asyncIterator](), TypeError);
    });
  }
}

Deno.test("udp: bindDatagram picks the default, or the implementation asked for", async () => {
  const available = udpImplementationsAvailable();
  assert.ok(available.includes("node"));
  assert.equal(available.includes("deno"), isDenoDatagramAvailable());
  const expected = isDenoDatagramAvailable() ? DEFAULT_UDP_IMPLEMENTATION : "node";
  assert.equal(resolveUdpImplementation(), expected);
  assert.equal(resolveUdpImplementation("auto"), expected);
  assert.equal(resolveUdpImplementation("node"), "node");

  await using auto = await bindDatagram({ hostname: "127.0.0.1" });
  assert.equal(auto.implementation, expected);
  await using node = await bindDatagram({ hostname: "127.0.0.1", implementation: "node" });
  assert.equal(node.implementation, "node");
  // The two implementations talk to each other, of course.
  const got = deferred<Uint8Array>();
  await using receiver = await bindDatagram({
    hostname: "127.0.0.1",
    onDatagram: (data) => got.resolve(data),
  });
  node.send(bytes(7), receiver.localAddress);
  assert.deepEqual(await within(got.promise), bytes(7));
});

Deno.test("udp: bad options are rejected before binding", async () => {
  await assert.rejects(bindNodeDatagram({ port: 65536 }), RangeError);
  await assert.rejects(bindNodeDatagram({ queueLimit: 0 }), RangeError);
  if (isDenoDatagramAvailable()) await assert.rejects(bindDenoDatagram({ port: -1 }), RangeError);
});

Deno.test("udp: without Deno.listenDatagram, the deno implementation says how to get it", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `import { bindDatagram, bindDenoDatagram } from ${
        JSON.stringify(import.meta.resolve("./mod.ts"))
      };
       const s = await bindDatagram({ hostname: "127.0.0.1" });
       console.log(s.implementation);
       await s.close();
       await bindDenoDatagram({ hostname: "127.0.0.1" }).catch((e) => console.log(e.message));`,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { stdout, stderr, success } = await child.output();
  const out = new TextDecoder().decode(stdout);
  assert.ok(success, new TextDecoder().decode(stderr));
  const [implementation, message] = out.trim().split("\n");
  assert.equal(implementation, "node");
  assert.match(message, /--unstable-net/);
});

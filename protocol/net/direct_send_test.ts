import assert from "node:assert/strict";
import { DIRECT_UNSUPPORTED, openDirectSender } from "./_direct_send.ts";
import { bindDenoDatagram, isDenoDatagramAvailable } from "./udp_deno.ts";
import { bindNodeDatagram } from "./udp_node.ts";
import type { Datagram, DatagramSocket } from "./types.ts";

// The direct send needs Linux, glibc and --allow-ffi (the test task runs with -A).
const ffi = Deno.build.os === "linux" && isDenoDatagramAvailable() &&
  Deno.permissions.querySync({ name: "ffi" }).state === "granted";

/** The next `count` datagrams `socket` yields (bounded: 5 s). */
async function take(socket: DatagramSocket, count: number): Promise<Datagram[]> {
  const got: Datagram[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} arrived`)), 5000);
  });
  try {
    await Promise.race([
      (async () => {
        for await (const datagram of socket) {
          got.push(datagram);
          if (got.length === count) return;
        }
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  return got;
}

Deno.test({
  name: "direct send: finds a Deno socket's descriptor and sends from its address, in call order",
  ignore: !ffi,
  fn: async () => {
    const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (conn.addr as Deno.NetAddr).port;
    // A TCP listener on the same address and port is not taken for the UDP socket.
    const tcp = Deno.listen({ hostname: "127.0.0.1", port });
    await using client = await bindNodeDatagram({ hostname: "127.0.0.1" });
    try {
      const direct = openDirectSender("127.0.0.1", port);
      assert.ok(direct, "no descriptor found");
      // A view with an offset: exactly its bytes go out.
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      assert.equal(direct.send(backing.subarray(2, 5), "127.0.0.1", client.localAddress.port), 3);
      for (let i = 0; i < 100; i++) {
        assert.equal(direct.send(new Uint8Array([i]), "127.0.0.1", client.localAddress.port), 1);
      }
      const got = await take(client, 101);
      assert.deepEqual(got[0]!.data, new Uint8Array([1, 2, 3]));
      assert.deepEqual(got[0]!.from, { hostname: "127.0.0.1", port });
      assert.deepEqual(
        got.slice(1).map((d) => d.data[0]),
        Array.from({ length: 100 }, (_, i) => i),
      );
      // Not IPv4 text: nothing sent, the caller uses the ordinary path.
      assert.equal(direct.send(new Uint8Array([1]), "::1", 1), DIRECT_UNSUPPORTED);
      assert.equal(direct.send(new Uint8Array([1]), "localhost", 1), DIRECT_UNSUPPORTED);
      assert.equal(direct.send(new Uint8Array([1]), "1.2.3.256", 1), DIRECT_UNSUPPORTED);
      assert.equal(direct.send(new Uint8Array([1]), "127.0.0.1", 65536), DIRECT_UNSUPPORTED);
      assert.equal(direct.send(new Uint8Array([1]), "127.0.0.1", 1.5), DIRECT_UNSUPPORTED);
    } finally {
      tcp.close();
      conn.close();
    }
  },
});

Deno.test({
  name: "direct send: no descriptor for an address nothing in this process is bound to",
  ignore: !ffi,
  fn: () => {
    const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (conn.addr as Deno.NetAddr).port;
    conn.close();
    assert.equal(openDirectSender("127.0.0.1", port), undefined);
    assert.equal(openDirectSender("::1", 5000), undefined);
  },
});

for (const [name, bind] of [["deno", bindDenoDatagram], ["node", bindNodeDatagram]] as const) {
  Deno.test({
    name:
      `direct send: a ${name} socket with directSend echoes in order, and refuses sends once closed`,
    ignore: !ffi,
    fn: async () => {
      const server = await bind({
        hostname: "127.0.0.1",
        directSend: true,
        onDatagram: (data, from) => server.send(data, from),
      });
      await using client = await bindDenoDatagram({ hostname: "127.0.0.1", directSend: true });
      const replies = take(client, 50);
      for (let i = 0; i < 50; i++) client.send(new Uint8Array([i, 255 - i]), server.localAddress);
      const got = await replies;
      assert.deepEqual(got.map((d) => [...d.data]), got.map((_, i) => [i, 255 - i]));
      assert.ok(got.every((d) => d.from.port === server.localAddress.port));
      await server.close();
      assert.throws(() => server.send(new Uint8Array([1]), client.localAddress), TypeError);
    },
  });
}

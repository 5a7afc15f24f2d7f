// The bootstrap CLI with the handshake-server seed's flags and config.json keys.
import assert from "node:assert/strict";
import { bindDatagram } from "@olaf/protocol/net";

const root = new URL("../..", import.meta.url);

function command(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bootstrap/mod.ts", ...args],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

Deno.test("CLI: the seed's config.json keys and log flag start the dialect as configured", async () => {
  const dir = await Deno.makeTempDir();
  const config = `${dir}/config.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      listen_address: "127.0.0.1:0",
      max_connections: 5,
      heartbeat_interval: 30,
      connection_timeout: 60,
      network_id: "lan",
      peerlist_broadcast_debounce_ms: 300,
      stun_server: { enable: true, port: 0 },
      allow_symmetric_nat_relay: true,
    }),
  );
  const child = command(["--host", "127.0.0.1", "--port", "0", "-c", config, "--WARN"]).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (out.split("\n").length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  try {
    const line = out.split("\n")[1]!;
    const match = line.match(
      /^olaf handshake dialect on udp:\/\/127\.0\.0\.1:(\d+) network=lan max-connections=5 relay=on stun=udp:\/\/127\.0\.0\.1:(\d+)$/,
    );
    assert.ok(match, out);
    // A seed client's handshake on that port gets its response.
    await using client = await bindDatagram({ hostname: "127.0.0.1" });
    const request = {
      id: crypto.randomUUID(),
      message_type: "HandshakeRequest",
      timestamp: Math.floor(Date.now() / 1000),
      payload: {
        id: crypto.randomUUID(),
        name: "seed-client",
        version: "0.1.0",
        listen_addr: "0.0.0.0:0",
        capabilities: [],
        metadata: {},
        network_id: "lan",
      },
      sender_addr: null,
      sequence_number: 1,
      requires_ack: false,
      ack_for: null,
    };
    client.send(new TextEncoder().encode(JSON.stringify(request)), {
      hostname: "127.0.0.1",
      port: Number(match[1]),
    });
    for await (const { data } of client) {
      const reply = JSON.parse(new TextDecoder().decode(data));
      assert.equal(reply.message_type, "HandshakeResponse");
      assert.equal(reply.payload.success, true);
      break;
    }
  } finally {
    child.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
    const status = await child.status;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0);
  }
});

Deno.test("CLI: bad seed flags and keys give one line and exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ stun_server: 5 }));
    const cases: [string[], RegExp][] = [
      [["--TRACE", "--DEBUG"], /at most one of --TRACE/],
      [["--INFO", "--log-level", "debug"], /contradict/],
      [["-a", "nonsense"], /--address must be HOST:PORT/],
      [["-m", "0"], /--max-connections must be 1\.\.1000000, got 0/],
      [["-c", `${dir}/bad.json`], /stun_server must be an object/],
    ];
    for (const [args, pattern] of cases) {
      const { code, stderr } = await command(args).output();
      const text = new TextDecoder().decode(stderr);
      assert.equal(code, 2, text);
      assert.match(text.split("\n")[0]!, pattern);
      assert.doesNotMatch(text, /^\s+at /m);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

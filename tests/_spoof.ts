/**
 * `tests/spoof.c` for the spoofed-source tests (issue 12): whether it can be
 * used here (root and gcc), building it into a temporary folder, and running
 * its `send` and `sniff` modes. All traffic stays on 127.0.0.0/8.
 *
 * @module
 */
import assert from "node:assert/strict";
import { encode } from "@olaf/protocol";
import { bindDatagram, type DatagramSocket, type NetAddress } from "@olaf/protocol/net";
import { eventually } from "@olaf/protocol/testing";

const SOURCE = new URL("./spoof.c", import.meta.url);

/** Why spoofing cannot be tested here, or `undefined`. */
export function spoofSkipReason(): string | undefined {
  if (Deno.build.os !== "linux") return "raw sockets are tested on Linux only";
  if (Deno.uid() !== 0) return "spoofed sources need root (raw sockets)";
  try {
    const gcc = new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" });
    if (!gcc.outputSync().success) return "gcc is missing";
  } catch {
    return "gcc is missing";
  }
  return undefined;
}

/** A built `spoof` binary. */
export interface Spoofer {
  /** Sends `count` copies of `data` to `to`, from `sources` consecutive forged addresses. */
  send(
    data: Uint8Array,
    from: { hostname: string; port: number },
    to: { hostname: string; port: number },
    options?: { count?: number; sources?: number; gapUs?: number },
  ): Promise<void>;
  /**
   * Counts what `fromPort` sends to `net/prefix` until `stop` resolves (or
   * `seconds` pass): call it, wait for `ready`, run the attack, then await `done`.
   */
  sniff(
    fromPort: number,
    net: string,
    prefix: number,
    seconds: number,
  ): { ready: Promise<void>; done: Promise<{ datagrams: number; bytes: number }> };
  /** Removes the temporary folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Compiles `spoof.c` (`gcc -O2`) into a temporary folder. */
export async function buildSpoofer(): Promise<Spoofer> {
  const dir = await Deno.makeTempDir({ prefix: "olaf-spoof-" });
  const bin = `${dir}/spoof`;
  const built = await new Deno.Command("gcc", { args: ["-O2", "-o", bin, SOURCE.pathname] })
    .output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  const hex = (data: Uint8Array) =>
    Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
  return {
    async send(data, from, to, options = {}) {
      const args = [
        "send",
        from.hostname,
        String(from.port),
        to.hostname,
        String(to.port),
        hex(data),
        String(options.count ?? 1),
        String(options.sources ?? 1),
        String(options.gapUs ?? 0),
      ];
      const out = await new Deno.Command(bin, { args }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    },
    sniff(fromPort, net, prefix, seconds) {
      const child = new Deno.Command(bin, {
        args: ["sniff", String(fromPort), net, String(prefix), String(seconds)],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      const line = async (): Promise<string> => {
        while (!buffered.includes("\n")) {
          const { value, done } = await lines.read();
          if (done) break;
          buffered += value;
        }
        const at = buffered.indexOf("\n");
        const text = at < 0 ? buffered : buffered.slice(0, at);
        buffered = at < 0 ? "" : buffered.slice(at + 1);
        return text;
      };
      const ready = line().then((text) => assert.equal(text, "ready"));
      const done = ready.then(async () => {
        const [datagrams, bytes] = (await line()).split(" ").map(Number);
        lines.releaseLock();
        await child.stdout.cancel().catch(() => {});
        await child.stderr.cancel();
        await child.status;
        return { datagrams: datagrams!, bytes: bytes! };
      });
      return { ready, done };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A loopback socket from {@linkcode receiver} that keeps every datagram it gets. */
export interface Receiver {
  socket: DatagramSocket;
  got: Uint8Array[];
  address: NetAddress;
}

/** Binds a {@linkcode Receiver} on `hostname` (a 127.0.0.0/8 address), port 0. */
export async function receiver(hostname: string): Promise<Receiver> {
  const got: Uint8Array[] = [];
  const socket = await bindDatagram({ hostname, port: 0, onDatagram: (d) => got.push(d.slice()) });
  return { socket, got, address: socket.localAddress };
}

/**
 * Fills `room` at the bootstrap `server` with 150 made-up members by a report from a real
 * collector on 127.0.0.1, sent twice (the second echoes the collector's id, so it is validated
 * and gets full replies); returns the collector, whose `got` holds the two replies.
 */
export async function fillRoom(server: NetAddress, room: string): Promise<Receiver> {
  const c = await receiver("127.0.0.1");
  const S = Math.floor(Date.now() / 1000);
  const members = Array.from({ length: 150 }, (_, i) => ({
    ip: `127.3.${i >> 8}.${(i & 255) + 1}`,
    port: 1000 + i,
    id: S - 1000 + i,
  }));
  const report = encode({
    type: "PEER_COLLECTOR",
    room,
    peers: [{ ip: "127.0.0.1", port: c.address.port, id: S - 2000 }, ...members],
  });
  for (let i = 1; i <= 2; i++) {
    c.socket.send(report, server);
    await eventually(() => c.got.length >= i, { what: `the report's reply ${i}` });
  }
  return c;
}

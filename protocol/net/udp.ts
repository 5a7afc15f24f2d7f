/**
 * Picks a real UDP implementation: `Deno.listenDatagram` or `node:dgram`.
 *
 * @module
 */
import { bindDenoDatagram, isDenoDatagramAvailable } from "./udp_deno.ts";
import { bindNodeDatagram } from "./udp_node.ts";
import type { BindOptions, DatagramSocket } from "./types.ts";

/** The real UDP implementations. */
export type UdpImplementation = "deno" | "node";

/**
 * The implementation `"auto"` picks when both are available: the faster one
 * in `deno bench -A protocol/net/udp_bench.ts` (ping-pong round trips over
 * loopback, 32 in flight, both ends on the implementation under test).
 * Measured on the 2-core dev machine, Deno 2.9.6, 2000 round trips per
 * iteration, two runs: `Deno.listenDatagram` 56.6 / 52.7 ms (35 000-38 000
 * round trips/s), `node:dgram` 102.7 / 78.1 ms (19 500-25 600/s): Deno is
 * 1.5-1.8x faster.
 *
 * @example
 * ```ts
 * import { DEFAULT_UDP_IMPLEMENTATION } from "@olaf/protocol/net";
 * console.log(DEFAULT_UDP_IMPLEMENTATION);
 * ```
 */
export const DEFAULT_UDP_IMPLEMENTATION: UdpImplementation = "deno";

/** Options for {@linkcode bindDatagram}. */
export interface BindDatagramOptions extends BindOptions {
  /**
   * Which implementation to use. `"auto"` (the default) takes
   * {@linkcode DEFAULT_UDP_IMPLEMENTATION}, falling back to `"node"` when
   * `Deno.listenDatagram` is absent (Deno without `--unstable-net`, or Node).
   */
  implementation?: "auto" | UdpImplementation;
  /**
   * Send with a synchronous `sendto(2)` through FFI where that works (Deno on
   * Linux with glibc and `--allow-ffi`, IPv4), on either implementation; see
   * `DenoBindOptions.directSend`. Default `false`.
   */
  directSend?: boolean;
}

/**
 * The implementations usable in this process, in order of preference.
 *
 * @example
 * ```ts
 * import { udpImplementationsAvailable } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 * assert.ok(udpImplementationsAvailable().includes("node"));
 * ```
 */
export function udpImplementationsAvailable(): UdpImplementation[] {
  if (!isDenoDatagramAvailable()) return ["node"];
  return DEFAULT_UDP_IMPLEMENTATION === "deno" ? ["deno", "node"] : ["node", "deno"];
}

/**
 * The implementation {@linkcode bindDatagram} would use for `choice`.
 *
 * @example
 * ```ts
 * import { resolveUdpImplementation } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 * assert.equal(resolveUdpImplementation("node"), "node");
 * console.log(resolveUdpImplementation()); // "deno" with --unstable-net, else "node"
 * ```
 */
export function resolveUdpImplementation(
  choice: "auto" | UdpImplementation = "auto",
): UdpImplementation {
  return choice === "auto" ? udpImplementationsAvailable()[0] : choice;
}

/**
 * Binds a real UDP socket with the chosen implementation (default `"auto"`).
 * This is the default {@linkcode DatagramBinder} of every Olaf driver.
 *
 * @example Round trip over loopback
 * ```ts
 * import { bindDatagram } from "@olaf/protocol/net";
 * import assert from "node:assert/strict";
 *
 * await using server = await bindDatagram({
 *   hostname: "127.0.0.1",
 *   onDatagram: (data, from) => server.send(data.reverse(), from),
 * });
 * await using client = await bindDatagram({ hostname: "127.0.0.1", implementation: "node" });
 * client.send(new Uint8Array([1, 2, 3]), server.localAddress);
 * for await (const { data, from } of client) {
 *   assert.deepEqual(data, new Uint8Array([3, 2, 1]));
 *   assert.equal(from.port, server.localAddress.port);
 *   break;
 * }
 * ```
 */
export function bindDatagram(options: BindDatagramOptions = {}): Promise<DatagramSocket> {
  const { implementation, directSend, ...bindOptions } = options;
  return resolveUdpImplementation(implementation) === "deno"
    ? bindDenoDatagram({ ...bindOptions, directSend })
    : bindNodeDatagram({ ...bindOptions, directSend });
}

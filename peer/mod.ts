/**
 * @olaf/peer: join an Olaf room by name and talk to its members directly over UDP.
 *
 * @module
 */
export * from "./peer_machine.ts";
export * from "./room.ts";
export * from "./address.ts";
export type { PeerRecord } from "@olaf/protocol";
export type {
  BindOptions,
  Clock,
  Datagram,
  DatagramBinder,
  DatagramHandler,
  DatagramImplementation,
  DatagramSocket,
  NetAddress,
} from "@olaf/protocol/net";

export { VERSION } from "./_version.ts";

if (import.meta.main) {
  const { main } = await import("./cli.ts");
  Deno.exit(await main(Deno.args));
}

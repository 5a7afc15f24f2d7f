/**
 * The bootstrap's default binder: real UDP with the direct send (a synchronous
 * `sendto(2)` through FFI where Linux, glibc and `--allow-ffi` allow it; Deno's
 * send op elsewhere). `bench:udp` measured it at 1-5 µs less CPU per reply
 * than the send op on the 2-core dev machine (bootstrap README, "UDP path").
 *
 * @module
 */
import { bindDatagram, type DatagramBinder } from "@olaf/protocol/net";

/** `bindDatagram` with `directSend` on. */
export const bindBootstrapDatagram: DatagramBinder = (options) =>
  bindDatagram({ ...options, directSend: true });

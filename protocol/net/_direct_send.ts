/**
 * A synchronous `sendto(2)` through Deno's FFI on the file descriptor of a
 * socket that `Deno.listenDatagram` opened (Linux, `--allow-ffi`).
 *
 * Why: under load most of a Deno UDP server's main-thread time is in Deno's
 * async send op (`op_net_send_udp`: serde of the address, a permission check,
 * an address resolution and a promise per datagram), and each send costs the
 * caller an event-loop turn of latency. `sendto` on a UDP socket does not
 * block with `MSG_DONTWAIT`, so it can run on the main thread directly; the
 * receive side stays Deno's (its readiness is what the event loop waits on).
 * `bench:udp` measures both (`deno-echo` vs `deno-echo-direct`).
 *
 * @module
 */
import { reportError } from "./_socket_common.ts";

/** `send` could not take this destination (not IPv4 text): use the ordinary path. */
export const DIRECT_UNSUPPORTED = -1;
/** The kernel had no room for the datagram (`EAGAIN`/`ENOBUFS`): dropped, as a full queue drops. */
export const DIRECT_DROPPED = -2;

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const ENOBUFS = 105;
/** Highest file descriptor searched for the socket (a bound, once per bind). */
const MAX_FD_SCAN = 8192;

const SYMBOLS = {
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

// The slice of Deno's FFI API used here, typed locally (as udp_deno.ts types listenDatagram).
interface Libc {
  symbols: {
    sendto(
      fd: number,
      data: Uint8Array,
      length: number | bigint,
      flags: number,
      to: Uint8Array,
      toLength: number,
    ): number | bigint;
    getsockname(fd: number, address: Uint8Array, length: Uint8Array): number;
    getsockopt(
      fd: number,
      level: number,
      name: number,
      value: Uint8Array,
      length: Uint8Array,
    ): number;
    __errno_location(): unknown;
  };
}
interface DenoFfi {
  build: { os: string };
  permissions: { querySync(descriptor: { name: "ffi" }): { state: string } };
  dlopen(path: string, symbols: typeof SYMBOLS): Libc;
  UnsafePointerView: new (pointer: unknown) => { getInt32(offset?: number): number };
}

let libc: Libc | null | undefined = undefined;

/** libc through FFI, once per process; `null` when this is not Linux, or FFI is not allowed. */
function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const deno = (globalThis as unknown as { Deno?: Partial<DenoFfi> }).Deno;
  try {
    if (deno?.build?.os !== "linux" || typeof deno.dlopen !== "function") return libc;
    // querySync never prompts: without --allow-ffi the ordinary send op is used.
    if (deno.permissions?.querySync?.({ name: "ffi" }).state !== "granted") return libc;
    libc = deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    libc = null; // no glibc (musl, a sandbox): the ordinary path
  }
  return libc;
}

/** `"a.b.c.d"` into `out[4..8]`; false for anything that is not dotted-quad IPv4. */
function writeIPv4(hostname: string, out: Uint8Array): boolean {
  let part = 0;
  let digits = 0;
  let index = 4;
  for (let i = 0; i < hostname.length; i++) {
    const c = hostname.charCodeAt(i) - 48;
    if (c >= 0 && c <= 9) {
      part = part * 10 + c;
      if (++digits > 3 || part > 255) return false;
    } else if (c === -2 && digits > 0 && index < 7) { // "."
      out[index++] = part;
      part = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (digits === 0 || index !== 7) return false;
  out[7] = part;
  return true;
}

/**
 * Sends datagrams with `sendto(2)` on one IPv4 UDP socket's descriptor. Made
 * by {@linkcode openDirectSender}; stop using it before the socket closes
 * (its descriptor number may be reused afterwards).
 */
export class DirectSender {
  readonly #libc: Libc;
  readonly #fd: number;
  // The destination, reused: family and port written per send, the address when it changes.
  readonly #to = new Uint8Array(16);
  #lastHostname = "";

  constructor(lib: Libc, fd: number) {
    this.#libc = lib;
    this.#fd = fd;
    this.#to[0] = AF_INET; // sa_family, little-endian u16 (Linux on x86-64 and arm64)
  }

  /**
   * Sends one datagram now.
   *
   * @returns The bytes sent, {@linkcode DIRECT_UNSUPPORTED} (not an IPv4
   *   destination, or a port out of range: nothing was sent), {@linkcode DIRECT_DROPPED}, or
   *   `-(errno) - 1000` for another failure.
   */
  send(data: Uint8Array, hostname: string, port: number): number {
    // A port out of range goes the ordinary way, which reports it (here it would wrap).
    if (!(port >= 0 && port <= 0xffff && port === Math.floor(port))) return DIRECT_UNSUPPORTED;
    const to = this.#to;
    if (hostname !== this.#lastHostname) {
      if (!writeIPv4(hostname, to)) {
        this.#lastHostname = "";
        return DIRECT_UNSUPPORTED;
      }
      this.#lastHostname = hostname;
    }
    to[2] = port >>> 8;
    to[3] = port & 0xff;
    const sent = Number(
      this.#libc.symbols.sendto(this.#fd, data, data.length, MSG_DONTWAIT, to, 16),
    );
    if (sent >= 0) return sent;
    const errno = this.errno();
    return errno === EAGAIN || errno === ENOBUFS ? DIRECT_DROPPED : -errno - 1000;
  }

  /** The calling thread's `errno` (right after a failed call). */
  errno(): number {
    const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
    return new deno.UnsafePointerView(this.#libc.symbols.__errno_location()).getInt32();
  }
}

/**
 * A {@linkcode DirectSender} for the IPv4 UDP socket bound to
 * `hostname:port` in this process, or `undefined` when there is none to use:
 * not Linux, no `--allow-ffi`, no glibc, not IPv4, or no single descriptor
 * matches (then the caller keeps Deno's send op).
 *
 * @param hostname The socket's bound address (`"0.0.0.0"`, `"127.0.0.1"`...).
 * @param port The socket's bound port (the real one, not 0).
 */
export function openDirectSender(hostname: string, port: number): DirectSender | undefined {
  const lib = openLibc();
  if (lib === null) return undefined;
  const want = new Uint8Array(16);
  if (!writeIPv4(hostname, want) || port <= 0) return undefined;
  const address = new Uint8Array(128);
  const length = new Uint32Array(1);
  const lengthBytes = new Uint8Array(length.buffer);
  const type = new Int32Array(1);
  const typeBytes = new Uint8Array(type.buffer);
  let found = -1;
  for (let fd = 3; fd < MAX_FD_SCAN; fd++) {
    length[0] = address.length;
    if (lib.symbols.getsockname(fd, address, lengthBytes) !== 0) continue;
    if (address[0] !== AF_INET || address[1] !== 0) continue;
    if (((address[2]! << 8) | address[3]!) !== port) continue;
    if (
      address[4] !== want[4] || address[5] !== want[5] || address[6] !== want[6] ||
      address[7] !== want[7]
    ) continue;
    length[0] = 4;
    if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_TYPE, typeBytes, lengthBytes) !== 0) continue;
    if (type[0] !== SOCK_DGRAM) continue; // a TCP listener on the same address and port
    if (found >= 0) return undefined; // two match (SO_REUSEPORT): cannot tell which is ours
    found = fd;
  }
  return found < 0 ? undefined : new DirectSender(lib, found);
}

/**
 * Sends through `direct` when there is one: `true` when the datagram was handled (sent, dropped
 * for a full kernel queue, or a failure reported to `onError`), `false` when the caller must use
 * its ordinary send (no direct sender, or a destination it cannot take).
 */
export function sendDirect(
  direct: DirectSender | undefined,
  data: Uint8Array,
  to: { hostname: string; port: number },
  onError: ((error: Error) => void) | undefined,
): boolean {
  if (direct === undefined) return false;
  const sent = direct.send(data, to.hostname, to.port);
  if (sent >= 0 || sent === DIRECT_DROPPED) return true; // dropped: as a full kernel queue drops
  if (sent === DIRECT_UNSUPPORTED) return false;
  reportError(onError, new Error(`sendto failed (errno ${-(sent + 1000)})`));
  return true;
}

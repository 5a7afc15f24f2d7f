/**
 * Our own LAN addresses for NAT traversal (issue 11): what a peer behind the same NAT could reach
 * us on when hairpinning does not work. Found from the socket's bound address, or from the host's
 * interfaces when it is bound to every address.
 *
 * @module
 */
import type { NetAddress } from "@olaf/protocol/net";

/** At most this many are offered: the dialect's `JOIN_O` carries 4 candidates. */
const MAX_LAN_ADDRESSES = 4;

/** An IPv4 interface address, as `Deno.networkInterfaces()` lists them. */
export interface InterfaceAddress {
  family: "IPv4" | "IPv6";
  address: string;
}

/**
 * The LAN addresses of a socket bound to `bound`: the bound address itself when it is a specific
 * IPv4 address, else the host's IPv4 interface addresses (loopback and link-local left out: no
 * other host reaches them), each with the socket's port; at most 4. `interfaces` defaults to
 * `Deno.networkInterfaces()`; without the `sys` permission there are none.
 */
export function lanAddresses(
  bound: NetAddress,
  interfaces: () => readonly InterfaceAddress[] = Deno.networkInterfaces,
): NetAddress[] {
  const useful = (ip: string) => /^\d+\.\d+\.\d+\.\d+$/.test(ip) && !/^(127|169\.254|0)\./.test(ip);
  if (bound.hostname !== "0.0.0.0") return useful(bound.hostname) ? [bound] : [];
  let listed: readonly InterfaceAddress[];
  try {
    listed = interfaces();
  } catch {
    return []; // no `sys` permission: the caller may still pass `nat.lanAddresses`
  }
  const ips = new Set(
    listed.filter((i) => i.family === "IPv4" && useful(i.address)).map((i) => i.address),
  );
  return [...ips].slice(0, MAX_LAN_ADDRESSES).map((hostname) => ({ hostname, port: bound.port }));
}

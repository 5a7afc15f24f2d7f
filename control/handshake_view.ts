/**
 * The control plane's read-only view of the JSON handshake dialect
 * (`@olaf/bootstrap/handshake`). Structural: the bootstrap's handshake server
 * satisfies it without this package importing bootstrap code.
 *
 * @module
 */

/**
 * What the control plane may ask the handshake dialect. Every method must be
 * cheap and synchronous.
 *
 * @example A view with one network
 * ```ts
 * import type { HandshakeView } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const view: HandshakeView = {
 *   stats: () => ({ nodes: 1, networks: 1, drops: {}, messagesIn: { HandshakeRequest: 1 } }),
 *   networks: () => [{ networkId: "lan", nodes: 1 }],
 *   network: (id) => id === "lan" ? [{ id: "node-1", addr: "192.0.2.1:4000" }] : undefined,
 * };
 * assert.equal(view.networks()[0]!.nodes, 1);
 * ```
 */
export interface HandshakeView {
  /** Totals: numbers by name, plus `drops` and `messagesIn` by reason and type. */
  stats(): HandshakeViewStats;
  /** The networks that have nodes. */
  networks(): { networkId: string; nodes: number }[];
  /** The nodes of one network (objects with at least `id` and `addr`), or `undefined`. */
  network(networkId: string): HandshakeViewNode[] | undefined;
}

/**
 * Totals of the handshake dialect. Every numeric field becomes a Prometheus
 * counter or gauge in `/metrics`.
 *
 * @example
 * ```ts
 * import type { HandshakeViewStats } from "@olaf/control";
 * import assert from "node:assert/strict";
 *
 * const stats: HandshakeViewStats = { nodes: 2, networks: 1, drops: { oversized: 1 }, messagesIn: {} };
 * assert.equal(stats.drops.oversized, 1);
 * ```
 */
export interface HandshakeViewStats {
  /** Handshaken nodes. */
  nodes: number;
  /** Networks with nodes. */
  networks: number;
  /** Datagrams refused, by reason. */
  drops: Record<string, number>;
  /** Valid messages received, by type. */
  messagesIn: Record<string, number>;
  /** Other totals (datagrams, bytes, retransmits, ...). */
  [name: string]: number | Record<string, number>;
}

/**
 * One node as the handshake view lists it.
 *
 * @example
 * ```ts
 * import type { HandshakeViewNode } from "@olaf/control";
 *
 * const node: HandshakeViewNode = { id: "node-1", addr: "192.0.2.1:4000", name: "n" };
 * console.log(node.id);
 * ```
 */
export interface HandshakeViewNode {
  /** The node id. */
  id: string;
  /** Its observed address, `ip:port`. */
  addr: string;
  /** More fields, served as they are. */
  [field: string]: unknown;
}

/**
 * Olaf: peer-to-peer discovery for Deno. This root module re-exports the
 * public API of every package: `@olaf/protocol`, `@olaf/bootstrap`,
 * `@olaf/peer` and `@olaf/control`.
 *
 * @module
 */
export * from "@olaf/protocol";

/**
 * `@olaf/protocol/internal`: performance internals shared by the Olaf
 * packages (the bootstrap's reply path, the in-memory network). Not part of
 * the stable API: these may change in any release. Applications want
 * `@olaf/protocol`.
 *
 * @example Endpoints as numbers, records written from numbers
 * ```ts
 * import { endpointKey, endpointKeyPort, Slab, writePeerFields } from "@olaf/protocol/internal";
 * import assert from "node:assert/strict";
 *
 * const key = endpointKey(0x7f000001, 5000);
 * const out = new Slab({ slabBytes: 64 }).take(10);
 * writePeerFields(out, 0, 0x7f000001, endpointKeyPort(key), 7);
 * assert.deepEqual([...out], [127, 0, 0, 1, 0x13, 0x88, 0, 0, 0, 7]);
 * ```
 *
 * @module
 */
export { endpointKey, endpointKeyIPv4, endpointKeyPort } from "./ipv4.ts";
export { writePeerFields } from "./peer_list.ts";
export { Slab, type SlabOptions } from "./slab.ts";
export { Heap } from "./heap.ts";
export { mulberry32 } from "./net/_prng.ts";

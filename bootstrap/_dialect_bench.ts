/**
 * What the Olaf join costs the bootstrap beside a v1 JOIN_B, in the same run
 * (`deno bench -A bootstrap/_dialect_bench.ts`): a refresh of a member of a
 * 10-member room, v1 (`JOIN_B` -> `BOOTSTRAP_R`) against Olaf (`JOIN_O`
 * with its token: one HMAC check, `WELCOME` with keys, plus the token for the
 * next refresh), and a stranger's first `JOIN_O` (`TOKEN` only).
 */
import { encode } from "@olaf/protocol";
import { encodeDialect, type JoinOMessage } from "@olaf/protocol/dialect";
import { BootstrapCore } from "./bootstrap_core.ts";

const T0 = 1_763_700_000_000;
const limits = { requestsPerSecond: Infinity, replyBytesPerSecond: Infinity };
const from = (i: number) => ({ hostname: `10.0.${i >> 8}.${i & 255}`, port: 4000 });
const join = (i: number, token?: Uint8Array): JoinOMessage => ({
  type: "JOIN_O",
  room: "bench",
  secure: false,
  publicKey: new Uint8Array(32).fill(i),
  candidates: [{ ip: "192.168.0.1", port: 4000 }],
  introductions: false,
  ...(token ? { token } : {}),
});

function drain(core: BootstrapCore): Uint8Array | undefined {
  let last;
  for (let t = core.pollTransmit(); t; t = core.pollTransmit()) last = t.data;
  return last;
}

// v1: ten members.
const v1 = new BootstrapCore({ ...limits, startedAt: T0 });
const joinB = encode({ type: "JOIN_B", peers: [], room: "bench" });
for (let i = 1; i <= 10; i++) v1.handleDatagram(joinB, from(i), T0), drain(v1);

// Olaf: ten members through the token round trip; member 1's refresh carries its token.
const olaf = new BootstrapCore({ ...limits, startedAt: T0 });
let refresh: Uint8Array = new Uint8Array(0);
for (let i = 1; i <= 10; i++) {
  olaf.handleDatagram(encodeDialect(join(i)), from(i), T0);
  const token = drain(olaf)!.subarray(7, 23);
  const bytes = encodeDialect(join(i, token));
  olaf.handleDatagram(bytes, from(i), T0);
  drain(olaf);
  if (i === 1) refresh = bytes;
}
const stranger = encodeDialect(join(99));

Deno.bench("v1 JOIN_B refresh, 10-member room", { group: "join", baseline: true }, () => {
  v1.handleDatagram(joinB, from(1), T0 + 1);
  drain(v1);
});
Deno.bench("Olaf JOIN_O refresh with token, 10-member room", { group: "join" }, () => {
  olaf.handleDatagram(refresh, from(1), T0 + 1);
  drain(olaf);
});
Deno.bench("a stranger's first JOIN_O (TOKEN only)", { group: "join" }, () => {
  olaf.handleDatagram(stranger, from(99), T0 + 1);
  drain(olaf);
});

// The README's message examples are test vectors: every `json request` block
// is fed to a core set up as the README says, and the replies must be the
// `json reply` blocks that follow it, exactly.
import assert from "node:assert/strict";
import { HandshakeCore } from "./core.ts";
import { parseMessage } from "./message.ts";

const readme = await Deno.readTextFile(new URL("./README.md", import.meta.url));
const blocks = [...readme.matchAll(/```json (request|reply)\n([\s\S]*?)```/g)].map((m) => ({
  kind: m[1] as "request" | "reply",
  json: JSON.parse(m[2]!),
}));

Deno.test("README message examples: requests give exactly the documented replies", () => {
  assert.ok(blocks.filter((b) => b.kind === "request").length >= 8);
  let n = 0;
  const core = new HandshakeCore({
    networkId: "lan",
    serverId: "5e1f0000-0000-4000-8000-000000000000",
    listenAddr: "203.0.113.1:5000",
    randomUUID: () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, "0")}`,
  });
  const from = { hostname: "192.0.2.10", port: 40000 };
  const expected: unknown[] = [];
  const actual: unknown[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    if (block.kind === "reply") continue;
    core.handleDatagram(
      new TextEncoder().encode(JSON.stringify(block.json)),
      from,
      1_764_633_600_000,
    );
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      assert.deepEqual(t.to, from);
      actual.push(JSON.parse(new TextDecoder().decode(t.data)));
    }
    for (let j = i + 1; j < blocks.length && blocks[j]!.kind === "reply"; j++) {
      expected.push(blocks[j]!.json);
    }
    assert.deepEqual(actual, expected, `after request ${block.json.message_type}`);
  }
});

Deno.test("README message examples: every block is a valid message for the parser", () => {
  for (const block of blocks) {
    const message = parseMessage(new TextEncoder().encode(JSON.stringify(block.json)));
    assert.equal(message.id, block.json.id);
  }
});

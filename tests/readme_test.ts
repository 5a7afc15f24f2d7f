// Every TypeScript snippet of the READMEs touched by the CLI work runs as shown (`ts ignore` blocks
// need a live bootstrap or a terminal; they are covered by examples/chat.ts's tests instead).
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

async function snippets(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

async function run(code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

for (const readme of ["README.md", "bootstrap/README.md"]) {
  Deno.test(`${readme}: every ts snippet runs`, async () => {
    const blocks = await snippets(readme);
    for (const block of blocks) {
      const result = await run(block);
      assert.equal(result.code, 0, `${block}\n${result.stderr}`);
    }
  });
}

Deno.test("README.md: the UDP adapter snippet prints the datagram it sends itself", async () => {
  const block = (await snippets("README.md")).find((b) => b.includes("bindDatagram"));
  assert.ok(block);
  const result = await run(block);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^2 bytes from \{ hostname: "127\.0\.0\.1", port: \d+ \}\n$/);
});

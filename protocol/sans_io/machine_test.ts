import assert from "node:assert/strict";

Deno.test("sans-io: the entry loads no socket module (no node:dgram, nothing under net/ but types and fifo)", async () => {
  const entry = new URL("./mod.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = info.modules.map((m) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/sans_io/drive.ts")));
  for (const s of specifiers) {
    assert.ok(!s.startsWith("node:"), `loads ${s}`);
    if (s.includes("/protocol/net/")) {
      assert.match(s, /\/net\/(types|fifo)\.ts$/, `loads ${s}`);
    }
  }
});

Deno.test("sans-io: the entry exports the agreed names", async () => {
  const mod = await import("./mod.ts");
  assert.deepEqual(
    Object.keys(mod).sort(),
    ["Driver", "Fifo", "MAX_TIMER_MS", "Timers", "drive", "systemClock"],
  );
});

import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { main } from "./cli.ts";
import { memoryIo } from "../tests/_cli_peer.ts";

Deno.test("cli --http: serves the node API with a token until POST /leave, then exits 0", async () => {
  await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const x = memoryIo();
  const running = main([
    "--bootstrap",
    `127.0.0.1:${bootstrap.localAddress.port}`,
    "--room",
    "cli",
    "--hostname",
    "127.0.0.1",
    "--http",
    "0",
    "--http-token",
    "tok",
    "--name",
    "cli-node",
    "--json",
  ], x);
  const deadline = Date.now() + 20_000;
  while (x.lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const started = JSON.parse(x.lines[0]);
  assert.equal(started.event, "node");
  assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const auth = { Authorization: "Bearer tok" };
  const refused = await fetch(`${started.url}/`);
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const status = await (await fetch(`${started.url}/`, { headers: auth })).json();
  assert.equal(status.message, "Node cli-node is running!");
  assert.equal(status.node_id, started.node_id);
  const left = await fetch(`${started.url}/leave`, { method: "POST", headers: auth });
  assert.deepEqual(await left.json(), { status: "left" });
  assert.equal(await running, 0);
  assert.deepEqual(JSON.parse(x.lines.at(-1)!), { event: "left" });
});

Deno.test("cli --http: a bad port or name exits 2", async () => {
  await using bootstrap = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
  const base = ["--bootstrap", `127.0.0.1:${bootstrap.localAddress.port}`, "--room", "cli"];
  const bad = memoryIo();
  assert.equal(await main([...base, "--http", "99999"], bad), 2);
  assert.match(bad.errors.join("\n"), /--http must be 0\.\.65535/);
  const badName = memoryIo();
  assert.equal(await main([...base, "--http", "0", "--name", "a\u0007b"], badName), 2);
  assert.match(badName.errors.join("\n"), /name must be/);
});

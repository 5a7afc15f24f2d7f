/**
 * Takes the README's dashboard screenshot (`docs/dashboard.png`, 1280x800)
 * against a live bootstrap on loopback: real peers join three rooms over UDP
 * over about a minute, a burst of malformed datagrams shows up as drops, then
 * headless Chromium captures the page.
 *
 *     deno run -A tools/dashboard_screenshot.ts [out.png] [seconds]
 *
 * Needs Chromium (`$CHROMIUM`, or `chromium` on `PATH`).
 *
 * @module
 */
import { startBootstrap } from "@olaf/bootstrap";
import { serveControl } from "@olaf/control";
import { joinRoom, type Room } from "@olaf/peer";
import { bindDatagram } from "@olaf/protocol/net";
import { findChromium, Page } from "../tests/_chromium.ts";

const out = Deno.args[0] ?? new URL("../docs/dashboard.png", import.meta.url).pathname;
const seconds = Number(Deno.args[1] ?? 70);
const chromium = findChromium();
if (!chromium) {
  console.error("chromium not found: set $CHROMIUM or install it (apt-get install chromium)");
  Deno.exit(1);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0, maxRooms: 50 });
await using control = await serveControl({ bootstrap: server, hostname: "127.0.0.1", port: 0 });
const bootstraps = [`127.0.0.1:${server.localAddress.port}`];
const rooms: Room[] = [];
const join = async (name: string) =>
  rooms.push(await joinRoom(name, { bootstraps, hostname: "127.0.0.1", heartbeatMs: 1000 }));

await join("lobby");
await using page = await Page.open(chromium, control.url.href, { width: 1280, height: 800 });
await page.waitFor(`document.body.dataset.events === "open"`);

// A schedule of joins, leaves and junk over `seconds`, so the chart has a shape.
await using junk = await bindDatagram({ hostname: "127.0.0.1", port: 0, onDatagram: () => {} });
const plan: [number, () => Promise<unknown> | void][] = [
  [0.05, () => join("lobby")],
  [0.1, () => join("game-42")],
  [0.15, () => join("lobby")],
  [0.2, () => join("game-42")],
  [0.3, () => join("lobby")],
  [0.35, () => join("team-chat")],
  [0.4, () => join("lobby")],
  [0.45, () => join("game-42")],
  [0.5, () => join("team-chat")],
  [0.6, () => join("lobby")],
  [0.65, () => rooms.shift()?.leave()],
  [0.7, () => join("lobby")],
  [0.75, () => join("game-42")],
];
const started = Date.now();
for (let second = 0; second < seconds; second++) {
  const progress = second / seconds;
  while (plan.length > 0 && plan[0]![0] <= progress) await plan.shift()![1]();
  // Malformed datagrams for a few seconds around 55% of the run: they show as drops.
  if (progress > 0.52 && progress < 0.6) {
    for (let i = 0; i < 12; i++) junk.send(new Uint8Array([1, 0]), server.localAddress);
  }
  await sleep(Math.max(0, started + (second + 1) * 1000 - Date.now()));
}
await page.waitFor(`document.body.dataset.state === "live"`);
await Deno.mkdir(new URL(".", `file://${out}`), { recursive: true });
await Deno.writeFile(out, await page.screenshot());
console.log(`wrote ${out}`);
for (const room of rooms) await room.leave();

// The control plane's dashboard (GET /) in a real headless Chromium, against
// a live bootstrap on loopback with real peers joined over UDP.
import assert from "node:assert/strict";
import { startBootstrap } from "@olaf/bootstrap";
import { serveControl } from "@olaf/control";
import { joinRoom } from "@olaf/peer";
import { findChromium, Page } from "./_chromium.ts";

const chromium = findChromium();
if (!chromium) {
  console.log(
    "dashboard_test: chromium not found (set $CHROMIUM or `apt-get install chromium`); " +
      "skipping the browser test (.ci/run installs it)",
  );
}

Deno.test({
  name: "dashboard in headless Chromium shows the rooms, members, traffic chart and live events",
  ignore: !chromium,
  async fn() {
    await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    await using control = await serveControl({ bootstrap: server, hostname: "127.0.0.1", port: 0 });
    const bootstraps = [`127.0.0.1:${server.localAddress.port}`];
    await using alice = await joinRoom("lobby", {
      bootstraps,
      hostname: "127.0.0.1",
      heartbeatMs: 500,
    });

    await using page = await Page.open(chromium!, control.url.href);
    // The page is live (polled /stats) and follows /events.
    await page.waitFor(`document.body.dataset.state === "live"`);
    await page.waitFor(`document.body.dataset.events === "open"`);

    // Bob joins while the page watches: a live event, and a second member.
    await using bob = await joinRoom("lobby", { bootstraps, hostname: "127.0.0.1" });
    const member = (port: number) => `127.0.0.1:${port}`;
    await page.waitFor(
      `[...document.querySelectorAll("#events li")].some((li) =>
        li.dataset.type === "member-joined" && li.textContent.includes(${
        JSON.stringify(member(bob.self.port))
      }))`,
    );
    await page.waitFor(
      `document.querySelector('#rooms tr[data-room="lobby"] .member-count')?.textContent === "2"`,
    );
    // Two rates need three polls: wait for a line with at least two points.
    await page.waitFor(
      `(document.querySelector("#line-in")?.getAttribute("points") ?? "").split(" ").length >= 2`,
    );

    const html = await page.html();
    assert.match(html, /<tr data-room="lobby">/);
    const row = html.match(/<tr data-room="lobby">.*?<\/tr>/s)![0];
    assert.match(row, /<span class="room-name">lobby<\/span>/);
    assert.match(row, /<td class="num member-count">2<\/td>/);
    for (const port of [alice.self.port, bob.self.port]) {
      assert.match(row, new RegExp(`<span class="member">${member(port)} `));
    }
    assert.match(html, /<div class="value" id="stat-rooms">1<\/div>/);
    assert.match(html, /<div class="value" id="stat-members">2<\/div>/);
    // The chart: three lines, each with points inside the plot.
    for (const key of ["in", "out", "drops"]) {
      const points = html.match(
        new RegExp(`<polyline id="line-${key}" class="${key}" points="([^"]+)"`),
      );
      assert.ok(points, `no ${key} line`);
      const coordinates = points[1].split(" ").map((p) => p.split(",").map(Number));
      assert.ok(coordinates.length >= 2);
      for (const [x, y] of coordinates) assert.ok(x! >= 0 && x! <= 760 && y! >= 0 && y! <= 230);
    }
    // Peers heartbeat, so traffic flowed: the "in" line is not flat at zero everywhere.
    const stats = server.stats();
    assert.ok(stats.datagramsIn > 0);
    assert.doesNotMatch(html, /collecting data/);
    // Recent events: Bob's join, with his address and the room.
    const joined = html.match(/<li data-type="member-joined">.*?<\/li>/s)![0];
    assert.match(
      joined,
      new RegExp(`${member(bob.self.port)} \\(id ${bob.self.id}\\) joined "lobby"`),
    );
    assert.doesNotMatch(html, /Waiting for events/);
  },
});

Deno.test({
  name: "dashboard in headless Chromium escapes room names and says when no bootstrap is attached",
  ignore: !chromium,
  async fn() {
    await using server = await startBootstrap({ hostname: "127.0.0.1", port: 0 });
    await using control = await serveControl({ bootstrap: server, hostname: "127.0.0.1", port: 0 });
    const name = `<img src=x onerror="document.title='pwned'">`;
    await using peer = await joinRoom(name, {
      bootstraps: [`127.0.0.1:${server.localAddress.port}`],
      hostname: "127.0.0.1",
    });
    await using page = await Page.open(chromium!, control.url.href);
    await page.waitFor(
      `document.querySelector("#rooms .room-name")?.textContent === ${JSON.stringify(name)}`,
    );
    assert.equal(await page.evaluate<number>(`document.querySelectorAll("#rooms img").length`), 0);
    assert.equal(await page.evaluate<string>("document.title"), "Olaf bootstrap");
    assert.ok(peer.self.port > 0);

    await using alone = await serveControl({ hostname: "127.0.0.1", port: 0 });
    await using lonely = await Page.open(chromium!, alone.url.href);
    await lonely.waitFor(`document.body.dataset.state === "error"`);
    assert.match(await lonely.html(), /no bootstrap attached/);
  },
});

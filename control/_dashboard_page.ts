// The live dashboard served at GET / (HTML and CSS) and GET /dashboard.js (the
// script): plain strings, no build step, no CDN, nothing fetched from anywhere
// but this control plane, so it works offline. The script polls /stats, /rooms
// and /rooms/:name every POLL_MS, follows /events (SSE) and draws the traffic
// chart as inline SVG. Everything from the server (room names above all: any
// peer picks them) goes into the page through textContent, never innerHTML.
// The script is plain JavaScript in a string: keep it free of backticks and
// of dollar-brace sequences, which would end or interpolate the template.

/** The page. Relative URLs, so it also works behind a proxy under a path prefix. */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Olaf bootstrap</title>
<link rel="icon" href="data:,">
<style>
:root {
  --bg: #f4f6fa; --card: #ffffff; --text: #162033; --muted: #5d6b82; --line: #e3e8f0;
  --in: #2563eb; --out: #0f9f6e; --drop: #dc2626; --accent: #4f46e5; --chip: #eef2f8;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1320; --card: #161e2e; --text: #e6ebf4; --muted: #93a0b8; --line: #26314a;
    --in: #60a5fa; --out: #34d399; --drop: #f87171; --accent: #a5b4fc; --chip: #1f2a3f;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header {
  display: flex; align-items: center; gap: 16px; padding: 14px 24px;
  background: var(--card); border-bottom: 1px solid var(--line);
}
header h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: -0.01em; }
header h1 span { color: var(--muted); font-weight: 450; }
#status {
  margin-left: auto; display: flex; align-items: center; gap: 8px; color: var(--muted);
  font-size: 13px;
}
#status-dot { width: 10px; height: 10px; border-radius: 50%; background: #9aa5b8; }
body[data-state="live"] #status-dot { background: #16a34a; box-shadow: 0 0 0 4px #16a34a33; }
body[data-state="error"] #status-dot { background: var(--drop); }
main { padding: 18px 24px 28px; display: grid; gap: 16px; }
#notice {
  display: none; padding: 10px 14px; border-radius: 10px; background: #fff4e5; color: #7a4b00;
  border: 1px solid #f5d09a;
}
#notice.shown { display: block; }
.cards { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px;
  min-width: 0;
}
.stat .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
.stat .value { font-size: 28px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.stat .sub { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.stat.in .value { color: var(--in); } .stat.out .value { color: var(--out); }
.stat.drops .value { color: var(--drop); }
.grid { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.column { display: grid; gap: 16px; min-width: 0; }
h2 {
  margin: 0 0 10px; font-size: 13px; font-weight: 650; color: var(--muted);
  text-transform: uppercase; letter-spacing: .06em; display: flex; gap: 12px; align-items: baseline;
}
h2 .aside { margin-left: auto; text-transform: none; letter-spacing: 0; font-weight: 450; }
.legend { display: flex; gap: 16px; font-size: 12px; color: var(--muted); margin-bottom: 6px; }
.legend i { display: inline-block; width: 12px; height: 3px; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.legend i.in { background: var(--in); } .legend i.out { background: var(--out); }
.legend i.drops { background: var(--drop); }
#chart svg { display: block; width: 100%; height: auto; }
#chart .grid-line { stroke: var(--line); stroke-width: 1; }
#chart .axis { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
#chart .in { stroke: var(--in); } #chart .out { stroke: var(--out); } #chart .drops { stroke: var(--drop); }
#chart polyline { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
#chart .area { fill: var(--in); opacity: .10; stroke: none; }
#chart .empty { fill: var(--muted); font-size: 13px; }
table { width: 100%; border-collapse: collapse; }
th {
  text-align: left; font-size: 12px; color: var(--muted); font-weight: 550;
  padding: 6px 8px; border-bottom: 1px solid var(--line);
}
td { padding: 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.room-title { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
.room-name { font-weight: 600; font-size: 15px; overflow-wrap: anywhere; }
.room-meta { color: var(--muted); font-size: 12px; }
td.member-count { font-size: 15px; font-weight: 600; }
.members { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.member {
  background: var(--chip); border-radius: 999px; padding: 2px 10px; font-size: 12px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap;
}
.member .meta { color: var(--muted); font-family: system-ui, sans-serif; }
.muted { color: var(--muted); }
#events { list-style: none; margin: 0; padding: 0; max-height: 340px; overflow: auto; }
#events li {
  display: grid; grid-template-columns: 64px 1fr; gap: 2px 10px; padding: 7px 0;
  border-bottom: 1px solid var(--line); font-size: 13px;
}
#events li:last-child { border-bottom: 0; }
#events time { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
#events .what { min-width: 0; overflow-wrap: anywhere; }
.badge {
  display: inline-block; font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 6px;
  margin-right: 6px; background: var(--chip); color: var(--accent);
}
.badge.room-created { color: var(--out); } .badge.room-expired { color: var(--drop); }
.badge.member-joined { color: var(--in); } .badge.member-left, .badge.lagged { color: #b45309; }
#drops td:first-child { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
@media (max-width: 900px) {
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid { grid-template-columns: minmax(0, 1fr); }
}
</style>
</head>
<body data-state="connecting">
<header>
  <h1>Olaf bootstrap <span>live dashboard</span></h1>
  <div id="status"><span id="status-dot"></span><span id="status-text">connecting…</span></div>
</header>
<main>
  <div id="notice"></div>
  <section class="cards">
    <div class="card stat"><div class="label">Rooms</div><div class="value" id="stat-rooms">–</div><div class="sub" id="stat-uptime">&nbsp;</div></div>
    <div class="card stat"><div class="label">Members</div><div class="value" id="stat-members">–</div><div class="sub" id="stat-peak">&nbsp;</div></div>
    <div class="card stat in"><div class="label">Datagrams in /s</div><div class="value" id="stat-in">–</div><div class="sub" id="stat-in-total">&nbsp;</div></div>
    <div class="card stat out"><div class="label">Datagrams out /s</div><div class="value" id="stat-out">–</div><div class="sub" id="stat-out-total">&nbsp;</div></div>
    <div class="card stat drops"><div class="label">Drops /s</div><div class="value" id="stat-drops">–</div><div class="sub" id="stat-drops-total">&nbsp;</div></div>
  </section>
  <div class="grid">
    <div class="column">
      <section class="card">
        <h2>Traffic <span class="aside" id="chart-window"></span></h2>
        <div class="legend">
          <span><i class="in"></i>datagrams in /s</span>
          <span><i class="out"></i>datagrams out /s</span>
          <span><i class="drops"></i>drops /s</span>
        </div>
        <div id="chart"></div>
      </section>
      <section class="card">
        <h2>Rooms <span class="aside" id="rooms-summary"></span></h2>
        <table>
          <thead><tr><th>Room and members</th><th class="num">Members</th></tr></thead>
          <tbody id="rooms"><tr><td colspan="2" class="muted">No rooms yet.</td></tr></tbody>
        </table>
      </section>
    </div>
    <div class="column">
      <section class="card">
        <h2>Recent events <span class="aside" id="events-summary"></span></h2>
        <ul id="events"><li class="muted" id="events-empty"><span></span><span>Waiting for events…</span></li></ul>
      </section>
      <section class="card">
        <h2>Drops by reason <span class="aside">since start</span></h2>
        <table id="drops"><tbody><tr><td class="muted">None.</td></tr></tbody></table>
      </section>
    </div>
  </div>
</main>
<script src="./dashboard.js"></script>
</body>
</html>
`;

/** How often the script polls, in milliseconds (3 or so requests per second per open page). */
export const POLL_MS = 2000;

/** The script: no modules, no dependencies. */
export const DASHBOARD_JS: string = `"use strict";
(function () {
  var POLL_MS = ${POLL_MS};
  var WINDOW_MS = 5 * 60 * 1000;
  var MAX_ROOMS = 100;        // rooms listed
  var MAX_DETAILED = 8;       // rooms whose members are fetched each poll (rate limit: 20/s)
  var MAX_MEMBERS_SHOWN = 24;
  var MAX_EVENTS = 100;
  var SVG = "http://www.w3.org/2000/svg";

  var samples = [];           // { t: server uptime ms, in, out, drops } (cumulative counters)
  var details = {};           // room name -> RoomDetail
  var skew = 0;               // server clock - browser clock, ms
  var peakMembers = 0;
  var eventCount = 0;
  var pausedUntil = 0;
  var timer = 0;              // the next poll, due at dueAt
  var dueAt = 0;
  var polling = false;
  var lastPollAt = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs) node.setAttribute(k, String(attrs[k]));
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fmt(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + " M";
    if (n >= 1e4) return (n / 1e3).toFixed(n >= 1e5 ? 0 : 1) + " k";
    return String(Math.round(n));
  }
  function rate(n) { return n >= 100 ? fmt(n) : n >= 10 ? n.toFixed(0) : n.toFixed(1); }
  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KB";
    return n + " B";
  }
  function ago(ms) {
    if (ms < 0) ms = 0;
    var s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + (s % 60) + " s";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min";
    return Math.floor(h / 24) + " d";
  }
  function serverNow() { return Date.now() + skew; }
  function clock(at) {
    var d = new Date(at - skew);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }
  function sum(drops) {
    var total = 0;
    for (var k in drops) total += drops[k];
    return total;
  }
  function setState(state, text) {
    document.body.setAttribute("data-state", state);
    $("status-text").textContent = text;
  }
  function notice(text) {
    var n = $("notice");
    n.textContent = text || "";
    n.className = text ? "shown" : "";
  }

  function getJson(path) {
    return fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" }).then(function (res) {
      if (res.status === 429) {
        var wait = Number(res.headers.get("Retry-After")) || 2;
        pausedUntil = Date.now() + wait * 1000;
        throw new Error("rate limited by the control plane, retrying in " + wait + " s");
      }
      return res.json().then(function (body) {
        if (!res.ok) {
          var error = new Error(body && body.message ? body.message : "HTTP " + res.status);
          error.code = body && body.error;
          error.status = res.status;
          throw error;
        }
        return body;
      });
    });
  }

  // ------------------------------------------------------------------ polling

  function poll() {
    if (Date.now() < pausedUntil) return Promise.resolve();
    return getJson("./stats").then(function (stats) {
      skew = stats.startedAt + stats.uptimeMs - Date.now();
      addSample(stats);
      renderStats(stats);
      return getJson("./rooms?limit=" + MAX_ROOMS).then(function (page) {
        var rooms = page.rooms.slice().sort(function (a, b) {
          return b.memberCount - a.memberCount || a.name.localeCompare(b.name);
        });
        var wanted = rooms.slice(0, MAX_DETAILED);
        return Promise.all(wanted.map(function (room) {
          return getJson("./rooms/" + encodeURIComponent(room.name)).then(function (detail) {
            return detail;
          }, function (error) {
            if (error.status === 404) return null; // expired meanwhile
            throw error;
          });
        })).then(function (list) {
          var next = {};
          list.forEach(function (detail) { if (detail) next[detail.name] = detail; });
          details = next;
          renderRooms(rooms, page.total);
        });
      });
    }).then(function () {
      notice("");
      setState("live", "live · updated " + clock(serverNow()));
    }, function (error) {
      if (error.code === "no-bootstrap") {
        setState("error", "no bootstrap");
        notice("This control plane has no bootstrap attached: start it with the bootstrap (deno run -A jsr:@olaf/bootstrap --http PORT) to see rooms and traffic.");
      } else {
        setState("error", "offline, retrying…");
        notice("Cannot reach the control plane: " + error.message);
      }
    });
  }

  function addSample(stats) {
    var last = samples[samples.length - 1];
    // A restarted server (uptime or counters went back): start the chart again.
    if (last && (stats.uptimeMs < last.t || stats.datagramsIn < last["in"])) samples = [];
    samples.push({ t: stats.uptimeMs, "in": stats.datagramsIn, out: stats.datagramsOut, drops: sum(stats.drops) });
    while (samples.length > 2 && samples[samples.length - 1].t - samples[1].t > WINDOW_MS) samples.shift();
  }

  // Each rate spans up to SMOOTH polls: peers heartbeat every few seconds, so
  // one poll's count alone zig-zags.
  var SMOOTH = 2;
  function rates() {
    var points = [];
    for (var i = 1; i < samples.length; i++) {
      var a = samples[Math.max(0, i - SMOOTH)], b = samples[i];
      var dt = (b.t - a.t) / 1000;
      if (dt <= 0) continue;
      points.push({ t: b.t, "in": (b["in"] - a["in"]) / dt, out: (b.out - a.out) / dt, drops: (b.drops - a.drops) / dt });
    }
    return points;
  }

  // ---------------------------------------------------------------- rendering

  function renderStats(stats) {
    peakMembers = Math.max(peakMembers, stats.members);
    $("stat-rooms").textContent = fmt(stats.rooms);
    $("stat-members").textContent = fmt(stats.members);
    $("stat-uptime").textContent = "up " + ago(stats.uptimeMs);
    $("stat-peak").textContent = "peak " + fmt(peakMembers) + " while watching";
    $("stat-in-total").textContent = fmt(stats.datagramsIn) + " total · " + bytes(stats.bytesIn);
    $("stat-out-total").textContent = fmt(stats.datagramsOut) + " total · " + bytes(stats.bytesOut);
    var drops = sum(stats.drops);
    $("stat-drops-total").textContent = fmt(drops) + " total";
    var r = rates();
    var now = r[r.length - 1];
    $("stat-in").textContent = now ? rate(now["in"]) : "–";
    $("stat-out").textContent = now ? rate(now.out) : "–";
    $("stat-drops").textContent = now ? rate(now.drops) : "–";
    renderChart(r);
    renderDrops(stats.drops);
  }

  // A tick step of 1, 2 or 5 times a power of ten giving at most 5 grid lines above zero.
  function niceStep(max) {
    if (max <= 0) return 0.25;
    var raw = max / 5;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) return steps[i] * p;
    return 10 * p;
  }

  function renderChart(points) {
    var W = 760, H = 230, L = 46, R = 10, T = 10, B = 24;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "datagrams per second and drops per second over time" });
    var max = 0;
    points.forEach(function (p) { max = Math.max(max, p["in"], p.out, p.drops); });
    var tickStep = niceStep(Math.max(max, 1));
    var lines = Math.max(1, Math.ceil(max / tickStep));
    max = lines * tickStep;
    var end = points.length ? points[points.length - 1].t : 0;
    // The window grows with the data from 1 to 5 minutes, so a new page fills its chart soon.
    var span = points.length ? end - points[0].t : 0;
    var windowMs = Math.min(WINDOW_MS, Math.max(60000, Math.ceil(span / 30000) * 30000));
    var start = end - windowMs;
    $("chart-window").textContent = windowMs === 60000 ? "last minute" : "last " + (windowMs % 60000 ? windowMs / 1000 + " s" : windowMs / 60000 + " minutes");
    function x(t) { return L + (W - L - R) * (t - start) / windowMs; }
    function y(v) { return T + (H - T - B) * (1 - v / max); }
    for (var i = 0; i <= lines; i++) {
      var v = tickStep * i;
      root.appendChild(svg("line", { "class": "grid-line", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      var label = svg("text", { "class": "axis", x: L - 8, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = v % 1 ? String(Math.round(v * 100) / 100) : fmt(v);
      root.appendChild(label);
    }
    var step = windowMs <= 60000 ? 15000 : windowMs <= 180000 ? 30000 : 60000;
    for (var back = 0; back <= windowMs; back += step) {
      var anchor = back === 0 ? "end" : back === windowMs ? "start" : "middle";
      var tick = svg("text", { "class": "axis", x: x(end - back), y: H - 6, "text-anchor": anchor });
      tick.textContent = back === 0 ? "now" : back % 60000 === 0 ? "-" + back / 60000 + " min" : "-" + back / 1000 + " s";
      root.appendChild(tick);
    }
    if (points.length === 0) {
      var empty = svg("text", { "class": "empty", x: (L + W - R) / 2, y: H / 2, "text-anchor": "middle" });
      empty.textContent = "collecting data…";
      root.appendChild(empty);
    } else {
      var area = "M" + x(points[0].t).toFixed(1) + "," + y(0).toFixed(1);
      points.forEach(function (p) { area += "L" + x(p.t).toFixed(1) + "," + y(p["in"]).toFixed(1); });
      area += "L" + x(end).toFixed(1) + "," + y(0).toFixed(1) + "Z";
      root.appendChild(svg("path", { "class": "area", d: area }));
      ["drops", "out", "in"].forEach(function (key) {
        var pts = points.map(function (p) { return x(p.t).toFixed(1) + "," + y(p[key]).toFixed(1); });
        if (pts.length === 1) pts.unshift((x(points[0].t) - 3).toFixed(1) + "," + y(points[0][key]).toFixed(1));
        root.appendChild(svg("polyline", { id: "line-" + key, "class": key, points: pts.join(" ") }));
      });
    }
    var chart = $("chart");
    clear(chart);
    chart.appendChild(root);
  }

  function renderRooms(rooms, total) {
    var body = $("rooms");
    clear(body);
    $("rooms-summary").textContent = total > rooms.length
      ? "showing " + rooms.length + " of " + total
      : total === 1 ? "1 room" : total + " rooms";
    if (rooms.length === 0) {
      var tr = el("tr");
      var td = el("td", "muted", "No rooms yet. Peers create one by joining it.");
      td.colSpan = 2;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    var now = serverNow();
    rooms.forEach(function (room) {
      var tr = el("tr");
      tr.setAttribute("data-room", room.name);
      var cell = el("td");
      var title = el("div", "room-title");
      title.appendChild(el("span", "room-name", room.name));
      title.appendChild(el("span", "room-meta", "created " + ago(now - room.createdAt) + " ago · last heard " + ago(now - room.lastActivity) + " ago"));
      cell.appendChild(title);
      var detail = details[room.name];
      var list = el("div", "members");
      if (detail) {
        detail.members.slice(0, MAX_MEMBERS_SHOWN).forEach(function (m) {
          var chip = el("span", "member", m.ip + ":" + m.port + " ");
          chip.appendChild(el("span", "meta", "id " + m.id + " · " + ago(now - m.lastSeen)));
          list.appendChild(chip);
        });
        if (detail.members.length > MAX_MEMBERS_SHOWN) {
          list.appendChild(el("span", "member meta", "+" + (detail.members.length - MAX_MEMBERS_SHOWN) + " more"));
        }
      } else {
        list.appendChild(el("span", "muted", "members of the " + MAX_DETAILED + " biggest rooms are listed"));
      }
      cell.appendChild(list);
      tr.appendChild(cell);
      tr.appendChild(el("td", "num member-count", String(room.memberCount)));
      body.appendChild(tr);
    });
  }

  function renderDrops(drops) {
    var table = $("drops");
    clear(table);
    var body = el("tbody");
    var keys = Object.keys(drops).sort(function (a, b) { return drops[b] - drops[a]; });
    if (keys.length === 0) {
      var tr = el("tr");
      tr.appendChild(el("td", "muted", "None."));
      body.appendChild(tr);
    }
    keys.forEach(function (k) {
      var row = el("tr");
      row.appendChild(el("td", "", k));
      row.appendChild(el("td", "num", fmt(drops[k])));
      body.appendChild(row);
    });
    table.appendChild(body);
  }

  // ------------------------------------------------------------------- events

  function describe(type, e) {
    var member = e.member ? e.member.ip + ":" + e.member.port + " (id " + e.member.id + ")" : "";
    switch (type) {
      case "room-created": return "room " + JSON.stringify(e.room) + " created";
      case "room-expired": return "room " + JSON.stringify(e.room) + " expired";
      case "member-joined": return member + " joined " + JSON.stringify(e.room);
      case "member-left": return member + " left " + JSON.stringify(e.room) + " (" + e.reason + ")";
      case "lagged": return e.dropped + " events skipped (this page fell behind)";
      default: return type;
    }
  }

  function addEvent(type, e) {
    var list = $("events");
    var empty = $("events-empty");
    if (empty) empty.remove();
    var li = el("li");
    li.setAttribute("data-type", type);
    li.appendChild(el("time", "", clock(e.at || serverNow())));
    var what = el("span", "what");
    what.appendChild(el("span", "badge " + type, type));
    what.appendChild(document.createTextNode(describe(type, e)));
    li.appendChild(what);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
    eventCount++;
    $("events-summary").textContent = eventCount + " since this page opened";
    // Membership changed: bring the next poll forward, to at most one poll a second.
    if (type !== "lagged" && !polling) {
      schedule(Math.max(300, lastPollAt + POLL_MS / 2 - Date.now()));
    }
  }

  function follow() {
    if (!window.EventSource) return;
    var source = new EventSource("./events");
    ["room-created", "room-expired", "member-joined", "member-left", "lagged"].forEach(function (type) {
      source.addEventListener(type, function (message) {
        try { addEvent(type, JSON.parse(message.data)); } catch (error) { /* a malformed event is skipped */ }
      });
    });
    source.onopen = function () { document.body.setAttribute("data-events", "open"); };
    source.onerror = function () {
      document.body.setAttribute("data-events", "reconnecting");
      // A control plane without a bootstrap answers 503: stop asking.
      if (source.readyState === 2) document.body.setAttribute("data-events", "closed");
    };
  }

  // One poll at a time, each POLL_MS after the last one ended (or sooner after an event).
  function schedule(delay) {
    if (timer && Date.now() + delay >= dueAt) return; // never later: a stream of events cannot starve it
    clearTimeout(timer);
    dueAt = Date.now() + delay;
    timer = setTimeout(function () {
      timer = 0;
      polling = true;
      lastPollAt = Date.now();
      function done() {
        polling = false;
        schedule(POLL_MS);
      }
      poll().then(done, done);
    }, delay);
  }

  renderChart([]);
  follow();
  schedule(0);
})();
`;

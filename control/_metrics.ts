// Prometheus text exposition format 0.0.4 for GET /metrics.
import type { BootstrapStats } from "./bootstrap_view.ts";
import type { HandshakeViewStats } from "./handshake_view.ts"; // handshake dialect (issue 14)

export interface MetricsInput {
  /** Bootstrap totals, when a bootstrap is attached. */
  stats?: BootstrapStats;
  /** Live rendezvous sessions. */
  sessions: number;
  /** Requests refused by the rate limit since start. */
  rateLimited: number;
  /** Open /events streams. */
  eventStreams: number;
  /** Issue 15: each shard and whether it answered, when aggregating shards. */
  shards?: readonly { url: string; ok: boolean }[];
  /** Handshake dialect totals, when attached (issue 14). */
  handshake?: HandshakeViewStats;
  // --- issue 12: limits by name ---
  /** The control plane's configured limits, by flag name. */
  limits?: Readonly<Record<string, number>>;
  /** Requests refused, by the name of the limit that refused them. */
  refused?: Readonly<Record<string, number>>;
  /** The attached bootstrap's configured limits, by name. */
  bootstrapLimits?: Readonly<Record<string, number>>;
  /** NAT_CHECK and relay counters of the attached bootstrap (issue 11). */
  nat?: Readonly<Record<string, number | boolean | Readonly<Record<string, number>>>>;
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function formatMetrics(input: MetricsInput): string {
  const lines: string[] = [];
  const metric: Metric = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    }
  };
  const { stats } = input;
  metric("olaf_bootstrap_attached", "gauge", "1 when a bootstrap server is attached.", [
    [{}, stats ? 1 : 0],
  ]);
  if (stats) {
    metric("olaf_rooms", "gauge", "Rooms that currently exist.", [[{}, stats.rooms]]);
    metric("olaf_members", "gauge", "Members across all rooms.", [[{}, stats.members]]);
    metric("olaf_datagrams_total", "counter", "UDP datagrams by direction.", [
      [{ direction: "in" }, stats.datagramsIn],
      [{ direction: "out" }, stats.datagramsOut],
    ]);
    metric("olaf_bytes_total", "counter", "UDP payload bytes by direction.", [
      [{ direction: "in" }, stats.bytesIn],
      [{ direction: "out" }, stats.bytesOut],
    ]);
    const drops = sortedEntries(stats.drops);
    metric(
      "olaf_drops_total",
      "counter",
      "Datagrams dropped, by reason.",
      drops.map(([reason, count]) => [{ reason }, count]),
    );
    metric("olaf_uptime_seconds", "gauge", "Seconds since the bootstrap started.", [
      [{}, stats.uptimeMs / 1000],
    ]);
    if (stats.gauges) { // issue 12: the hostile-input guards
      metric(
        "olaf_bootstrap_gauge",
        "gauge",
        "Bootstrap guard state, by name (unvalidated reply budget left, validated addresses, ...).",
        sortedEntries(stats.gauges).map(([name, value]) => [{ name }, value]),
      );
    }
  }
  metric("olaf_rendezvous_sessions", "gauge", "Open rendezvous sessions.", [[{}, input.sessions]]);
  metric("olaf_http_rate_limited_total", "counter", "HTTP requests refused by the rate limit.", [
    [{}, input.rateLimited],
  ]);
  metric("olaf_event_streams", "gauge", "Open /events streams.", [[{}, input.eventStreams]]);
  if (input.shards) {
    metric("olaf_shard_up", "gauge", "1 when the shard answered this scrape's /stats (issue 15).", [
      ...input.shards.map((
        s,
      ): [Record<string, string>, number] => [{ shard: s.url }, s.ok ? 1 : 0]),
    ]);
  }
  if (input.handshake) formatHandshakeMetrics(input.handshake, metric); // handshake dialect (issue 14)
  // --- issue 12: limits by name ---
  const sorted = (record: Readonly<Record<string, number>> | undefined) =>
    sortedEntries(record ?? {});
  if (input.limits) {
    metric(
      "olaf_control_limit",
      "gauge",
      "Configured control-plane limits, by flag name (0 = off).",
      sorted(input.limits).map(([name, value]) => [{ name }, value]),
    );
    metric(
      "olaf_control_refused_total",
      "counter",
      "HTTP requests refused, by the limit that refused them.",
      sorted(input.refused).map(([limit, count]) => [{ limit }, count]),
    );
  }
  if (input.bootstrapLimits) {
    metric(
      "olaf_bootstrap_limit",
      "gauge",
      "Configured bootstrap limits, by name (+Inf = off).",
      sorted(input.bootstrapLimits).map(([name, value]) => [{ name }, value]),
    );
  }
  // --- end issue 12 ---
  if (input.nat) formatNatMetrics(input.nat, metric); // issue 11
  return lines.join("\n") + "\n";
}

// --- handshake dialect (issue 14) ---
const HANDSHAKE_GAUGES = new Set(["nodes", "networks", "pending", "uptimeMs", "startedAt"]);

function formatHandshakeMetrics(
  stats: HandshakeViewStats,
  metric: Metric,
): void {
  for (const [name, value] of sortedEntries(stats)) {
    if (typeof value !== "number" || name === "startedAt") continue;
    const snake = snakeCase(name);
    const gauge = HANDSHAKE_GAUGES.has(name);
    const full = `olaf_handshake_${snake}${gauge ? "" : "_total"}`;
    metric(full, gauge ? "gauge" : "counter", `Handshake dialect: ${name}.`, [[{}, value]]);
  }
  metric(
    "olaf_handshake_messages_in_total",
    "counter",
    "Handshake dialect messages received, by type.",
    sortedEntries(stats.messagesIn).map(([type, n]) => [{ type }, n]),
  );
  metric(
    "olaf_handshake_drops_total",
    "counter",
    "Handshake dialect datagrams or requests refused, by reason.",
    sortedEntries(stats.drops).map(([reason, n]) => [{ reason }, n]),
  );
}
// --- end handshake dialect ---

// --- issue 11: NAT services ---
const NAT_GAUGES = new Set(["relay", "reservations"]);

function formatNatMetrics(
  stats: Readonly<Record<string, number | boolean | Readonly<Record<string, number>>>>,
  metric: Metric,
): void {
  for (const [name, value] of sortedEntries(stats)) {
    const snake = snakeCase(name);
    const gauge = NAT_GAUGES.has(name);
    const full = `olaf_nat_${snake}${gauge ? "" : "_total"}`;
    const help = `NAT services: ${name}.`;
    if (typeof value === "object") {
      metric(
        full,
        "counter",
        `${help} By reason.`,
        sortedEntries(value).map(([reason, n]) => [{ reason }, n]),
      );
    } else {
      metric(full, gauge ? "gauge" : "counter", help, [[{}, Number(value)]]);
    }
  }
}
// --- end issue 11 ---

/** Writes one metric family: HELP, TYPE and its samples. */
type Metric = (
  name: string,
  type: "gauge" | "counter",
  help: string,
  samples: [labels: Record<string, string>, value: number][],
) => void;

/** A record's entries sorted by key, so the exposition is stable between scrapes. */
function sortedEntries<T>(record: Readonly<Record<string, T>>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `messagesIn` -> `messages_in`. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const body = entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",");
  return `{${body}}`;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * Helpers shared by the benchmarks (`bench:udp`, `bench:http`, `bench:table`, `bench:secure`,
 * `bench:udp-room`).
 *
 * @module
 */

/** `utime + stime` of a process in seconds, from `/proc/<pid>/stat` (Linux); `undefined` once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** The median of the finite values (`NaN` when there are none). */
export function median(xs: number[]): number {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The 1, 5 and 15 minute load averages, as `/proc/loadavg` writes them ("0.75 1.37 2.15"). */
export function loadAverage(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

/**
 * NAT traversal in a real NAT lab (issue 11): `../shared/tools/natlab.sh`
 * builds network namespaces with nftables NATs; the bootstrap runs on the
 * lab's public side, one `olaf-peer --nat --json` behind each NAT. cone x cone
 * must end direct, symmetric x symmetric (bootstrap with `--relay`) relayed,
 * with messages both ways. Needs root, `ip` and the lab script (it installs
 * nftables itself); skips with the reason otherwise. Bounded: every wait has a
 * deadline, and the lab is always torn down.
 *
 * Prints one line per scenario: `natlab: cone x cone -> direct, first message
 * N ms after both joined`, the figures of the README table.
 */
import assert from "node:assert/strict";

const NATLAB = new URL("../../shared/tools/natlab.sh", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

function skipReason(): string | undefined {
  if (Deno.build.os !== "linux") return "natlab needs Linux network namespaces";
  if (Deno.uid() !== 0) return "natlab needs root (network namespaces, nftables)";
  try {
    Deno.statSync(NATLAB);
  } catch {
    return `no lab script at ${NATLAB}`;
  }
  try {
    new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
  } catch {
    return "the `ip` tool (iproute2) is missing";
  }
  return undefined;
}

async function natlab(...args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command("bash", {
    args: [NATLAB, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

/** A process in a lab namespace, its stdout as JSON-or-text lines. */
class LabProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;

  constructor(ns: string, args: string[]) {
    const child = this.child = new Deno.Command("bash", {
      args: [NATLAB, "exec", ns, DENO, "run", "-A", ...args],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          this.lines.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    })();
  }

  events(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }

  async until<T>(find: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`natlab: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async write(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Ctrl-D for peers (they leave with bye), SIGTERM for the bootstrap; then reaped. */
  async stop(signal = false): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* already closed */ }
    if (signal) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5_000);
    await this.child.status;
    clearTimeout(timer);
    await this.#reading;
  }
}

async function scenario(
  nat1: string,
  nat2: string,
  relay: boolean,
  expected: string,
  nat = true,
) {
  const up = await natlab("up", "--nat1", nat1, "--nat2", nat2);
  if (up.code !== 0) throw new Error(`natlab up failed (${up.code}): ${up.text.trim()}`);
  const procs: LabProcess[] = [];
  try {
    const bootArgs = ["bootstrap/mod.ts", "--host", "203.0.113.1", "--port", "0"];
    const boot = new LabProcess("pub", relay ? [...bootArgs, "--relay"] : bootArgs);
    procs.push(boot);
    const port = await boot.until(
      () =>
        boot.lines.map((l) => /listening on udp:\/\/203\.0\.113\.1:(\d+)/.exec(l)?.[1])
          .find((p) => p !== undefined),
      "the bootstrap",
    );
    const peer = (ns: string) =>
      new LabProcess(ns, [
        "peer/mod.ts",
        "--bootstrap",
        `203.0.113.1:${port}`,
        "--room",
        "lab",
        "--json",
        ...(nat ? ["--nat"] : []),
      ]);
    const a = peer("a");
    const b = peer("b");
    procs.push(a, b);
    const joined = (p: LabProcess) => p.events().find((e) => e.event === "joined");
    await a.until(() => joined(a), "a to join");
    await b.until(() => joined(b), "b to join");
    const bothJoined = performance.now();
    const met = (p: LabProcess) => p.events().find((e) => e.event === "peer-joined");
    if (expected === "none") {
      // The baseline: v1 behaviour (no --nat) behind two symmetric NATs. Bounded wait.
      await new Promise((r) => setTimeout(r, 8_000));
      assert.equal(met(a) ?? met(b), undefined, `${nat1} x ${nat2} without --nat: never meet`);
      console.log(`natlab: ${nat1} x ${nat2} without --nat -> no path (8 s)`);
      return;
    }
    const metA = await a.until(() => met(a), "a to see b");
    const metB = await b.until(() => met(b), "b to see a");
    await a.write("hello from a");
    await b.write("hello from b");
    const got = (p: LabProcess, text: string) =>
      p.events().find((e) => e.event === "message" && e.data === text);
    await b.until(() => got(b, "hello from a"), "a's message at b");
    await a.until(() => got(a, "hello from b"), "b's message at a");
    const firstMessageMs = Math.round(performance.now() - bothJoined);
    // The path each side ends on: peer-joined's, or the last path-changed.
    const finalPath = (p: LabProcess, first: Record<string, unknown>) =>
      (p.events().filter((e) => e.event === "path-changed").at(-1) ?? first).path;
    assert.equal(finalPath(a, metA), expected, `${nat1} x ${nat2}: a's path`);
    assert.equal(finalPath(b, metB), expected, `${nat1} x ${nat2}: b's path`);
    console.log(
      `natlab: ${nat1} x ${nat2}${relay ? " (--relay)" : ""} -> ${expected}, ` +
        `messages both ways ${firstMessageMs} ms after both joined`,
    );
  } finally {
    for (const p of procs.reverse()) await p.stop(p === procs.at(-1));
    await natlab("down");
  }
}

const reason = skipReason();
if (reason !== undefined) console.log(`natlab tests skipped: ${reason}`);

Deno.test({
  name: "natlab: cone x cone peers punch a direct path and talk both ways",
  ignore: reason !== undefined,
  sanitizeResources: false,
  fn: () => scenario("cone", "cone", false, "direct"),
});

Deno.test({
  name: "natlab: cone x symmetric peers talk through the relay (the cone filters by port)",
  ignore: reason !== undefined,
  sanitizeResources: false,
  fn: () => scenario("cone", "symmetric", true, "relayed"),
});

Deno.test({
  name: "natlab: baseline, v1 peers (no --nat) behind two symmetric NATs never meet",
  ignore: reason !== undefined,
  sanitizeResources: false,
  fn: () => scenario("symmetric", "symmetric", true, "none", false),
});

Deno.test({
  name: "natlab: symmetric x symmetric peers talk through the bootstrap's --relay",
  ignore: reason !== undefined,
  sanitizeResources: false,
  fn: () => scenario("symmetric", "symmetric", true, "relayed"),
});

/**
 * Everything CI checks, in one command (`deno task test`): formatting, lint,
 * type-check, the test suite (doc examples included), `deno doc --lint` on
 * every package entry point and `deno publish --dry-run` for the workspace.
 * Every step runs even when an earlier one fails, so one run shows every
 * problem. Ends with `tests: N passed, N failed` from the test run and exits
 * non-zero if any step failed.
 *
 * @module
 */

interface Step {
  name: string;
  args: string[];
  captureTests?: boolean;
}

const root = new URL("..", import.meta.url);
const packages = ["protocol", "bootstrap", "peer", "control"];

async function entryPoints(): Promise<string[]> {
  const files: string[] = [];
  for (const pkg of packages) {
    const config = JSON.parse(await Deno.readTextFile(new URL(`${pkg}/deno.json`, root)));
    const exports: Record<string, string> = typeof config.exports === "string"
      ? { ".": config.exports }
      : config.exports;
    for (const path of Object.values(exports)) files.push(`${pkg}/${path.replace(/^\.\//, "")}`);
  }
  return files;
}

const steps: Step[] = [
  { name: "fmt", args: ["fmt", "--check"] },
  { name: "lint", args: ["lint"] },
  { name: "check", args: ["check", "--doc", "."] },
  { name: "test", args: ["test", "-A", "--doc"], captureTests: true },
  { name: "doc-lint", args: ["doc", "--lint", ...await entryPoints()] },
  { name: "publish-dry-run", args: ["publish", "--dry-run", "--allow-dirty"] },
];

const decoder = new TextDecoder();
let passed = 0;
let failed = 0;
let sawSummary = false;
const failures: string[] = [];

for (const step of steps) {
  console.log(`\n=== ${step.name}: deno ${step.args.join(" ")}`);
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: step.args,
    cwd: root,
    stdout: step.captureTests ? "piped" : "inherit",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (step.captureTests) {
    // Stream the output through while keeping the tail for the summary line.
    let tail = "";
    for await (const chunk of child.stdout) {
      await Deno.stdout.write(chunk);
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4000);
    }
    const summary = tail.match(/^(?:ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed/m);
    if (summary) {
      sawSummary = true;
      passed = Number(summary[1]);
      failed = Number(summary[2]);
    }
  }
  const status = await child.status;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`=== ${step.name}: ${status.success ? "ok" : "FAILED"} (${seconds}s)`);
  if (!status.success) failures.push(step.name);
}

if (!sawSummary) failed = Math.max(failed, 1);
console.log("");
if (failures.length > 0) console.log(`failed steps: ${failures.join(", ")}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
Deno.exit(failures.length === 0 && failed === 0 && sawSummary ? 0 : 1);

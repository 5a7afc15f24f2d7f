/**
 * `../shared/tools/lossy.c` for real-UDP loss tests: whether it can be used here, and
 * building it into a test's temporary folder (never committed).
 *
 * @module
 */
import assert from "node:assert/strict";

/** The LD_PRELOAD library's source, beside the project in `../shared/tools/`. */
export const LOSSY_SOURCE: URL = new URL("../../shared/tools/lossy.c", import.meta.url);

/** Why lossy.c cannot be used on this machine (gcc or the source missing), or `undefined`. */
export function lossySkipReason(): string | undefined {
  try {
    const gcc = new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" });
    if (!gcc.outputSync().success) return "gcc is missing";
  } catch {
    return "gcc is missing";
  }
  try {
    Deno.statSync(LOSSY_SOURCE);
  } catch {
    return `${LOSSY_SOURCE.pathname} is missing`;
  }
  return undefined;
}

/** Builds `lossy.so` into `dir` (`gcc -shared -fPIC -O2 ... -ldl`) and returns its path. */
export async function buildLossy(dir: string): Promise<string> {
  const so = `${dir}/lossy.so`;
  const built = await new Deno.Command("gcc", {
    args: ["-shared", "-fPIC", "-O2", "-o", so, LOSSY_SOURCE.pathname, "-ldl"],
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  return so;
}

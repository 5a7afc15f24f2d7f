/**
 * Helpers for tests that run child processes: collect their output lines and wait for one with
 * bounded polling.
 *
 * @module
 */
import { eventually } from "@olaf/protocol/testing";

const decoder = new TextDecoder();

/** Where and how {@linkcode Child} runs. */
export interface ChildOptions {
  cwd: string | URL;
  env?: Record<string, string>;
  /** The program; default the running `deno`. */
  command?: string;
}

/** A child process whose stdout and stderr lines are collected as they come. */
export class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #done: Promise<unknown>;

  constructor(args: string[], options: ChildOptions) {
    this.process = new Deno.Command(options.command ?? Deno.execPath(), {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all([this.#read(this.process.stdout), this.#read(this.process.stderr)]);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      this.lines.push(...parts);
    }
    if (buffered) this.lines.push(buffered);
  }

  /** The first line matching `pattern`, polling until `ms` passes or the child exits. */
  async waitForLine(pattern: RegExp, what: string, ms = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let exited = false;
    this.process.status.then(() => exited = true);
    while (true) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (exited || Date.now() > deadline) {
        await this.#done;
        throw new Error(`no ${what} (${exited ? "exited" : "timed out"}):\n${this.output()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  output(): string {
    return this.lines.join("\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch {
      // already exited
    }
    await this.process.status;
    await this.#done;
  }
}

/** Resolves when `check()` holds, polling every 20 ms; rejects after `ms`. */
export function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  return eventually(check, { what, timeoutMs: ms, intervalMs: 20 });
}

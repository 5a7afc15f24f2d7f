// A small headless Chromium driver over the DevTools protocol, for tests and
// the README screenshot: open a page, evaluate expressions until a condition
// holds (bounded polling, never a fixed sleep), read the DOM, take a PNG.
// `--dump-dom --virtual-time-budget` cannot drive the dashboard: its open
// /events stream keeps virtual time from ever advancing.

/** The Chromium executable: `$CHROMIUM`, else the first of the usual names on `PATH`. */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("CHROMIUM");
  if (fromEnv) return fromEnv;
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      if (!dir) continue;
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // Not in this directory.
      }
    }
  }
  return undefined;
}

/** Flags for a quiet, sandbox-free, loopback-only headless browser. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
  "--metrics-recording-only",
  "--hide-scrollbars",
  "--mute-audio",
  "--remote-debugging-address=127.0.0.1",
  "--remote-debugging-port=0",
];

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** One page in a headless Chromium of its own. */
export class Page implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #userDataDir: string;
  readonly #pending = new Map<number, Pending>();
  readonly #stderr: Promise<string>;
  #sessionId = "";
  #nextId = 1;
  #closed = false;

  private constructor(
    child: Deno.ChildProcess,
    socket: WebSocket,
    userDataDir: string,
    stderr: Promise<string>,
  ) {
    this.#child = child;
    this.#socket = socket;
    this.#userDataDir = userDataDir;
    this.#stderr = stderr;
    socket.onmessage = (message) => {
      const reply = JSON.parse(String(message.data));
      if (typeof reply.id !== "number") return; // an event; none is needed
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.error) pending?.reject(new Error(`CDP: ${JSON.stringify(reply.error)}`));
      else pending?.resolve(reply.result ?? {});
    };
    socket.onclose = () => {
      for (const pending of this.#pending.values()) pending.reject(new Error("CDP socket closed"));
      this.#pending.clear();
    };
  }

  /** Starts Chromium with a window of `width` x `height` CSS pixels and opens `url`. */
  static async open(
    executable: string,
    url: string,
    { width = 1280, height = 800 }: { width?: number; height?: number } = {},
  ): Promise<Page> {
    const userDataDir = await Deno.makeTempDir({ prefix: "olaf-chromium-" });
    const child = new Deno.Command(executable, {
      args: [...FLAGS, `--user-data-dir=${userDataDir}`, `--window-size=${width},${height}`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Drain stderr (Chromium is chatty) and keep the tail for error messages.
    const stderr = (async () => {
      let tail = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        tail = (tail + chunk).slice(-4000);
      }
      return tail;
    })();
    try {
      const [port, path] = await waitForDevToolsPort(userDataDir, child);
      const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error("cannot connect to Chromium's DevTools socket"));
      });
      const page = new Page(child, socket, userDataDir, stderr);
      const { targetId } = await page.#send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await page.#send("Target.attachToTarget", { targetId, flatten: true });
      page.#sessionId = String(sessionId);
      await page.#send("Emulation.setDeviceMetricsOverride", {
        width,
        height,
        deviceScaleFactor: 1,
        mobile: false,
      });
      await page.#send("Page.enable", {});
      await page.#send("Page.navigate", { url });
      return page;
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
      throw new Error(`${(error as Error).message}\nchromium stderr:\n${await stderr}`);
    }
  }

  #send(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const message: Record<string, unknown> = { id, method, params };
    if (this.#sessionId && !method.startsWith("Target.") && !method.startsWith("Browser.")) {
      message.sessionId = this.#sessionId;
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify(message));
    });
  }

  /** Evaluates `expression` in the page and returns its value (promises awaited). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.#send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails) {
      throw new Error(`page threw: ${JSON.stringify(result.exceptionDetails)}`);
    }
    return (result.result as { value: T }).value;
  }

  /**
   * Evaluates `expression` until it is truthy, polling for at most
   * `timeoutMs`; throws with `describe()`'s output (e.g. the DOM) otherwise.
   */
  async waitFor(expression: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
      if (Date.now() > deadline) {
        const html = await this.html().catch((error) => String(error));
        throw new Error(`timed out waiting for ${expression}\npage:\n${html.slice(0, 6000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The page's current DOM as HTML (what `--dump-dom` prints). */
  html(): Promise<string> {
    return this.evaluate<string>("document.documentElement.outerHTML");
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.#send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#send("Browser.close", {}).catch(() => {});
    this.#socket.close();
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await this.#child.status;
    }
    await this.#stderr;
    await Deno.remove(this.#userDataDir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Chromium writes its DevTools port and browser path to this file once it listens. */
async function waitForDevToolsPort(
  userDataDir: string,
  child: Deno.ChildProcess,
): Promise<[string, string]> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !exited) {
    try {
      const [port, path] = (await Deno.readTextFile(`${userDataDir}/DevToolsActivePort`))
        .split("\n");
      if (port && path) return [port, path];
    } catch {
      // Not written yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(exited ? "chromium exited before listening" : "chromium did not start in 60 s");
}

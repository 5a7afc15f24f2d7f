/**
 * A local JSR registry for testing the `jsr:` path (`deno run -A jsr:@olaf/bootstrap`) where
 * jsr.io is not reachable.
 *
 * It is filled by the real `deno publish`: the server also answers the part of JSR's publishing
 * API that `deno publish --token` calls (`JSR_URL` is pointed at it, so the API is `JSR_URL/api/`),
 * and stores the gzipped tarball each package uploads. So the files it serves are byte for byte
 * what Deno would upload to jsr.io, with bare specifiers already rewritten ("unfurled") by Deno's
 * own publish code: workspace members become `jsr:@olaf/protocol@^0.1.0`, import-map entries
 * become their targets (`npm:hono@4.13.19`). It then serves what Deno's JSR resolver reads:
 *
 * - `GET /@scope/name/meta.json`: `{ scope, name, latest, versions: { "0.1.0": { createdAt } } }`
 * - `GET /@scope/name/0.1.0_meta.json`: `{ manifest: { "/mod.ts": { size, checksum } }, exports }`
 *   with `checksum` = `sha256-<hex>` of each file, which Deno verifies on download
 * - `GET /@scope/name/0.1.0/mod.ts`: the file as uploaded
 *
 * What differs from jsr.io: no `moduleGraph2` in the version meta (Deno then parses the modules
 * itself, which gives the same graph), no validation of the upload (jsr.io checks names, sizes,
 * that `jsr:` dependencies exist, and type-checks for the score), no npm compatibility tarballs,
 * no docs, plain HTTP on loopback. See the "Installing from JSR" section of the root README.
 *
 * ```sh
 * deno run -A tools/jsr_registry.ts --port 0     # publishes the workspace, prints the URL
 * JSR_URL=http://127.0.0.1:PORT deno run -A jsr:@olaf/bootstrap --help
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One file of a published version. */
export interface RegistryFile {
  /** Bytes as uploaded. */
  readonly bytes: Uint8Array;
  /** `sha256-<hex>`, the form of jsr.io's manifest (and of `deno publish`'s own hash). */
  readonly checksum: string;
}

/** One published package version. */
export interface PublishedVersion {
  readonly scope: string;
  readonly name: string;
  readonly version: string;
  /** The export map from the uploaded config file, normalised to an object. */
  readonly exports: Record<string, string>;
  /** Files by path inside the package (`/mod.ts`). */
  readonly files: Map<string, RegistryFile>;
  readonly createdAt: string;
}

/** A running local registry. */
export interface JsrRegistry extends AsyncDisposable {
  /** Base URL to put in `JSR_URL`, with a trailing slash. */
  readonly url: string;
  /** Published versions by `@scope/name`. */
  readonly packages: Map<string, PublishedVersion>;
  /** What `deno publish` printed. */
  readonly publishLog: string;
  /** Paths of the registry files served so far (`/@olaf/peer/0.1.0/mod.ts`), API calls left out. */
  readonly served: string[];
  close(): Promise<void>;
}

/** Options for {@linkcode startJsrRegistry}. */
export interface JsrRegistryOptions {
  /** Loopback address to listen on; default `127.0.0.1`. */
  hostname?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Workspace to publish (a folder with a deno.json); default this repository. */
  workspace?: string | URL;
  /** The `deno` binary that publishes; default the running one. */
  deno?: string;
  /**
   * The publish date to report in `meta.json`; default 7 days ago. Deno 2.9 refuses versions
   * younger than its minimum dependency age (24 hours by default), so a date of now makes
   * `deno run jsr:...` fail the way it does on jsr.io in the first day after a release.
   */
  createdAt?: Date;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function field(block: Uint8Array, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/**
 * Reads the regular files of a tar archive (ustar or GNU, as the `tar` crate behind
 * `deno publish` writes: GNU headers, `././@LongLink` entries for names over 100 bytes).
 */
export function untar(tar: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48); // NUL is an old-style regular file
    const magic = field(header, 257, 6);
    const prefix = magic === "ustar" ? field(header, 345, 155) : "";
    let name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (body.length !== size) throw new Error(`truncated tar entry ${name}`);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = field(body, 0, body.length);
      continue;
    }
    if (type !== "0") continue; // directories, links: deno publish writes none
    name = name.replace(/^\.\//, "/");
    if (!name.startsWith("/")) name = `/${name}`;
    files.set(name, body.slice());
  }
  return files;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function apiError(code: string, message: string, status: number): Response {
  return json({ code, message }, status);
}

const CONTENT_TYPES: Record<string, string> = {
  ts: "text/typescript",
  js: "text/javascript",
  json: "application/json",
  md: "text/markdown",
};

/**
 * Starts the registry, runs `deno publish` for the workspace against it, and resolves once every
 * package is published.
 *
 * @throws {Error} With `deno publish`'s output if publishing fails.
 */
export async function startJsrRegistry(options: JsrRegistryOptions = {}): Promise<JsrRegistry> {
  const packages = new Map<string, PublishedVersion>();
  const served: string[] = [];
  const tasks = new Map<string, { status: string; error?: { code: string; message: string } }>();
  let taskCounter = 0;
  const createdAt = options.createdAt ?? new Date(Date.now() - 7 * 24 * 3600 * 1000);

  async function publish(scope: string, name: string, version: string, request: Request) {
    const key = `@${scope}/${name}`;
    const existing = packages.get(key);
    if (existing?.version === version) {
      // `deno publish` reads `task` from this error to tell "already published" from "pending".
      return json({
        code: "duplicateVersionPublish",
        message: `${key}@${version} is already published`,
        task: { id: "published", status: "success", error: null },
      }, 409);
    }
    const config = new URL(request.url).searchParams.get("config") ?? "/deno.json";
    let files: Map<string, Uint8Array>;
    try {
      files = untar(await gunzip(new Uint8Array(await request.arrayBuffer())));
    } catch (error) {
      return apiError("invalidTarball", `cannot read the tarball: ${error}`, 400);
    }
    const configBytes = files.get(config);
    if (configBytes === undefined) {
      return apiError("missingConfigFile", `the tarball has no ${config}`, 400);
    }
    let parsed: { name?: string; version?: string; exports?: unknown };
    try {
      parsed = JSON.parse(decoder.decode(configBytes));
    } catch (error) {
      return apiError("invalidConfigFile", `${config}: ${error}`, 400);
    }
    // jsr.io refuses an upload whose config names another package or version; so does this.
    if (parsed.name !== key || (parsed.version !== undefined && parsed.version !== version)) {
      return apiError("configFileNameMismatch", `${config} is not ${key}@${version}`, 400);
    }
    const exports: Record<string, string> = typeof parsed.exports === "string"
      ? { ".": parsed.exports }
      : (parsed.exports ?? {}) as Record<string, string>;
    if (Object.keys(exports).length === 0) {
      return apiError("configFileExportsInvalid", `${config} exports nothing`, 400);
    }
    const entries = new Map<string, RegistryFile>();
    for (const [path, bytes] of files) {
      entries.set(path, { bytes, checksum: `sha256-${await sha256Hex(bytes)}` });
    }
    packages.set(key, {
      scope,
      name,
      version,
      exports,
      files: entries,
      createdAt: createdAt.toISOString(),
    });
    const id = `task-${++taskCounter}`;
    tasks.set(id, { status: "success" });
    return json({ id, status: "success", error: null });
  }

  function api(path: string, request: Request): Promise<Response> | Response {
    const version = path.match(/^scopes\/([^/]+)\/packages\/([^/]+)\/versions\/([^/]+)$/);
    if (version) {
      const [, scope, name, v] = version;
      if (request.method === "POST") return publish(scope, name, v, request);
      const published = packages.get(`@${scope}/${name}`);
      return published?.version === v
        ? json({ scope, package: name, version: v })
        : apiError("packageVersionNotFound", "not found", 404);
    }
    const pkg = path.match(/^scopes\/([^/]+)\/packages\/([^/]+)$/);
    // Every package "exists": the scope and package are created on the fly at publish.
    if (pkg) return json({ scope: pkg[1], name: pkg[2] });
    const task = path.match(/^publish_status\/(.+)$/);
    if (task) {
      const state = tasks.get(task[1]);
      return state
        ? json({ id: task[1], ...state, error: state.error ?? null })
        : apiError("notFound", "no such task", 404);
    }
    return apiError("notFound", `no API route ${path}`, 404);
  }

  function registry(path: string): Response {
    const match = path.match(/^(@[^/]+\/[^/]+)\/(.+)$/);
    const published = match ? packages.get(match[1]) : undefined;
    if (!match || !published) return new Response("not found", { status: 404 });
    const rest = match[2];
    if (rest === "meta.json") {
      return json({
        scope: published.scope,
        name: published.name,
        latest: published.version,
        versions: { [published.version]: { createdAt: published.createdAt } },
      });
    }
    if (rest === `${published.version}_meta.json`) {
      const manifest: Record<string, { size: number; checksum: string }> = {};
      for (const [file, entry] of [...published.files].sort(([a], [b]) => a.localeCompare(b))) {
        manifest[file] = { size: entry.bytes.length, checksum: entry.checksum };
      }
      return json({ manifest, exports: published.exports });
    }
    const prefix = `${published.version}/`;
    const file = rest.startsWith(prefix)
      ? published.files.get(rest.slice(prefix.length - 1))
      : undefined;
    if (!file) return new Response("not found", { status: 404 });
    const ext = rest.slice(rest.lastIndexOf(".") + 1);
    return new Response(file.bytes as BodyInit, {
      headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream" },
    });
  }

  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "");
    if (path.startsWith("api/")) return api(path.slice(4), request);
    const response = registry(path);
    if (response.ok) served.push(`/${path}`);
    return response;
  });
  const url = `http://${server.addr.hostname}:${server.addr.port}/`;
  const close = async () => {
    await server.shutdown();
  };

  const workspace = options.workspace ?? new URL("..", import.meta.url);
  const output = await new Deno.Command(options.deno ?? Deno.execPath(), {
    // --no-provenance: provenance needs GitHub's OIDC; --allow-dirty: tests run on work trees.
    args: ["publish", "--token", "olaf-local-registry", "--allow-dirty", "--no-provenance"],
    cwd: workspace,
    env: { JSR_URL: url, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const publishLog = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  if (!output.success) {
    await close();
    throw new Error(`deno publish against ${url} failed:\n${publishLog}`);
  }
  return { url, packages, publishLog, served, close, [Symbol.asyncDispose]: close };
}

/** Writes every published file under `dir/@scope/name/VERSION/` (for reading what was uploaded). */
export async function writeRegistry(registry: JsrRegistry, dir: string): Promise<void> {
  for (const [key, published] of registry.packages) {
    for (const [path, file] of published.files) {
      const target = `${dir}/${key}/${published.version}${path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(target, file.bytes);
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A tools/jsr_registry.ts [--port N] [--host ADDR] [--out DIR]\n" +
        "Publishes this workspace into a local JSR registry and serves it; prints its URL.\n" +
        "--out DIR also writes the uploaded files there. Stop it with Ctrl-C.",
    );
    Deno.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`jsr_registry: --port must be 0..65535, got ${values.port}`);
    Deno.exit(2);
  }
  const registry = await startJsrRegistry({ hostname: values.host, port });
  if (values.out) await writeRegistry(registry, values.out);
  for (const [key, published] of registry.packages) {
    console.error(`published ${key}@${published.version} (${published.files.size} files)`);
  }
  await Deno.stdout.write(encoder.encode(`${registry.url}\n`));
  Deno.addSignalListener("SIGINT", async () => {
    await registry.close();
    Deno.exit(130);
  });
}

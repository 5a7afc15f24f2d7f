// Middleware: reads a JSON request body with a size cap, before any handler
// touches it. 415 unless the content type is JSON, 413 past the cap (from
// Content-Length when present, else while streaming, so a huge chunked body
// is never buffered whole), 400 when it does not parse, 408 when the whole
// body has not arrived within `timeoutMs` (a client trickling a body would
// otherwise hold the connection and its buffer forever). The parsed value is
// left in the context as `jsonBody`.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./_errors.ts";

/** Hono environment of routes behind {@linkcode jsonBody}. */
export type JsonBodyEnv = { Variables: { jsonBody: unknown } };

/** Parses the body as JSON, at most `maxBytes` bytes. */
export function jsonBody(
  maxBytes: number,
  timeoutMs = Infinity,
): MiddlewareHandler<JsonBodyEnv> {
  return async function jsonBodyMiddleware(c, next) {
    const type = c.req.header("content-type") ?? "";
    const mediaType = type.split(";")[0].trim().toLowerCase();
    if (mediaType !== "application/json" && !/^application\/[\w.+-]+\+json$/.test(mediaType)) {
      throw new ApiError(415, "unsupported-media-type", "the body must be application/json");
    }
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
    const text = await readCapped(c.req.raw.body, maxBytes, timeoutMs);
    try {
      c.set("jsonBody", JSON.parse(text));
    } catch {
      throw new ApiError(400, "invalid-json", "the body is not valid JSON");
    }
    await next();
  };
}

async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  timeoutMs: number,
) {
  if (!body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    if (Number.isFinite(timeoutMs)) timer = setTimeout(() => reject(timedOut()), timeoutMs);
  });
  let failed = false;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), expired]);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    clearTimeout(timer);
    // Cancelling also settles a read still pending after a timeout.
    if (failed) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid-json", "the body is not valid UTF-8");
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    "payload-too-large",
    `the body may be at most ${maxBytes} bytes`,
    {},
    "max-body-bytes",
  );
}

function timedOut(): ApiError {
  return new ApiError(
    408,
    "request-timeout",
    "the request body did not arrive in time",
    { Connection: "close" },
    "body-timeout",
  );
}

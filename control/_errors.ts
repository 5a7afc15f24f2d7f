// JSON errors: every error the control plane answers is `{ error, message }`
// with `error` one of the stable codes below, whatever produced it.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Stable machine-readable error codes (the `error` field). */
export type ErrorCode =
  | "bad-request"
  | "invalid-json"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "method-not-allowed"
  | "name-taken"
  | "not-ready"
  | "session-full"
  | "payload-too-large"
  | "unsupported-media-type"
  | "rate-limited"
  | "no-bootstrap"
  | "unavailable"
  | "internal"
  // --- issue 12: limits and join codes ---
  | "session-quota"
  | "join-code-required"
  | "wrong-join-code"
  | "request-timeout";

/** An error that becomes a JSON response with the given status and code. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  /** The limit (a flag name of CONTROL_LIMITS, or "join-code") this refusal counts against. */
  readonly limit: string | undefined;

  constructor(
    status: ContentfulStatusCode,
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
    limit?: string,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.limit = limit;
  }
}

/** Writes the JSON error body. */
export function errorJson(
  c: Context,
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return c.json({ error: code, message }, status, headers);
}

/** Shorthand for a 400. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "bad-request", message);
}

/** `text` as a JSON string for messages, cut to `max` characters (names come from clients). */
export function quoted(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

// Middleware: one debug line per request (method, path, status, duration)
// under ["olaf", "control", "http"], so `--log-level debug` shows traffic and
// the default level stays quiet.
import type { Context, MiddlewareHandler, Next } from "hono";
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["olaf", "control", "http"]);

export function accessLog(): MiddlewareHandler {
  async function timed(c: Context, next: Next): Promise<void> {
    const started = performance.now();
    await next();
    logger.debug("{method} {path} {status} {ms}ms", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }
  // Checked per request (logging may be configured later). Debug off, the
  // default: no timing, no record, and no async frame of its own.
  return function accessLogMiddleware(c, next) {
    return logger.isEnabledFor("debug") ? timed(c, next) : next();
  };
}

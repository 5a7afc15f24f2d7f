// Middleware: one debug line per request (method, path, status, duration)
// under ["olaf", "control", "http"], so `--log-level debug` shows traffic and
// the default level stays quiet.
import type { MiddlewareHandler } from "hono";
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["olaf", "control", "http"]);

export function accessLog(): MiddlewareHandler {
  return async function accessLogMiddleware(c, next) {
    // Checked per request (logging may be configured later); skips the timing and
    // the record's object when debug is off, the default.
    if (!logger.isEnabledFor("debug")) return await next();
    const started = performance.now();
    await next();
    logger.debug("{method} {path} {status} {ms}ms", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}

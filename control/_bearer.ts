// The `Authorization: Bearer <token>` header: 401 when absent or malformed.
// Whether the token is the right one is the rendezvous rules' business (403).
import type { Context } from "hono";
import { ApiError } from "./_errors.ts";

/** The bearer token of the request; throws 401 without one. */
export function bearerToken(c: Context): string {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i);
  if (!match) {
    throw new ApiError(
      401,
      "unauthorized",
      "send the host token as Authorization: Bearer <token>",
      {
        "WWW-Authenticate": 'Bearer realm="olaf"',
      },
    );
  }
  return match[1];
}

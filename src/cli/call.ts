// What every call to an ate server sends, and what its failure means to a CLI user. Apart
// from control-client.ts so commands that only fetch (version, logs) load neither the API's
// descriptors nor Connect (only a type comes from it here).
import type { Interceptor } from "@connectrpc/connect";

export { fromCallError } from "../sdk/call-error.ts";

/** The `authorization` header for a bearer token (none without one). */
export function bearerHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Sends the bearer token with every call. */
export function bearer(token: string | undefined): Interceptor {
  return (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

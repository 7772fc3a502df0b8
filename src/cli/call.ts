// What every call to an ate server sends, and what its failure means to a CLI user. Apart
// from control-client.ts so commands that only fetch (version, logs) load neither the API's
// descriptors nor Connect (only a type comes from it here).
import type { Interceptor } from "@connectrpc/connect";
import { AteError, serverUnreachable } from "../errors/index.ts";

const unreachable =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/;

/**
 * What a failed call means to a CLI user: the server's own error, or that it cannot be reached.
 * `other` turns any other error into an AteError: control-client.ts passes one that knows
 * Connect's errors (their code and the server's message).
 */
export function fromCallError(
  err: unknown,
  server: string,
  other: (err: unknown) => AteError = AteError.from,
): AteError {
  if (err instanceof AteError) return err;
  const text = `${(err as Error)?.message ?? err} ${(err as { cause?: Error })?.cause?.message ?? ""}`;
  if (unreachable.test(text) || (err as { code?: string })?.code === "ECONNREFUSED") {
    return serverUnreachable(server);
  }
  return other(err);
}

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

// What every call to an ate server sends, and what its failure means to a CLI user. Apart
// from control-client.ts so commands that only fetch (version, logs) load no API descriptors.
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { AteError, type Code, serverUnreachable } from "../errors/index.ts";

const unreachable =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/;

/** What a failed call means to a CLI user: the server's own error, or that it cannot be reached. */
export function fromCallError(err: unknown, server: string): AteError {
  if (err instanceof AteError) return err;
  const text = `${(err as Error)?.message ?? err} ${(err as { cause?: Error })?.cause?.message ?? ""}`;
  if (unreachable.test(text) || (err as { code?: string })?.code === "ECONNREFUSED") {
    return serverUnreachable(server);
  }
  if (err instanceof ConnectError)
    return new AteError(err.code as unknown as Code, err.rawMessage, [], { cause: err });
  return AteError.from(err);
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

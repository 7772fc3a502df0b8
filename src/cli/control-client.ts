import type { DescService } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AteError, type Code } from "../errors/index.ts";
import { Admin } from "../proto/gen/ateapi/admin_pb.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { serverUnreachable } from "../resources/index.ts";

export type ControlClient = Client<typeof Control>;
export type AdminClient = Client<typeof Admin>;

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

/** A service of an ate server over Connect JSON; errors come back as AteErrors. */
function serviceClient<S extends DescService>(
  service: S,
  server: string,
  token: string | undefined,
): Client<S> {
  const client = createClient(
    service,
    createConnectTransport({ baseUrl: server, httpVersion: "1.1", interceptors: [bearer(token)] }),
  );
  return new Proxy(client, {
    get(target, key) {
      const method = Reflect.get(target, key) as unknown;
      if (typeof method !== "function") return method;
      return async (...args: unknown[]) => {
        try {
          return await (method as (...a: unknown[]) => Promise<unknown>)(...args);
        } catch (err) {
          throw fromCallError(err, server);
        }
      };
    },
  });
}

/** The Control API (actors, workers, atespaces) of an ate server. */
export function controlClient(server: string, token?: string): ControlClient {
  return serviceClient(Control, server, token);
}

/** The Admin API (tokens, who am I) of an ate server. */
export function adminClient(server: string, token?: string): AdminClient {
  return serviceClient(Admin, server, token);
}

import type { DescService } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AteError, type Code } from "../errors/index.ts";
import { Admin } from "../proto/gen/ateapi/admin_pb.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import type { AdminClient, ControlClient } from "../sdk/control.ts";
import { bearer, fromCallError } from "./call.ts";

export type { AdminClient, ControlClient } from "../sdk/control.ts";
export { bearer, bearerHeaders } from "./call.ts";

/** A Connect error as an AteError with its code and the server's own message. */
function fromConnect(err: unknown): AteError {
  if (err instanceof ConnectError)
    return new AteError(err.code as unknown as Code, err.rawMessage, [], { cause: err });
  return AteError.from(err);
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
          throw fromCallError(err, server, fromConnect);
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

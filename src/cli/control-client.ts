import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AteError, type Code } from "../errors/index.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { serverUnreachable } from "../resources/index.ts";

export type ControlClient = Client<typeof Control>;

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

/** The Control API of an ate server over Connect JSON; errors come back as AteErrors. */
export function controlClient(server: string): ControlClient {
  const client = createClient(
    Control,
    createConnectTransport({ baseUrl: server, httpVersion: "1.1" }),
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

import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { fromConnectError } from "../errors/connect.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { Admin, Role } from "../proto/gen/ateapi/admin_pb.ts";

export interface MachineTokenCheck {
  /** The control plane's API. */
  server: string;
  token: string;
  /** Where the token came from, for messages. */
  tokenFile: string;
  role: "node" | "router";
  /** A node token must be this node's (`--name`). */
  name?: string;
  /** Stops waiting for an API that does not answer yet. */
  signal: AbortSignal;
  logger: Logger;
  /** Wait between tries while the API does not answer. Default 2 s. */
  retryMs?: number;
}

const roleNames: Partial<Record<Role, string>> = {
  [Role.ADMIN]: "an admin",
  [Role.TENANT]: "a tenant",
  [Role.NODE]: "a node",
  [Role.ROUTER]: "a router",
};

/**
 * Asks the control plane who the token is (Admin WhoAmI) before a node or router starts, and
 * refuses to start — naming the file — with a token that is not valid there, of another role
 * (least privilege: an admin token is refused too), or, for a node, of another node. While
 * the API does not answer (it may start after this host) it asks again; `signal` stops that.
 */
export async function checkMachineToken(o: MachineTokenCheck): Promise<void> {
  const admin = createClient(
    Admin,
    createConnectTransport({
      baseUrl: o.server,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${o.token}`);
          return next(req);
        },
      ],
    }),
  );
  const make = `ate create token ${o.name ?? "NAME"} --${o.role}`;
  for (let attempt = 1; ; attempt++) {
    o.signal.throwIfAborted();
    let token: Awaited<ReturnType<typeof admin.whoAmI>>["token"];
    try {
      token = (await admin.whoAmI({}, { signal: o.signal, timeoutMs: 10_000 })).token;
    } catch (err) {
      if (o.signal.aborted) throw err;
      const e = fromConnectError(err);
      if (e.code === Code.Unauthenticated)
        // Not UNAUTHENTICATED: the CLI explains that as its own token's problem.
        throw new AteError(
          Code.FailedPrecondition,
          `the token in ${o.tokenFile} is not valid at ${o.server} (${e.message}): it was revoked or expired, or is another cluster's; make a new one with ${make}`,
        );
      if (
        e.code !== Code.Unavailable &&
        e.code !== Code.DeadlineExceeded &&
        e.code !== Code.Unknown
      )
        throw new AteError(
          e.code,
          `asking ${o.server} who the token in ${o.tokenFile} is: ${e.message}`,
        );
      o.logger.warn("the control plane's API does not answer yet; asking again", {
        server: o.server,
        attempt,
        error: e.message,
      });
      await sleep(o.retryMs ?? 2000, undefined, { signal: o.signal }).catch(() => {});
      continue;
    }
    if (!token) throw new AteError(Code.Internal, `${o.server} answered WhoAmI without a token`);
    const wanted = o.role === "node" ? Role.NODE : Role.ROUTER;
    if (token.role !== wanted)
      throw new AteError(
        Code.PermissionDenied,
        `the token in ${o.tokenFile} is ${roleNames[token.role] ?? "an unknown"} token ("${token.name}"): ate ${o.role} needs ${roleNames[wanted]} token of its own; make one with ${make}`,
      );
    if (o.name !== undefined && token.name !== o.name)
      throw new AteError(
        Code.PermissionDenied,
        `the token in ${o.tokenFile} is node ${token.name}'s, not ${o.name}'s: start this node with --name ${token.name}, or make its own token with ${make}`,
      );
    return;
  }
}

// Where an SDK client connects and as whom, resolved once by connect().
import { AteError, Code } from "../errors/index.ts";
import type { TlsOptions } from "./request.ts";

/** Where `ate up` serves its API and its router unless told otherwise. */
export const defaultServer = "http://127.0.0.1:7443";
const defaultRouterPort = "7480";

export interface ConnectOptions extends TlsOptions {
  /** The ate API: default $ATE_SERVER, else the local `ate up` (http://127.0.0.1:7443). */
  server?: string;
  /** The bearer token for the API: default $ATE_TOKEN. Never sent to the router or actors. */
  token?: string;
  /**
   * The router (HTTP to actors by name): default $ATE_ROUTER, else the server's host on
   * port 7480 over http, where `ate up` serves it.
   */
  router?: string;
  /** The atespace calls work in unless they name one: default "default". */
  atespace?: string;
}

export interface Endpoints {
  server: string;
  router: string;
  token: string | undefined;
  tls: TlsOptions;
  atespace: string;
}

/**
 * A server URL as given, checked: http(s) with a host; returned without a trailing slash.
 * The CLI checks its --server, $ATE_SERVER and config file with it too.
 */
export function checkServerUrl(value: unknown, what: string): string {
  if (typeof value === "string") {
    try {
      const url = new URL(value);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.host)
        return value.replace(/\/+$/, "");
    } catch {}
  }
  throw new AteError(
    Code.InvalidArgument,
    `${what}: ${JSON.stringify(value)} is not a server URL: use http(s)://HOST:PORT, e.g. ${defaultServer}`,
  );
}

export function resolveEndpoints(o: ConnectOptions, env = process.env): Endpoints {
  const server = checkServerUrl(o.server ?? env.ATE_SERVER ?? defaultServer, "server");
  let router = o.router ?? env.ATE_ROUTER;
  if (router === undefined) {
    const url = new URL(server);
    url.protocol = "http:";
    url.port = defaultRouterPort;
    router = url.origin;
  }
  const tls: TlsOptions = {};
  if (o.ca !== undefined) tls.ca = o.ca;
  if (o.rejectUnauthorized !== undefined) tls.rejectUnauthorized = o.rejectUnauthorized;
  return {
    server,
    router: checkServerUrl(router, "router"),
    token: o.token ?? (env.ATE_TOKEN || undefined),
    tls,
    atespace: o.atespace ?? "default",
  };
}

import { timingSafeEqual } from "node:crypto";
import http, { type IncomingMessage, STATUS_CODES } from "node:http";
import net, { type AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Logger, silentLogger } from "../log/index.ts";
import { Admin, Role } from "../proto/gen/ateapi/admin_pb.ts";

/**
 * A node's actor entry point: routers on other hosts reach the actors of this node through it,
 * as an HTTP CONNECT proxy (`CONNECT <worker address>:<port>`), so worker addresses need not be
 * routable, or unique, across the cluster. It forwards only to the addresses of THIS node's
 * workers (the caller says which, asked at each CONNECT; a worker's address holds nothing but
 * its sandbox), by IPv4 literal (no names are resolved), and only for a caller presenting a
 * secret (`Proxy-Authorization: Bearer <secret>`) that `authorize` accepts — a router token,
 * checked against the control plane's WhoAmI (routerTokenCheck). Anything else is refused
 * before a byte reaches a worker: 407 without a secret, 403 with a wrong one or for an address
 * that is not a worker here, 405 for anything but CONNECT.
 */
export interface EntryProxyOptions {
  /** Where it listens: the node's address (reachable from routers). */
  host: string;
  /** Default 7481; 0 picks a free port. */
  port?: number;
  /** This node's worker addresses now. */
  workerAddresses: () => Promise<Iterable<string>> | Iterable<string>;
  /** Whether a presented secret may use the entry point. */
  authorize: (secret: string) => Promise<boolean>;
  /** Worker ports that may be reached. Default: any (1-65535). */
  allowPort?: (port: number) => boolean;
  /** Time for a caller to send its CONNECT, and for the worker to accept. Default 10 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface RunningEntryProxy {
  /** host:port, as a worker ref's `entry`. */
  entry: string;
  close(): Promise<void>;
}

export async function startEntryProxy(o: EntryProxyOptions): Promise<RunningEntryProxy> {
  const log = o.logger ?? silentLogger;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const sockets = new Set<net.Socket>();
  const server = http.createServer({ headersTimeout: timeoutMs, requestTimeout: timeoutMs });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("request", (_req, res: http.ServerResponse) => {
    res.writeHead(405, { allow: "CONNECT", "content-type": "text/plain; charset=utf-8" });
    res.end("this is a node's actor entry point: only CONNECT <worker address>:<port>\n");
  });
  server.on("connect", (req: IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on("error", () => client.destroy());
    void tunnel(o, req, client, head, timeoutMs).catch((err) => {
      log.warn("entry point: a tunnel failed", { error: String(err) });
      refuse(client, 500, "the entry point failed");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 7481, o.host, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const entry = `${address.includes(":") ? `[${address}]` : address}:${port}`;
  log.info("actor entry point listening", { entry });
  return {
    entry,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function tunnel(
  o: EntryProxyOptions,
  req: IncomingMessage,
  client: net.Socket,
  head: Buffer,
  timeoutMs: number,
): Promise<void> {
  const auth = req.headers["proxy-authorization"];
  const secret = typeof auth === "string" ? /^Bearer ([\x21-\x7e]{1,4096})$/i.exec(auth)?.[1] : "";
  if (!secret)
    return refuse(client, 407, "present a router token: Proxy-Authorization: Bearer <token>", {
      "proxy-authenticate": "Bearer",
    });
  let allowed: boolean;
  try {
    allowed = await o.authorize(secret);
  } catch {
    return refuse(client, 503, "cannot check the token now; retry");
  }
  if (!allowed) return refuse(client, 403, "the token may not use this entry point");
  const target = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(req.url ?? "");
  const port = Number(target?.[2] ?? 0);
  const host = target?.[1] ?? "";
  if (!target || net.isIPv4(host) === false || port < 1 || port > 65535)
    return refuse(client, 400, "CONNECT <worker IPv4 address>:<port> only");
  if (!(o.allowPort ?? (() => true))(port))
    return refuse(client, 403, `port ${port} of a worker may not be reached here`);
  const workers = new Set(await o.workerAddresses());
  if (!workers.has(host)) return refuse(client, 403, `${host} is not a worker of this node`);
  if (client.destroyed) return;
  let connected = false;
  const upstream = net.connect({ host, port });
  upstream.setTimeout(timeoutMs, () => upstream.destroy(new Error("connect timeout")));
  upstream.once("error", (err: NodeJS.ErrnoException) => {
    // 502 says the worker refused: a router retries elsewhere as for a refused connection.
    if (!connected) refuse(client, 502, `the worker did not accept: ${err.code ?? err.message}`);
    else client.destroy();
  });
  upstream.once("connect", () => {
    connected = true;
    upstream.setTimeout(0);
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on("close", () => client.destroy());
  client.on("close", () => upstream.destroy());
}

function refuse(
  client: net.Socket,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (client.destroyed) return;
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "content-type: text/plain; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  client.end(`${lines.join("\r\n")}\r\n\r\n${body}`, () => client.destroy());
}

export interface RouterTokenCheckOptions {
  /** The control plane's API, e.g. http://10.0.0.2:7443. */
  apiUrl: string;
  /** How long an accepted token is believed. Default 30 s (a revoked token works that long). */
  acceptedMs?: number;
  /** How long a refused token stays refused. Default 5 s. */
  refusedMs?: number;
}

/**
 * Accepts router (and admin) tokens, as the control plane's WhoAmI says, with a short cache so
 * a connection does not cost a call. Secrets are kept only as long as their verdict, compared
 * in constant time, at most 1000 at once.
 */
export function routerTokenCheck(o: RouterTokenCheckOptions): (secret: string) => Promise<boolean> {
  const cache = new Map<string, { secret: Buffer; ok: boolean; until: number }>();
  const transport = createConnectTransport({ baseUrl: o.apiUrl, httpVersion: "1.1" });
  const admin = createClient(Admin, transport);
  return async (secret) => {
    // Only what looks like a token (`ate_<name>_<64 hex>`) costs the control plane a call.
    if (!/^ate_[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?_[0-9a-f]{64}$/.test(secret)) return false;
    const now = Date.now();
    const key = secret.slice(0, 64); // "ate_<name>_…": the lookup key; the whole is compared
    const hit = cache.get(key);
    const given = Buffer.from(secret);
    if (
      hit &&
      hit.until > now &&
      hit.secret.length === given.length &&
      timingSafeEqual(hit.secret, given)
    )
      return hit.ok;
    let ok: boolean;
    try {
      const who = await admin.whoAmI(
        {},
        { headers: { authorization: `Bearer ${secret}` }, timeoutMs: 5000 },
      );
      ok = who.token?.role === Role.ROUTER || who.token?.role === Role.ADMIN;
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code !== Code.Unauthenticated && code !== Code.PermissionDenied) throw err; // no verdict
      ok = false;
    }
    if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
    cache.set(key, {
      secret: given,
      ok,
      until: now + (ok ? (o.acceptedMs ?? 30_000) : (o.refusedMs ?? 5000)),
    });
    return ok;
  };
}

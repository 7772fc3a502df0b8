import { createHash, timingSafeEqual } from "node:crypto";
import http, { type IncomingMessage, STATUS_CODES } from "node:http";
import net, { type AddressInfo } from "node:net";
import { AteError, Code } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";

/**
 * A node's actor entry point: routers on other hosts reach the actors of this node through it,
 * as an HTTP CONNECT proxy (`CONNECT <worker address>:<port>`), so worker addresses need not be
 * routable, or unique, across the cluster. It forwards only to the addresses of THIS node's
 * workers (the caller says which, asked at each CONNECT; a worker's address holds nothing but
 * its sandbox), by IPv4 literal (no names are resolved), and only for a caller presenting this
 * node's entry token (`Proxy-Authorization: Bearer <token>`, see nodeEntryToken), compared in
 * constant time: no call leaves the node to decide. Anything else is refused before a byte
 * reaches a worker: 407 without a token, 403 with a wrong one or for an address that is not a
 * worker here, 405 for anything but CONNECT, 503 beyond its limits.
 */
export interface EntryProxyOptions {
  /** Where it listens: the node's address (reachable from routers). */
  host: string;
  /** Default 7481; 0 picks a free port. */
  port?: number;
  /** This node's worker addresses now. */
  workerAddresses: () => Promise<Iterable<string>> | Iterable<string>;
  /** This node's entry token (nodeEntryToken of its call secret): the only secret let through. */
  token: string;
  /** Worker ports that may be reached. Default: any (1-65535). */
  allowPort?: (port: number) => boolean;
  /**
   * Time for a caller to send its CONNECT (an idle connection that sends nothing included),
   * and for the worker to accept. Default 10 s.
   */
  timeoutMs?: number;
  /** CONNECTs being checked and tunnels open at once; more are answered 503. Default 4096. */
  maxTunnels?: number;
  /**
   * Connections at once, tunnels included; more are closed unanswered (the kernel's backlog
   * holds them meanwhile). Default maxTunnels + 64, so callers past maxTunnels still hear 503.
   */
  maxConnections?: number;
  logger?: Logger;
}

export interface RunningEntryProxy {
  /** host:port, as a worker ref's `entry`. */
  entry: string;
  /** CONNECTs being checked and tunnels open now. */
  readonly tunnels: number;
  close(): Promise<void>;
}

/** Printable, no spaces: a bearer token; longer is no token of ours. */
const bearer = /^Bearer ([\x21-\x7e]{1,512})$/i;

export async function startEntryProxy(o: EntryProxyOptions): Promise<RunningEntryProxy> {
  if (!/^[\x21-\x7e]{32,512}$/.test(o.token))
    throw new AteError(
      Code.InvalidArgument,
      "entry proxy token: must be 32 to 512 printable characters (the node's entry token)",
    );
  const log = o.logger ?? silentLogger;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const maxTunnels = o.maxTunnels ?? 4096;
  // Compared as digests: equal lengths, so the comparison is constant-time whatever is sent.
  const want = createHash("sha256").update(o.token).digest();
  const sockets = new Set<net.Socket>();
  let tunnels = 0;
  const server = http.createServer({
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    // Timeouts are checked this often (Node's default is every 30 s).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))),
  });
  server.maxConnections = o.maxConnections ?? maxTunnels + 64;
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    // headersTimeout counts from the first byte: a caller that sends nothing is timed here.
    s.setTimeout(timeoutMs, () => s.destroy());
  });
  server.on("request", (_req, res: http.ServerResponse) => {
    res.writeHead(405, {
      allow: "CONNECT",
      connection: "close",
      "content-type": "text/plain; charset=utf-8",
    });
    res.end("this is a node's actor entry point: only CONNECT <worker address>:<port>\n");
  });
  server.on("connect", (req: IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on("error", () => client.destroy());
    if (tunnels >= maxTunnels)
      return refuse(client, 503, `the entry point has ${maxTunnels} tunnels open; retry`, {
        "retry-after": "1",
      });
    tunnels++;
    let counted = true;
    const uncount = () => {
      if (counted) tunnels--;
      counted = false;
    };
    client.once("close", uncount);
    const offered = secretOf(req.headers["proxy-authorization"]);
    void tunnel(o, want, offered, req, client, head, timeoutMs).catch((err) => {
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
    get tunnels() {
      return tunnels;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** The bearer secret of a Proxy-Authorization header; "" when there is none or it is malformed. */
function secretOf(header: string | string[] | undefined): string {
  return typeof header === "string" ? (bearer.exec(header)?.[1] ?? "") : "";
}

async function tunnel(
  o: EntryProxyOptions,
  want: Buffer,
  secret: string,
  req: IncomingMessage,
  client: net.Socket,
  head: Buffer,
  timeoutMs: number,
): Promise<void> {
  if (!secret)
    return refuse(
      client,
      407,
      "present the node's entry token: Proxy-Authorization: Bearer <token>",
      {
        "proxy-authenticate": "Bearer",
      },
    );
  if (!timingSafeEqual(createHash("sha256").update(secret).digest(), want))
    return refuse(
      client,
      403,
      "this is not the node's entry token (the node may have restarted since it was read: read the actor again)",
    );
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
    client.setTimeout(0); // an open tunnel may idle (a router's pooled keep-alive connection)
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

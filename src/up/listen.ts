import http, { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { AteError, Code } from "../errors/index.ts";

/** How long a client may take to send a request. */
export interface RequestTimeouts {
  /** Time to send the request line and headers (from the connection, or the previous request). Default 30 s. */
  headersTimeoutMs?: number;
  /**
   * Time to send the whole request, headers and body. Default 55 s, so a half-sent request is
   * closed within a minute. Only the incoming request is bounded: responses, server-sent
   * events and upgraded connections (WebSocket) last as long as they need.
   */
  requestTimeoutMs?: number;
}

/** Methods an HTTP/1.1 server here may be asked for (for 405 answers to CONNECT). */
const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/**
 * An HTTP/1.1 server on host:port whose close() also ends open connections. Slow clients are
 * answered 408 and disconnected (see RequestTimeouts); CONNECT is answered 405 (nothing here
 * tunnels to arbitrary hosts).
 */
export async function listen(
  addr: { host: string; port: number },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void,
  timeouts: RequestTimeouts = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const requestTimeout = timeouts.requestTimeoutMs ?? 55_000;
  const headersTimeout = Math.min(timeouts.headersTimeoutMs ?? 30_000, requestTimeout);
  const server = http.createServer(
    {
      maxHeaderSize: 32 * 1024,
      headersTimeout,
      requestTimeout,
      // How often requests are checked against the two timeouts (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    handler,
  );
  if (onUpgrade) server.on("upgrade", onUpgrade);
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    const body = "CONNECT is not served here\n";
    socket.end(
      `HTTP/1.1 405 ${STATUS_CODES[405]}\r\nallow: ${allowedMethods}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `host:port` (or `[v6]:port`) from a flag, checked. */
export function parseAddr(addr: string, flag: string): { host: string; port: number } {
  const m = addr.match(/^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(addr)}: expected HOST:PORT, e.g. 127.0.0.1:7443`,
    );
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/**
 * Fails early, naming the flag, when an address cannot be listened on (e.g. already in use).
 * Returns the port: the one given, or for 0 one that was free just now (so a url naming it
 * can be made before the server listens; tests ask for 0).
 */
export async function ensureListenable(
  addr: { host: string; port: number },
  flag: string,
): Promise<number> {
  const probe = net.createServer();
  return new Promise<number>((resolve, reject) => {
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new AteError(
          Code.FailedPrecondition,
          err.code === "EADDRINUSE"
            ? `${flag} ${addr.host}:${addr.port} is in use (another ate up?): stop that one, or choose another address with ${flag}`
            : `${flag} ${addr.host}:${addr.port}: cannot listen there (${err.code ?? err.message})`,
        ),
      ),
    );
    probe.listen(addr.port, addr.host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

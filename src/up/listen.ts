import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { AteError, Code } from "../errors/index.ts";

/** An HTTP/1.1 server on host:port whose close() also ends open connections. */
export async function listen(
  addr: { host: string; port: number },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer({ maxHeaderSize: 32 * 1024 }, handler);
  if (onUpgrade) server.on("upgrade", onUpgrade);
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

/** Fails early, naming the flag, when an address cannot be listened on (e.g. already in use). */
export async function ensureListenable(
  addr: { host: string; port: number },
  flag: string,
): Promise<void> {
  if (addr.port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
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
    probe.listen(addr.port, addr.host, () => probe.close(() => resolve()));
  });
}

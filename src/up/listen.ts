import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

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

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import net from "node:net";

export type Handler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/**
 * One port for both HTTP/2 without TLS (gRPC clients) and HTTP/1.1 (Connect JSON, curl): each
 * connection is handed to the right server by its first bytes (the HTTP/2 preface is "PRI").
 */
export function dualProtocolServer(handler: Handler): {
  server: net.Server;
  h1: http.Server;
  h2: http2.Http2Server;
  sockets: Set<net.Socket>;
} {
  const sockets = new Set<net.Socket>();
  const h1 = http.createServer(handler as (req: IncomingMessage, res: ServerResponse) => void);
  const h2 = http2.createServer(
    handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 3) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      (head.toString("latin1", 0, 3) === "PRI" ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  return { server, h1, h2, sockets };
}

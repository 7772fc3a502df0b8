import http, { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import http2, {
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import net from "node:net";

export type Handler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/** How long clients may take; every slow or silent client is cut off in bounded time. */
export interface ConnectionLimits {
  /**
   * Time to send a request's headers, and, on a new connection, the first bytes (which tell
   * HTTP/1.1 from HTTP/2). Default 30 s.
   */
  headersTimeoutMs?: number;
  /** Time to send a whole request, headers and body (the response may take longer). Default 55 s. */
  requestTimeoutMs?: number;
  /** An HTTP/2 connection with no request open this long is closed. Default 30 s. */
  idleTimeoutMs?: number;
}

/** The defaults: a half-sent request is closed within a minute, checking included. */
export const defaultConnectionLimits: Required<ConnectionLimits> = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 55_000,
  idleTimeoutMs: 30_000,
};

/** Methods the API serves (for 405 answers to CONNECT). */
const allowedMethods = "GET, POST, PUT, DELETE";

/**
 * One port for both HTTP/2 without TLS (gRPC clients) and HTTP/1.1 (Connect JSON, curl): each
 * connection is handed to the right server by its first bytes (the HTTP/2 preface is "PRI").
 * Neither inner server listens itself, so the limits are applied here: the HTTP/1.1 server's
 * header and request timeouts (which Node runs only for a server that emitted "listening"),
 * a deadline for the first bytes, and for HTTP/2 a per-request deadline and an idle timeout.
 * CONNECT is answered 405.
 */
export function dualProtocolServer(
  handler: Handler,
  limits: ConnectionLimits = {},
): {
  server: net.Server;
  h1: http.Server;
  h2: http2.Http2Server;
  sockets: Set<net.Socket>;
} {
  const l = { ...defaultConnectionLimits, ...limits };
  const headersTimeout = Math.min(l.headersTimeoutMs, l.requestTimeoutMs);
  const refuseConnect: Handler = (req, res) => {
    if (req.method !== "CONNECT") return handler(req, res);
    res.writeHead(405, { allow: allowedMethods, "content-type": "text/plain; charset=utf-8" });
    res.end("CONNECT is not served here\n");
  };
  const h1 = http.createServer(
    {
      headersTimeout,
      requestTimeout: l.requestTimeoutMs,
      // How often requests are checked against the two timeouts (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    refuseConnect as (req: IncomingMessage, res: ServerResponse) => void,
  );
  h1.on("connect", (_req: IncomingMessage, socket: net.Socket) => {
    const body = "CONNECT is not served here\n";
    socket.end(
      `HTTP/1.1 405 ${STATUS_CODES[405]}\r\nallow: ${allowedMethods}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  const h2 = http2.createServer(
    refuseConnect as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  h2.on("session", (session: ServerHttp2Session) => limitSession(session, l));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // A client that never says which protocol it speaks is not kept.
    const silent = setTimeout(() => socket.destroy(), headersTimeout);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 3) return;
      clearTimeout(silent);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      (head.toString("latin1", 0, 3) === "PRI" ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    };
    socket.on("data", onData);
    socket.on("close", () => clearTimeout(silent));
  });
  // Node checks HTTP/1.1 requests against headersTimeout/requestTimeout only from a server's
  // "listening" event on: the inner server never listens, so it hears of it from the outer one.
  server.on("listening", () => h1.emit("listening"));
  server.on("close", () => {
    h1.close();
    h2.close();
  });
  return { server, h1, h2, sockets };
}

/**
 * HTTP/2: each request must be sent whole (headers and body) within requestTimeoutMs, or its
 * stream is reset; a session with no stream open for idleTimeoutMs is closed.
 */
function limitSession(session: ServerHttp2Session, l: Required<ConnectionLimits>): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    idle = setTimeout(() => {
      session.close();
      // A client that ignores GOAWAY (or is sending a request's headers still) is cut off.
      setTimeout(() => session.destroy(), 1000).unref();
    }, l.idleTimeoutMs);
    idle.unref();
  };
  armIdle();
  session.on("stream", (stream: ServerHttp2Stream) => {
    open++;
    clearTimeout(idle);
    const deadline = setTimeout(() => {
      if (!sentWhole(stream)) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, l.requestTimeoutMs);
    deadline.unref();
    stream.on("close", () => {
      clearTimeout(deadline);
      if (--open === 0 && !session.destroyed && !session.closed) armIdle();
    });
  });
  session.on("close", () => clearTimeout(idle));
}

/** The client finished sending the request (END_STREAM received). */
function sentWhole(stream: ServerHttp2Stream): boolean {
  const state = stream.state?.state;
  return (
    stream.endAfterHeaders ||
    state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE ||
    state === http2.constants.NGHTTP2_STREAM_STATE_CLOSED
  );
}

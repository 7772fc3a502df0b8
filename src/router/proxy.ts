import http, { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { beforeSending, type Upstream } from "./entry-connect.ts";

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1). */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
]);

/**
 * One forwarding attempt of an HTTP request to an actor. The request body is only read once
 * the connection stands, so a refused connection ("refused", the entry point's refusal of a
 * stale token included) can be retried elsewhere.
 */
export function proxyRequest(
  agent: http.Agent,
  target: Upstream,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  /** Told why an attempt did not get an answer (the upstream's error), for the logs. */
  onError?: (err: NodeJS.ErrnoException, how: { connected: boolean; reused: boolean }) => void,
): Promise<"done" | "refused" | "failed"> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers))
      if (!hopByHop.has(k) && v !== undefined) headers[k] = v;
    const remote = req.socket.remoteAddress ?? "";
    headers["x-forwarded-for"] = req.headers["x-forwarded-for"]
      ? `${req.headers["x-forwarded-for"]}, ${remote}`
      : remote;
    headers["x-forwarded-host"] = req.headers.host ?? "";
    headers["x-forwarded-proto"] = "http";
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path,
      headers,
      agent,
    });
    let connected = false;
    upstream.on("socket", (socket) => {
      const go = () => {
        connected = true;
        req.pipe(upstream);
      };
      if ((socket as Socket).connecting) socket.once("connect", go);
      else go();
    });
    upstream.on("response", (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers))
        if (!hopByHop.has(k) && v !== undefined) out[k] = v;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      up.pipe(res);
      up.on("end", () => resolve("done"));
      up.on("error", () => {
        res.destroy();
        resolve("done");
      });
    });
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      onError?.(err, { connected, reused: upstream.reusedSocket });
      if (!connected && beforeSending.has(err.code ?? "")) return resolve("refused");
      if (res.headersSent) res.destroy();
      resolve(res.headersSent ? "done" : "failed");
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
}

/**
 * A whole HTTP/1.1 response for a raw socket (upgrades and CONNECT have no ServerResponse):
 * the status line with its standard reason phrase, then `message` as text, then close.
 */
export function rawResponse(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): string {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}`,
    "content-type: text/plain; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** Answers on a raw socket and closes it once the answer is out (even if the peer never closes). */
export function endWith(
  socket: Socket,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  socket.end(rawResponse(status, message, headers), () => socket.destroy());
}

/**
 * An upgraded connection (WebSocket and the like) passed through byte for byte: the request
 * line and headers are replayed to the actor on the socket `connect` opens (directly, or
 * through its node's entry point), then both sockets are piped until either ends. When the
 * actor cannot be reached the client gets a 502.
 */
export function tunnelUpgrade(
  connect: (done: (err: Error | null, socket?: Socket) => void) => void,
  path: string,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  on: { opened: () => void; failed: () => void; closed: () => void },
): void {
  let closed = false;
  let upstream: Socket | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    upstream?.destroy();
    client.destroy();
    on.closed();
  };
  client.on("error", close);
  client.on("close", close);
  connect((err, socket) => {
    if (err || !socket) {
      if (closed) return;
      closed = true;
      on.failed();
      endWith(client, 502, "the actor did not answer");
      on.closed();
      return;
    }
    if (closed) return void socket.destroy();
    upstream = socket;
    const lines = [`${req.method} ${path} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(client);
    client.pipe(socket);
    socket.on("error", close);
    socket.on("close", close);
    on.opened();
  });
}

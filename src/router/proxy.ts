import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net, { type Socket } from "node:net";

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

export interface Upstream {
  host: string;
  port: number;
}

/**
 * One forwarding attempt of an HTTP request to an actor. The request body is only read once
 * the connection stands, so a refused connection ("refused") can be retried elsewhere.
 */
export function proxyRequest(
  agent: http.Agent,
  target: Upstream,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
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
      if (
        !connected &&
        ["ECONNREFUSED", "EHOSTUNREACH", "ECONNRESET", "ETIMEDOUT"].includes(err.code ?? "")
      )
        return resolve("refused");
      if (res.headersSent) res.destroy();
      resolve(res.headersSent ? "done" : "failed");
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
}

/**
 * An upgraded connection (WebSocket and the like) passed through byte for byte: the request
 * line and headers are replayed to the actor, then both sockets are piped until either ends.
 */
export function tunnelUpgrade(
  target: Upstream,
  path: string,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  on: { opened: () => void; closed: () => void },
): void {
  const upstream = net.connect(target.port, target.host, () => {
    const lines = [`${req.method} ${path} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
    on.opened();
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    client.destroy();
    on.closed();
  };
  upstream.on("error", close);
  client.on("error", close);
  upstream.on("close", close);
  client.on("close", close);
}

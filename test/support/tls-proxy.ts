// A TLS proxy in front of an ate API, as docs/security.md tells operators to put one: https on
// loopback with a certificate a CA made here with openssl signs, every request passed on to
// the plain-HTTP API as it came (streams too: watches), and the authorization scheme of each
// remembered so a test can see what a client sent.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestCertificates } from "./test-certificates.ts";

export interface TlsProxy {
  /** e.g. https://127.0.0.1:4443 */
  url: string;
  /** The CA that signed the proxy's certificate (PEM file). */
  caFile: string;
  /** `Bearer`, `Basic`, or `none`, per request, in order. */
  schemes: string[];
  close(): Promise<void>;
}

export async function startTlsProxy(target: string): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), "ate-tls-proxy-"));
  makeTestCertificates(dir);
  const schemes: string[] = [];
  const to = new URL(target);
  const server = createServer(
    { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")) },
    (req, res) => {
      schemes.push(req.headers.authorization?.split(" ")[0] ?? "none");
      const upstream = request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: to.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      res.on("close", () => upstream.destroy());
      req.pipe(upstream);
    },
  );
  const sockets = new Set<{ destroy(): void; on(e: "close", f: () => void): unknown }>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caFile: join(dir, "ca.pem"),
    schemes,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        for (const s of sockets) s.destroy();
      }),
  };
}

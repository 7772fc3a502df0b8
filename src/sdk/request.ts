// How the SDK reaches an ate server or router: node:http(s) with the caller's TLS settings.
// Not the fetch API: Node's fetch cannot take a CA bundle per call without undici (not a
// dependency), and loading it costs the CLI ≈50 ms at start (unary-client.ts says more).
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";

/** TLS settings for an https server or router; ignored over plain http. */
export interface TlsOptions {
  /**
   * CA certificates (PEM) trusted besides Node's own roots, as the CLI trusts
   * $NODE_EXTRA_CA_CERTS: e.g. `readFileSync("/etc/ate/ca.pem")`.
   */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** false: accept any server certificate (tests only). Default true. */
  rejectUnauthorized?: boolean;
}

export interface RequestOptions {
  method: string;
  headers: OutgoingHttpHeaders;
  body?: Uint8Array | undefined;
  signal?: AbortSignal | undefined;
  tls?: TlsOptions | undefined;
}

/** The options https.request takes for `tls` (none when nothing is set). */
async function tlsRequestOptions(tls: TlsOptions | undefined): Promise<Record<string, unknown>> {
  if (!tls) return {};
  const out: Record<string, unknown> = {};
  if (tls.ca !== undefined) {
    // Added to Node's roots, not instead of them (https.request's `ca` replaces them).
    const { rootCertificates } = await import("node:tls");
    out.ca = [...rootCertificates, ...(Array.isArray(tls.ca) ? tls.ca : [tls.ca])];
  }
  if (tls.rejectUnauthorized === false) out.rejectUnauthorized = false;
  return out;
}

/**
 * Sends one request and resolves with the reply's head (its body still to read). Rejects with
 * node's error; an aborted `signal` rejects with an AbortError and ends a body being read.
 */
export async function request(url: string, o: RequestOptions): Promise<IncomingMessage> {
  o.signal?.throwIfAborted();
  const https = url.startsWith("https:");
  const { request: send } = https ? await import("node:https") : await import("node:http");
  const extra = https ? await tlsRequestOptions(o.tls) : {};
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(
      url,
      { method: o.method, headers: o.headers, ...(o.signal ? { signal: o.signal } : {}), ...extra },
      resolve,
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

/** The whole body of a reply. */
export async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

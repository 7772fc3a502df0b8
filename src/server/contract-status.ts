import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { codeFromName, httpStatus } from "../errors/index.ts";
import type { Handler } from "../http/index.ts";

type Callback = (err?: Error | null) => void;

/**
 * Connect answers unary errors with its own HTTP statuses (failed_precondition → 400); the
 * Control API contract maps codes to HTTP for routers and Connect clients (failed_precondition
 * → 503, message kept). Clients read the code from the JSON body either way; this only
 * rewrites the status of Connect error responses (HTTP/1.1 and HTTP/2; gRPC answers 200 and
 * carries its status in trailers). A rewritten status gets its own standard reason phrase.
 */
export function withContractStatuses(handler: Handler): Handler {
  return (req, res) => {
    if (!(req.url ?? "").startsWith("/ateapi.") || isGrpc(req)) return handler(req, res);
    const r = res as ServerResponse<IncomingMessage> & Http2ServerResponse;
    const writeHead = r.writeHead.bind(r) as (status: number, ...rest: unknown[]) => unknown;
    const end = r.end.bind(r) as (...args: unknown[]) => unknown;
    const write = r.write.bind(r) as (...args: unknown[]) => boolean;
    let pending: { status: number; message?: string; headers: unknown } | undefined;
    const body: Buffer[] = [];
    const hold = (chunk: unknown, encoding: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === "function") return;
      body.push(
        typeof chunk === "string"
          ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
          : Buffer.from(chunk as Uint8Array),
      );
    };
    r.writeHead = ((status: number, ...rest: unknown[]) => {
      if (status < 400) return writeHead(status, ...rest);
      const message = typeof rest[0] === "string" ? rest[0] : undefined;
      const headers = rest.find((x) => typeof x === "object" && x !== null);
      pending = { status, ...(message !== undefined ? { message } : {}), headers };
      return r;
    }) as typeof r.writeHead;
    r.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (!pending) return write(chunk, ...rest);
      hold(chunk, rest[0]);
      const cb = rest.find((x) => typeof x === "function") as Callback | undefined;
      if (cb) process.nextTick(cb);
      return true;
    }) as typeof r.write;
    r.end = ((chunk?: unknown, ...rest: unknown[]) => {
      const callbacks = [chunk, ...rest].filter((x) => typeof x === "function");
      // An error set through statusCode (no writeHead) and ended at once is rewritten too.
      if (!pending && !r.headersSent && r.statusCode >= 400)
        pending = {
          status: r.statusCode,
          ...(req.httpVersionMajor === 1 && r.statusMessage ? { message: r.statusMessage } : {}),
          headers: undefined,
        };
      if (!pending) return end(chunk, ...rest);
      hold(chunk, rest[0]);
      const text = Buffer.concat(body);
      const contract = contractStatus(text);
      const status = contract ?? pending.status;
      // Connect's reason phrase belongs to Connect's status: a rewritten one gets its own.
      const message =
        contract === undefined || contract === pending.status ? pending.message : undefined;
      const args: unknown[] = [status];
      if (message !== undefined && req.httpVersionMajor === 1) args.push(message);
      if (pending.headers !== undefined) args.push(pending.headers);
      pending = undefined;
      if (r.headersSent) return end(text, ...callbacks);
      // Node then uses the status's standard phrase (not one set for Connect's status).
      if (message === undefined && req.httpVersionMajor === 1) r.statusMessage = "";
      writeHead(...(args as [number, ...unknown[]]));
      return end(text, ...callbacks);
    }) as typeof r.end;
    return handler(req, res);
  };
}

/** The contract's status for a Connect error body, if it is one. */
function contractStatus(body: Buffer): number | undefined {
  try {
    const code = codeFromName((JSON.parse(body.toString()) as { code?: unknown }).code as string);
    return code === undefined ? undefined : httpStatus(code);
  } catch {
    return undefined; // not a Connect error body: Connect's status stays
  }
}

function isGrpc(req: IncomingMessage | Http2ServerRequest): boolean {
  return /^application\/grpc/i.test(String(req.headers["content-type"] ?? ""));
}

import type { IncomingMessage, ServerResponse } from "node:http";
import { codeFromName, httpStatus } from "../errors/index.ts";
import type { Handler } from "./dual-protocol.ts";

/**
 * Connect answers unary errors with its own HTTP statuses (failed_precondition → 400); the
 * Control API contract maps codes to HTTP for routers and Connect clients (failed_precondition
 * → 503, message kept). Clients read the code from the JSON body either way; this only
 * rewrites the status line of Connect JSON error responses.
 */
export function withContractStatuses(handler: Handler): Handler {
  return (req, res) => {
    if (!(req.url ?? "").startsWith("/ateapi.") || req.httpVersionMajor !== 1)
      return handler(req, res);
    const r = res as ServerResponse<IncomingMessage>;
    const writeHead = r.writeHead.bind(r);
    const end = r.end.bind(r);
    const write = r.write.bind(r);
    let pending: { status: number; headers: unknown } | undefined;
    const body: Buffer[] = [];
    r.writeHead = ((status: number, ...rest: unknown[]) => {
      if (status < 400) return writeHead(status, ...(rest as []));
      pending = { status, headers: rest[rest.length - 1] };
      return r;
    }) as typeof r.writeHead;
    r.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (!pending) return write(chunk as never, ...(rest as []));
      body.push(Buffer.from(chunk as Uint8Array));
      (rest.find((x) => typeof x === "function") as (() => void) | undefined)?.();
      return true;
    }) as typeof r.write;
    r.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (pending) {
        if (chunk && typeof chunk !== "function") body.push(Buffer.from(chunk as Uint8Array));
        let status = pending.status;
        try {
          const code = codeFromName(
            (JSON.parse(Buffer.concat(body).toString()) as { code?: string }).code ?? "",
          );
          if (code !== undefined) status = httpStatus(code);
        } catch {
          // not a Connect error body: keep Connect's status
        }
        writeHead(status, pending.headers as never);
        pending = undefined;
        return end(Buffer.concat(body), ...(rest.filter((x) => typeof x === "function") as []));
      }
      return end(chunk as never, ...(rest as []));
    }) as typeof r.end;
    return handler(req, res);
  };
}

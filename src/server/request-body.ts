import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { AteError, Code } from "../errors/index.ts";

/** Largest request body the API reads (REST, and Connect/gRPC after decompression). */
export const maxBodyBytes = 4 * 1024 * 1024;

/** Deepest JSON nesting the API accepts: far beyond any resource, far below a stack overflow. */
export const maxJsonDepth = 64;

/** A body over the limit: HTTP 413 (RESOURCE_EXHAUSTED), and the connection is not reused. */
export class PayloadTooLarge extends AteError {
  constructor() {
    super(
      Code.ResourceExhausted,
      `request body is larger than ${maxBodyBytes / 1024 / 1024} MiB: send a smaller object`,
    );
  }
}

/**
 * Reads a JSON body: refused at once when its content-length is over the limit, or as soon as
 * the bytes read pass it (the rest is never buffered); its nesting is measured before
 * JSON.parse, so nothing recursive ever sees a deeper value.
 */
export async function readJsonBody(req: IncomingMessage | Http2ServerRequest): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBodyBytes) throw new PayloadTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxBodyBytes) throw new PayloadTooLarge();
    chunks.push(c);
  }
  const body = Buffer.concat(chunks);
  checkJsonDepth(body, maxJsonDepth);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new AteError(Code.InvalidArgument, "request body is not JSON: send a JSON object");
  }
}

/** Throws when brackets outside strings nest deeper than `max` (one pass, no recursion). */
export function checkJsonDepth(text: Uint8Array, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max)
        throw new AteError(
          Code.InvalidArgument,
          `request body nests deeper than ${max} levels: flatten it`,
        );
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

// A client of an ate server's Connect services (the SDK's and the CLI's): unary calls in
// Connect's binary protocol over node:http(s), as the Connect client (src/cli/control-client.ts)
// makes them, without loading it. Connect's client needs the fetch API's Headers, and Node loads its whole fetch
// implementation (undici) for that: ≈50 ms, more than the rest of `ate get actors`. A reply
// that is not a plain success (an error, a content type or encoding the fast path does not
// read) and a failed request are turned into errors by Connect's own code, loaded then, so
// every error is the one the Connect client gives.

import type { IncomingHttpHeaders } from "node:http";
import {
  create,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { CallOptions, Client } from "@connectrpc/connect";
import { AteError, type Code } from "../errors/index.ts";
import { fromCallError } from "./call-error.ts";
import { readBody, request, type TlsOptions } from "./request.ts";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** POSTs `body` and collects the reply; rejects as the Connect client's transport does. */
async function post(
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
  signal: AbortSignal | undefined,
  tls: TlsOptions | undefined,
): Promise<Reply> {
  try {
    const res = await request(url, { method: "POST", headers, body, signal, tls });
    return { status: res.statusCode ?? 0, headers: res.headers, body: await readBody(res) };
  } catch (err) {
    throw await connectErrorFromNodeReason(err);
  }
}

/** @connectrpc/connect-node's mapping of a failed request to a ConnectError (not exported). */
async function connectErrorFromNodeReason(reason: unknown): Promise<Error> {
  const { Code: C, ConnectError } = await import("@connectrpc/connect");
  const chain: Error[] = [];
  for (
    let r = reason;
    r instanceof Error && !chain.includes(r);
    r = (r as { cause?: unknown }).cause
  )
    chain.push(r);
  const codes = chain.map((e) => (e as { code?: unknown }).code);
  let code = C.Internal;
  if (codes.includes("ERR_STREAM_WRITE_AFTER_END")) code = C.Aborted;
  else if (
    codes.some(
      (c) => c === "ERR_STREAM_DESTROYED" || c === "ERR_HTTP2_INVALID_STREAM" || c === "ECONNRESET",
    )
  )
    code = C.Aborted;
  else if (
    codes.some(
      (c) => c === "ETIMEDOUT" || c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "ECONNREFUSED",
    )
  )
    code = C.Unavailable;
  const ce = ConnectError.from(reason, code);
  if (ce !== reason) ce.cause = reason;
  return ce;
}

/** The error Connect's client makes of a reply that is not a plain success. */
async function replyError(reply: Reply): Promise<Error> {
  const { appendHeaders } = await import("@connectrpc/connect");
  const { errorFromJsonBytes, trailerDemux, validateResponseWithCompression } = await import(
    "@connectrpc/connect/protocol-connect"
  );
  const headers = new Headers();
  for (const [k, v] of Object.entries(reply.headers)) {
    if (k.startsWith(":") || v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  try {
    const { isUnaryError, unaryError } = validateResponseWithCompression(
      "unary",
      [],
      true,
      reply.status,
      headers,
    );
    const [header, trailer] = trailerDemux(headers);
    if (isUnaryError)
      return errorFromJsonBytes(reply.body, appendHeaders(header, trailer), unaryError);
    // A success with an encoding it asked for none of: validation threw already.
    return new Error(`unexpected reply: HTTP ${reply.status}`);
  } catch (err) {
    return err as Error;
  }
}

/** One unary call: the request as the Connect client sends it (binary), the reply read. */
async function call(
  server: string,
  token: string | undefined,
  method: DescMethodUnary,
  input: unknown,
  signal: AbortSignal | undefined,
  tls: TlsOptions | undefined,
): Promise<unknown> {
  const message = create(method.input, input as MessageInitShape<DescMethodUnary["input"]>);
  const headers: Record<string, string> = {
    "content-type": "application/proto",
    "connect-protocol-version": "1",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const url = `${server.replace(/\/$/, "")}/${method.parent.typeName}/${method.name}`;
  const reply = await post(url, headers, toBinary(method.input, message), signal, tls);
  const encoding = reply.headers["content-encoding"];
  if (
    reply.status !== 200 ||
    reply.headers["content-type"] !== "application/proto" ||
    (encoding !== undefined && encoding.toLowerCase() !== "identity")
  )
    throw await replyError(reply);
  return fromBinary(method.output, reply.body);
}

/**
 * A client of `service` at `server`: its unary methods (the only ones the SDK and the CLI
 * call), each taking Connect's call options' `signal`. Errors come back as AteErrors, as
 * src/cli/control-client.ts gives them; a call whose signal aborted fails as Canceled.
 */
export function unaryClient<S extends DescService>(
  service: S,
  server: string,
  token: string | undefined,
  tls?: TlsOptions,
): Client<S> {
  const client: Record<string, (input: unknown, options?: CallOptions) => Promise<unknown>> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const unary = method as DescMethodUnary;
    client[method.localName] = async (input, options) => {
      const signal = options?.signal;
      try {
        return await call(server, token, unary, input, signal, tls);
      } catch (err) {
        // As control-client.ts: a Connect error keeps its code and the server's message.
        const { ConnectError } = await import("@connectrpc/connect");
        throw fromCallError(
          err,
          server,
          (e) =>
            e instanceof ConnectError
              ? new AteError(e.code as unknown as Code, e.rawMessage, [], { cause: e })
              : AteError.from(e),
          signal,
        );
      }
    };
  }
  return client as unknown as Client<S>;
}

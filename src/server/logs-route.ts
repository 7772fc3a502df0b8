import { authorizeActorLogs } from "../auth/index.ts";
import type { ControlPlane } from "../controlplane/index.ts";
import { AteError, Code } from "../errors/index.ts";
import {
  decodeSegments,
  type Req,
  type RequestAccess,
  type Res,
  sendError,
} from "./resource-routes.ts";

/** `GET /ate/v1/atespaces/{atespace}/actors/{id}/logs[?follow=true]`: the actor's output as text. */
export const logsPath = /^\/ate\/v1\/atespaces\/([^/]+)\/actors\/([^/]+)\/logs$/;

export async function handleLogs(
  cp: ControlPlane,
  access: RequestAccess,
  match: RegExpMatchArray,
  query: URLSearchParams,
  req: Req,
  res: Res,
): Promise<void> {
  const ac = new AbortController();
  res.on("close", () => ac.abort());
  const signal = AbortSignal.any([ac.signal, access.revoked]);
  // Output is waiting for a client that does not read it.
  let stalled = false;
  try {
    const [atespace = "", name = ""] = decodeSegments(`${match[1]}/${match[2]}`);
    const ref = { atespace, name };
    if (req.method !== "GET")
      throw new AteError(Code.InvalidArgument, `${req.method} is not supported on logs: use GET`);
    const follow = query.get("follow");
    if (follow !== null && follow !== "true" && follow !== "false")
      throw new AteError(
        Code.InvalidArgument,
        `follow: Invalid value: "${follow}": use true or false`,
      );
    authorizeActorLogs(access.principal, ref);
    // Errors (no such actor, bad id) as a status before any output.
    await cp.getActor(ref);
    res.writeHead(200, {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
    });
    for await (const chunk of cp.actorLogs(ref, { follow: follow === "true", signal })) {
      if (res.write(chunk)) continue;
      stalled = true;
      await drained(res, signal);
      stalled = false;
    }
    res.end();
  } catch (err) {
    if (ac.signal.aborted) return;
    if (res.headersSent) {
      // A reader that stopped reading gets no orderly end (it would wait behind the very
      // bytes it does not read): its stream is reset, as on any other failure.
      if (signal.aborted && !stalled) res.end();
      else res.destroy(err as Error);
    } else sendError(res, err, req);
  }
}

/**
 * Until the response takes more output, or the signal aborts (the client went away, or its
 * token was revoked): a client that stops reading never holds the handler forever.
 */
function drained(res: Res, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(signal.reason);
      else resolve();
    };
    if (signal.aborted) return done();
    res.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

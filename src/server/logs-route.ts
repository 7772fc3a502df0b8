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
      if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  } catch (err) {
    if (ac.signal.aborted) return;
    if (res.headersSent) {
      if (signal.aborted) res.end();
      else res.destroy(err as Error);
    } else sendError(res, err, req);
  }
}

// The documents a Kubernetes client reads before it touches a resource: discovery (/api,
// /apis, each group version's resource list) and the OpenAPI schema. Any authenticated caller
// but an actor's own token may read them (src/auth's authorizeApiDiscovery), as on a
// Kubernetes API server: they say what exists, never what is stored.
import { discoveryDocument } from "./discovery.ts";
import type { Req, Res } from "./http-types.ts";
import { openApiV2 } from "./openapi.ts";
import { openApiProtoAnswerType, openApiProtoTypes, openApiV2Proto } from "./openapi-proto.ts";

/** Whether `pathname` is one of these documents (then `serveKubeDocument` answers it). */
export function isKubeDocumentPath(pathname: string): boolean {
  return pathname === "/openapi/v2" || discoveryDocument(pathname) !== undefined;
}

function sendBody(res: Res, type: string, body: string | Uint8Array): void {
  res.writeHead(200, {
    "content-type": type,
    "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
  });
  res.end(body);
}

/** Answers a path `isKubeDocumentPath` accepted. */
export function serveKubeDocument(pathname: string, req: Req, res: Res): void {
  if (pathname === "/openapi/v2") {
    // kubectl 1.20 asks for protobuf only; JSON for everyone else (curl, kubectl proxies).
    const accept = req.headers.accept ?? "";
    if (openApiProtoTypes.some((t) => accept.includes(t)))
      sendBody(res, openApiProtoAnswerType, openApiV2Proto());
    else sendBody(res, "application/json", JSON.stringify(openApiV2()));
    return;
  }
  // Plain application/json: kubectl 1.32, which first asks for aggregated discovery, falls
  // back to these documents when the answer's content-type says so.
  sendBody(res, "application/json", JSON.stringify(discoveryDocument(pathname)));
}

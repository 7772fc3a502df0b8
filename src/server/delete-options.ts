// The body of a DELETE, as Kubernetes clients send it: meta/v1 DeleteOptions. `kubectl delete
// --dry-run=server` says so only here (`dryRun: ["All"]`), and a precondition on the version
// (`preconditions.resourceVersion`) must hold or nothing is deleted. Propagation and grace
// periods mean nothing to ate (no dependents, nothing to drain) and are accepted as is.
import { AteError, Code } from "../errors/index.ts";
import type { Req } from "./http-types.ts";
import { maxBodyBytes, PayloadTooLarge, readJsonBody } from "./request-body.ts";

export interface DeleteOptions {
  dryRun: boolean;
  resourceVersion?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The request's DeleteOptions; no body is none. A body that is not DeleteOptions is a 400. */
export async function readDeleteOptions(req: Req): Promise<DeleteOptions> {
  const length = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (!chunked && (length === undefined || length === "0")) return { dryRun: false };
  if (Number(length) > maxBodyBytes) throw new PayloadTooLarge();
  const body = await readJsonBody(req);
  if (!isObject(body))
    throw new AteError(
      Code.InvalidArgument,
      "DELETE body is not a JSON object: send DeleteOptions or nothing",
    );
  const dryRun = body.dryRun;
  if (dryRun !== undefined && (!Array.isArray(dryRun) || dryRun.some((d) => d !== "All")))
    throw new AteError(
      Code.InvalidArgument,
      `dryRun: ${JSON.stringify(dryRun).slice(0, 100)} is not supported: send ["All"] or nothing`,
    );
  const pre = body.preconditions;
  if (pre !== undefined && pre !== null && !isObject(pre))
    throw new AteError(Code.InvalidArgument, "preconditions: expected an object");
  const rv = isObject(pre) ? pre.resourceVersion : undefined;
  if (rv !== undefined && rv !== null && typeof rv !== "string")
    throw new AteError(Code.InvalidArgument, "preconditions.resourceVersion: expected a string");
  return {
    dryRun: Array.isArray(dryRun) && dryRun.length > 0,
    ...(rv ? { resourceVersion: rv } : {}),
  };
}

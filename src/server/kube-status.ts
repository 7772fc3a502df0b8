// Errors as Kubernetes clients read them. client-go decodes a failed response's body as a
// meta/v1 Status; anything else becomes "unknown" with only the HTTP code. ate's own clients
// read ate's error body ({code: "not_found", message, details}), whose `code` clashes with
// Status's numeric one, so each client gets its own shape.
import type { IncomingHttpHeaders } from "node:http";
import { type AteError, Code } from "../errors/index.ts";

// Whether the request comes from a Kubernetes client: client-go's default User-Agent ends in
// `kubernetes/<commit>`, and it asks for `application/json, */*` or a Table. ate's CLI, its
// SDK, curl and fetch send none of these.
export function isKubeClient(headers: IncomingHttpHeaders): boolean {
  const agent = headers["user-agent"] ?? "";
  const accept = headers.accept ?? "";
  return / kubernetes\//.test(agent) || accept.includes(", */*") || accept.includes("as=Table");
}

const reasons: Partial<Record<Code, [number, string]>> = {
  [Code.NotFound]: [404, "NotFound"],
  [Code.AlreadyExists]: [409, "AlreadyExists"],
  [Code.Aborted]: [409, "Conflict"],
  [Code.PermissionDenied]: [403, "Forbidden"],
  [Code.Unauthenticated]: [401, "Unauthorized"],
  [Code.ResourceExhausted]: [429, "TooManyRequests"],
  [Code.Unimplemented]: [405, "MethodNotAllowed"],
  [Code.FailedPrecondition]: [503, "ServiceUnavailable"],
  [Code.Unavailable]: [503, "ServiceUnavailable"],
  [Code.DeadlineExceeded]: [504, "Timeout"],
  // A watch from a version the store no longer has: client-go lists again on 410.
  [Code.OutOfRange]: [410, "Expired"],
};

/** What a resource error is about, for Status.details (kubectl prints `kind "name"`). */
export interface StatusSubject {
  kind?: string;
  group?: string;
  name?: string;
}

/** One field error as the store words it: `WorkerPool "x" is invalid: spec.replicas: Invalid value: ...`. */
const fieldErrorLine = /^(\S+) "([^"]*)" is invalid: ([A-Za-z0-9_.[\]-]+): (.*)$/s;

/**
 * An invalid object's field errors as Status causes, with its kind and name; undefined unless
 * every detail names a field (a decoding error, which names none, is a plain 400).
 */
function invalidObject(e: AteError) {
  if (e.code !== Code.InvalidArgument || !e.details.length) return undefined;
  const lines = e.details.map((d) => fieldErrorLine.exec(d));
  if (lines.some((m) => !m)) return undefined;
  const [, kind, name] = lines[0] as RegExpExecArray;
  const causes = (lines as RegExpExecArray[]).map(([, , , field, message]) => ({
    reason: "FieldValueInvalid",
    field,
    message,
  }));
  return { kind, name, causes };
}

/**
 * The meta/v1 Status of an error. An invalid object (field errors) is 422 Invalid, which
 * kubectl prints as `The WorkerPool "x" is invalid: [spec.replicas: ...]`; other bad requests 400.
 */
export function kubeStatus(
  e: AteError,
  subject: StatusSubject = {},
  httpOverride?: number,
): { status: number; body: Record<string, unknown> } {
  let [status, reason] = reasons[e.code] ?? [500, "InternalError"];
  const invalid = invalidObject(e);
  if (e.code === Code.InvalidArgument)
    [status, reason] = invalid ? [422, "Invalid"] : [400, "BadRequest"];
  if (httpOverride === 413) [status, reason] = [413, "RequestEntityTooLarge"];
  if (httpOverride === 415) [status, reason] = [415, "UnsupportedMediaType"];
  const extra = e.details.filter((d) => !e.message.includes(d));
  const message = extra.length ? `${e.message}: ${extra.join("; ")}` : e.message;
  if (invalid) subject = { ...subject, kind: invalid.kind as string, name: invalid.name as string };
  return {
    status,
    body: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      details: {
        ...(subject.name ? { name: subject.name } : {}),
        ...(subject.group !== undefined ? { group: subject.group } : {}),
        ...(subject.kind ? { kind: subject.kind } : {}),
        ...(invalid ? { causes: invalid.causes } : {}),
      },
      code: status,
    },
  };
}

/**
 * gRPC status codes (the numbers are the wire values). One `Code` travels with every
 * `AteError`, so each transport maps it the same way: gRPC as is, HTTP via `httpStatus`.
 */
export enum Code {
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** HTTP statuses of the Control API contract (router and Connect clients); others → 500. */
const httpStatusByCode: Partial<Record<Code, number>> = {
  [Code.NotFound]: 404,
  [Code.FailedPrecondition]: 503,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
  [Code.PermissionDenied]: 403,
  [Code.Unauthenticated]: 401,
  [Code.ResourceExhausted]: 429,
  [Code.InvalidArgument]: 400,
  [Code.AlreadyExists]: 409,
  [Code.Aborted]: 409,
};

/** The HTTP status a code maps to. */
export function httpStatus(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}

/** snake_case name as Connect puts it on the wire, e.g. `invalid_argument`. */
export function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}

const codesByName = new Map<string, Code>(
  Object.values(Code)
    .filter((v): v is Code => typeof v === "number")
    .map((c) => [codeName(c), c]),
);

/** The code a wire name (`failed_precondition`) stands for. */
export function codeFromName(name: string): Code | undefined {
  return codesByName.get(name);
}

/**
 * Field errors worded exactly as Kubernetes words them (k8s.io/apimachinery field.Error), so
 * users of Agent Substrate see the messages they already know, e.g.
 * `spec.containers[0].name: Too long: may not be more than 63 bytes`.
 */
export type FieldErrorType =
  | "Required value"
  | "Invalid value"
  | "Unsupported value"
  | "Too many"
  | "Too long"
  | "Forbidden"
  | "Duplicate value";

export interface FieldError {
  type: FieldErrorType;
  /** Dotted path with list indices, e.g. `spec.containers[0].name`; "" for the object. */
  path: string;
  /** The offending value, quoted Kubernetes-style when printed; undefined when omitted. */
  value?: unknown;
  detail?: string;
  /** Type errors and unsupported enum values stop CEL rules from running (as in Kubernetes). */
  blocking?: boolean;
}

export function formatFieldError(e: FieldError): string {
  const prefix = e.path ? `${e.path}: ` : "";
  switch (e.type) {
    case "Required value":
    case "Forbidden":
      return `${prefix}${e.type}${e.detail ? `: ${e.detail}` : ""}`;
    case "Too many":
    case "Too long":
      return `${prefix}${e.type}: ${e.detail}`;
    case "Unsupported value":
      return `${prefix}${e.type}: ${quote(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
    default: {
      const value = e.value === undefined ? "" : `${quote(e.value)}`;
      const parts = [value, e.detail].filter((p) => p !== "");
      return `${prefix}${e.type}${parts.length ? `: ${parts.join(": ")}` : ""}`;
    }
  }
}

/** Values print like Go's %#v for the common cases: strings quoted, others as JSON. */
export function quote(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (v === null) return "null";
  return JSON.stringify(v);
}

export const fieldErrors = {
  required: (path: string, detail?: string): FieldError => ({
    type: "Required value",
    path,
    ...(detail ? { detail } : {}),
  }),
  invalid: (path: string, value: unknown, detail: string): FieldError => ({
    type: "Invalid value",
    path,
    value,
    detail,
  }),
  notSupported: (path: string, value: unknown, supported: readonly unknown[]): FieldError => ({
    type: "Unsupported value",
    path,
    value,
    detail: `supported values: ${supported.map(quote).join(", ")}`,
    blocking: true,
  }),
  tooMany: (path: string, actual: number, max: number): FieldError => ({
    type: "Too many",
    path,
    detail: `${actual}: must have at most ${max} items`,
  }),
  tooLong: (path: string, max: number): FieldError => ({
    type: "Too long",
    path,
    detail: `may not be more than ${max} bytes`,
  }),
  typeInvalid: (path: string, value: unknown, detail: string): FieldError => ({
    type: "Invalid value",
    path,
    value,
    detail,
    blocking: true,
  }),
  forbidden: (path: string, detail: string): FieldError => ({ type: "Forbidden", path, detail }),
};

/** Joins a child key onto a path the way field.Path.Child does. */
export function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function indexPath(path: string, i: number): string {
  return `${path}[${i}]`;
}

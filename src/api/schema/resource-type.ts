import type { FieldError } from "./field-error.ts";
import type { JSONSchemaProps, Schema } from "./schema.ts";

export const GROUP = "ate.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  /** Set when a deletion has begun and not finished (a Terminating Namespace). */
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A stored object of any ate kind, Kubernetes-shaped. */
export interface Resource<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
  /**
   * A built-in kind's computed cell (Secret's DATA: the number of keys), used instead of
   * jsonPath when present; never part of a CRD.
   */
  value?: (object: Resource) => unknown;
}

/** One validation of a ValidatingAdmissionPolicy (CEL over `object`, `oldObject`, `request`). */
export interface AdmissionValidation {
  expression: string;
  message: string;
  reason?: "Invalid" | "Forbidden";
}

export interface AdmissionPolicy {
  /** Also the binding's name. */
  name: string;
  operations: ("CREATE" | "UPDATE")[];
  /** Only objects this expression holds for are checked (`matchConditions`). */
  matchCondition?: string;
  validations: AdmissionValidation[];
}

export interface ResourceType<Spec = unknown, Status = unknown> {
  /** API group: absent means ate's own (`ate.dev`); "" is the Kubernetes core group (`v1`). */
  group?: string;
  /** API version: absent means `v1alpha1`. */
  version?: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  description: string;
  /** Absent for kinds without one (Secret); optional on objects when it has a `default`. */
  spec?: Schema<Spec>;
  status?: Schema<Status>;
  /** Top-level fields other than spec and status (Secret: type, data, stringData, immutable). */
  fields?: Record<string, JSONSchemaProps>;
  /** Top-level fields whose values are secret: never echoed in an error. */
  secretFields?: string[];
  /** metadata.name is a DNS-1123 label (Namespace), not a subdomain. */
  nameIsLabel?: boolean;
  /** Status a created object starts with (Namespace: phase Active); otherwise none. */
  initialStatus?: Status;
  /**
   * Kubernetes' built-in kinds are decoded and validated by Go code, not by an OpenAPI schema;
   * these hooks are that code. `decode` runs first, on a copy, and may rewrite the object (the
   * Secret's stringData merged into base64 data); a message it returns refuses the whole
   * object, as a failed decode does. `validate` runs after the schema, with the stored object
   * on update.
   */
  decode?: (object: Record<string, unknown>) => string | undefined;
  validate?: (object: Resource, old: Resource | undefined) => FieldError[];
  printerColumns: PrinterColumn[];
  /** WorkerPool-style scale subresource. */
  scale?: { specReplicasPath: string; statusReplicasPath: string };
  admissionPolicies?: AdmissionPolicy[];
}

/** The kind's group, "" for the Kubernetes core group. */
export function groupOf(rt: ResourceType): string {
  return rt.group ?? GROUP;
}

/** `ate.dev/v1alpha1`, or `v1` for the core group. */
export function apiVersionOf(rt: ResourceType): string {
  const group = groupOf(rt);
  const version = rt.version ?? VERSION;
  return group ? `${group}/${version}` : version;
}

/** Where the kind is served over REST: `/apis/ate.dev/v1alpha1` or `/api/v1`. */
export function apiPathOf(rt: ResourceType): string {
  return groupOf(rt) ? `/apis/${apiVersionOf(rt)}` : `/api/${apiVersionOf(rt)}`;
}

/** `workerpools.ate.dev`, or `secrets` for the core group, as the API server names a resource. */
export function qualifiedResource(rt: ResourceType): string {
  const group = groupOf(rt);
  return group ? `${rt.plural}.${group}` : rt.plural;
}

/** The whole object's schema, as the CRD declares it. */
export function objectSchema(rt: ResourceType): JSONSchemaProps {
  const properties: Record<string, JSONSchemaProps> = {
    apiVersion: {
      type: "string",
      description: "APIVersion defines the versioned schema of this representation of an object.",
    },
    kind: {
      type: "string",
      description: "Kind is a string value representing the REST resource this object represents.",
    },
    metadata: { type: "object" },
    ...rt.fields,
  };
  if (rt.spec) properties.spec = rt.spec;
  if (rt.status) properties.status = rt.status;
  const specRequired = rt.spec !== undefined && rt.spec.default === undefined;
  return {
    type: "object",
    description: rt.description,
    properties,
    ...(specRequired ? { required: ["spec"] } : {}),
  };
}

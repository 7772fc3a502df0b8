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
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  description: string;
  spec: Schema<Spec>;
  status?: Schema<Status>;
  printerColumns: PrinterColumn[];
  /** WorkerPool-style scale subresource. */
  scale?: { specReplicasPath: string; statusReplicasPath: string };
  admissionPolicies?: AdmissionPolicy[];
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
    spec: rt.spec,
  };
  if (rt.status) properties.status = rt.status;
  return { type: "object", description: rt.description, properties, required: ["spec"] };
}

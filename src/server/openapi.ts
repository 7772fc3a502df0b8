// The OpenAPI v2 document kubectl validates manifests with before sending them (`kubectl apply
// --validate`, on by default): one definition per kind, from the same schemas the CRDs are
// generated from, converted as the Kubernetes API server publishes a CRD's schema in v2.
import {
  apiPathOf,
  GROUP,
  groupOf,
  type JSONSchemaProps,
  objectSchema,
  type ResourceType,
  VERSION,
} from "../api/schema/index.ts";
import { resourceTypes } from "../api/v1alpha1/index.ts";
import { ateVersion } from "../version.ts";

/** A schema in OpenAPI v2, as JSON (`$ref` included). */
export interface V2Schema {
  $ref?: string;
  type?: string;
  format?: string;
  description?: string;
  required?: string[];
  properties?: Record<string, V2Schema>;
  items?: V2Schema;
  additionalProperties?: V2Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  enum?: readonly unknown[];
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
}

/** A query parameter of an operation. */
export interface V2Parameter {
  name: string;
  in: "query";
  type: string;
  description: string;
}

/** The PATCH of one object's path: what kubectl looks up to see which parameters a kind takes. */
export interface V2Operation {
  operationId: string;
  description: string;
  consumes: string[];
  parameters: V2Parameter[];
  "x-kubernetes-group-version-kind": { group: string; version: string; kind: string };
}

export interface V2Document {
  swagger: "2.0";
  info: { title: string; version: string };
  paths: Record<string, { patch: V2Operation }>;
  definitions: Record<string, V2Schema>;
}

const objectMetaRef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const listMetaRef = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/** Definition names as the API server writes them: `dev.ate.v1alpha1.WorkerPool`, `io.k8s.api.core.v1.Secret`. */
export function definitionName(rt: ResourceType): string {
  const group = groupOf(rt);
  const version = rt.version ?? VERSION;
  const prefix = group ? group.split(".").reverse().join(".") : "io.k8s.api.core";
  return `${prefix}.${version}.${rt.kind}`;
}

/**
 * A CRD schema node in v2: what v2 cannot say is left out, never made stricter. An
 * int-or-string or a node that keeps unknown fields has no type (any value passes), as the API
 * server publishes them; CEL rules and list/map types are the server's to check.
 */
export function toV2(s: JSONSchemaProps): V2Schema {
  const out: V2Schema = {};
  if (s.description) out.description = s.description;
  if (s["x-kubernetes-int-or-string"]) return out;
  const open = s["x-kubernetes-preserve-unknown-fields"] === true;
  if (s.type && !(open && s.type === "object")) out.type = s.type;
  if (s.format) out.format = s.format;
  if (s.enum) out.enum = s.enum;
  for (const key of [
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
  ] as const)
    if (s[key] !== undefined) out[key] = s[key];
  if (s.pattern) out.pattern = s.pattern;
  if (s.items) out.items = toV2(s.items);
  if (s.additionalProperties) out.additionalProperties = toV2(s.additionalProperties);
  if (s.properties && !open) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toV2(v)]));
    // The server defaults a field before it checks it: one with a default is never missing.
    const required = s.required?.filter((k) => s.properties?.[k]?.default === undefined);
    if (required?.length) out.required = required;
  }
  return out;
}

const meta = (description: string): V2Schema => ({ type: "string", description });

/** meta/v1 ObjectMeta, every field Kubernetes has, so any valid manifest's metadata passes. */
const objectMeta: V2Schema = {
  type: "object",
  description: "Standard object metadata.",
  properties: {
    name: meta("Name, unique within a namespace."),
    generateName: meta("Prefix of a name the server generates."),
    namespace: meta("The namespace the object lives in."),
    uid: meta("Unique identifier, set by the server."),
    resourceVersion: meta("The object's version, for optimistic concurrency."),
    generation: { type: "integer", format: "int64" },
    creationTimestamp: { type: "string", format: "date-time" },
    deletionTimestamp: { type: "string", format: "date-time" },
    deletionGracePeriodSeconds: { type: "integer", format: "int64" },
    selfLink: meta("Deprecated."),
    clusterName: meta("Deprecated."),
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
    finalizers: { type: "array", items: { type: "string" } },
    ownerReferences: { type: "array", items: {} },
    managedFields: { type: "array", items: {} },
  },
};

function gvk(rt: ResourceType, kind: string) {
  return [{ group: groupOf(rt), version: rt.version ?? VERSION, kind }];
}

/** The kind's definition: its CRD schema with metadata as ObjectMeta. */
function definition(rt: ResourceType): V2Schema {
  const schema = toV2(objectSchema(rt));
  schema.properties = {
    ...schema.properties,
    metadata: { $ref: `#/definitions/${objectMetaRef}` },
  };
  schema["x-kubernetes-group-version-kind"] = gvk(rt, rt.kind);
  return schema;
}

function listDefinition(rt: ResourceType): V2Schema {
  return {
    type: "object",
    description: `A list of ${rt.kind} objects.`,
    required: ["items"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { $ref: `#/definitions/${listMetaRef}` },
      items: { type: "array", items: { $ref: `#/definitions/${definitionName(rt)}` } },
    },
    "x-kubernetes-group-version-kind": gvk(rt, `${rt.kind}List`),
  };
}

/**
 * The object path's PATCH, with the dryRun parameter: kubectl 1.20 refuses `--dry-run=server`
 * for a kind whose PATCH does not list it.
 */
function patchPath(rt: ResourceType): [string, { patch: V2Operation }] {
  const scope = rt.scope === "Namespaced" ? "/namespaces/{namespace}" : "";
  return [
    `${apiPathOf(rt)}${scope}/${rt.plural}/{name}`,
    {
      patch: {
        operationId: `patch${rt.kind}`,
        description: `partially update the specified ${rt.kind}`,
        consumes: ["application/merge-patch+json", "application/strategic-merge-patch+json"],
        parameters: [
          {
            name: "dryRun",
            in: "query",
            type: "string",
            description: "All: validate and compute the result, store nothing.",
          },
        ],
        "x-kubernetes-group-version-kind": gvk(
          rt,
          rt.kind,
        )[0] as V2Operation["x-kubernetes-group-version-kind"],
      },
    },
  ];
}

let cached: V2Document | undefined;

/** The document, built once: the registry does not change while the server runs. */
export function openApiV2(): V2Document {
  if (cached) return cached;
  const definitions: Record<string, V2Schema> = {
    [objectMetaRef]: objectMeta,
    [listMetaRef]: {
      type: "object",
      properties: { resourceVersion: { type: "string" }, continue: { type: "string" } },
    },
  };
  for (const rt of resourceTypes) {
    definitions[definitionName(rt)] = definition(rt);
    definitions[`${definitionName(rt)}List`] = listDefinition(rt);
  }
  cached = {
    swagger: "2.0",
    info: { title: `ate (${GROUP})`, version: ateVersion },
    paths: Object.fromEntries(resourceTypes.map(patchPath)),
    definitions,
  };
  return cached;
}

import { AteError, Code } from "../../errors/index.ts";
import { admit, type Operation } from "./admission.ts";
import { applyDefaults } from "./defaults.ts";
import { type FieldError, formatFieldError } from "./field-error.ts";
import { unknownMetadataFields, validateObjectMeta } from "./metadata.ts";
import { objectSchema, type Resource, type ResourceType } from "./resource-type.ts";
import { validateRules } from "./rules.ts";
import { findUnknownFields, validateStructure } from "./structural.ts";

export interface ValidationResult<R extends Resource = Resource> {
  /** The object with defaults applied (and server-ignored fields cleared). */
  object: R;
  /** Problems, one message each, in Kubernetes wording; empty when valid. */
  errors: string[];
}

const rulesNotChecked =
  "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/**
 * Validates one object exactly as a Kubernetes API server holding ate's CRDs and admission
 * policies would: strict decode (unknown fields), defaults, metadata, OpenAPI schema, CEL
 * rules (skipped when a type or enum error makes them unreliable), then admission policies.
 * `old` is the stored object on update; transition rules (`oldSelf`) compare against it.
 */
export function validateResource<R extends Resource>(
  rt: ResourceType,
  input: R,
  old?: Resource,
): ValidationResult<R> {
  const schema = objectSchema(rt);
  const object = structuredClone(input);
  const unknown = [
    ...findUnknownFields(object, schema, "", ["metadata"]),
    ...unknownMetadataFields(object.metadata),
  ];
  if (unknown.length) {
    return {
      object,
      errors: [`strict decoding error: ${unknown.map((p) => `unknown field "${p}"`).join(", ")}`],
    };
  }
  if (rt.scope === "Cluster" && object.metadata) delete object.metadata.namespace;
  applyDefaults(object, schema);

  const fieldErrs: FieldError[] = [
    ...validateObjectMeta(object.metadata, rt.scope === "Namespaced"),
  ];
  for (const part of ["spec", "status"] as const) {
    const sub = schema.properties?.[part];
    const value = object[part];
    if (value === undefined) {
      if (schema.required?.includes(part)) fieldErrs.push({ type: "Required value", path: part });
      continue;
    }
    if (sub) fieldErrs.push(...validateStructure(value, sub, part));
  }
  const errors = fieldErrs.map(formatFieldError);
  if (fieldErrs.some((e) => e.blocking)) {
    errors.push(rulesNotChecked);
    return { object, errors };
  }
  for (const part of ["spec", "status"] as const) {
    const sub = schema.properties?.[part];
    if (sub && object[part] !== undefined) {
      errors.push(...validateRules(object[part], sub, part, old?.[part]).map(formatFieldError));
    }
  }
  if (errors.length) return { object, errors };
  const operation: Operation = old ? "UPDATE" : "CREATE";
  return { object, errors: admit(rt.admissionPolicies ?? [], schema, operation, object, old) };
}

/** Validates like `validateResource`, throwing an InvalidArgument AteError with one line per problem. */
export function admitResource<R extends Resource>(rt: ResourceType, input: R, old?: Resource): R {
  const { object, errors } = validateResource(rt, input, old);
  if (errors.length === 0) return object;
  const name = typeof input.metadata?.name === "string" ? input.metadata.name : "";
  const lines = errors.map((e) => `${rt.kind} "${name}" is invalid: ${e}`);
  throw new AteError(Code.InvalidArgument, lines.join("\n"), lines);
}

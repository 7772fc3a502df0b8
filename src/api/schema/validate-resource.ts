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
  const undecodable = rt.decode?.(object as unknown as Record<string, unknown>);
  if (undecodable) return { object, errors: [undecodable] };
  if (rt.scope === "Cluster" && object.metadata) delete object.metadata.namespace;
  applyDefaults(object, schema);

  const fieldErrs: FieldError[] = [
    ...validateObjectMeta(object.metadata, rt.scope === "Namespaced", rt.nameIsLabel ?? false),
  ];
  const parts = Object.keys(schema.properties ?? {}).filter((k) => !envelope.has(k));
  const record = object as unknown as Record<string, unknown>;
  for (const part of parts) {
    const sub = schema.properties?.[part];
    const value = record[part];
    if (value === undefined) {
      if (schema.required?.includes(part)) fieldErrs.push({ type: "Required value", path: part });
      continue;
    }
    if (sub) fieldErrs.push(...redact(rt, validateStructure(value, sub, part)));
  }
  // The kind's own checks name keys, never values (see ResourceType.validate).
  if (!fieldErrs.some((e) => e.blocking)) fieldErrs.push(...(rt.validate?.(object, old) ?? []));
  const errors = fieldErrs.map(formatFieldError);
  if (fieldErrs.some((e) => e.blocking)) {
    errors.push(rulesNotChecked);
    return { object, errors };
  }
  const oldRecord = old as unknown as Record<string, unknown> | undefined;
  for (const part of parts) {
    const sub = schema.properties?.[part];
    if (sub && record[part] !== undefined) {
      errors.push(
        ...validateRules(record[part], sub, part, oldRecord?.[part]).map(formatFieldError),
      );
    }
  }
  if (errors.length) return { object, errors };
  const operation: Operation = old ? "UPDATE" : "CREATE";
  return { object, errors: admit(rt.admissionPolicies ?? [], schema, operation, object, old) };
}

/** Top-level fields every kind has, validated apart from its own fields. */
const envelope = new Set(["apiVersion", "kind", "metadata"]);

/** Schema errors about a secret field name the field but never print its value. */
function redact(rt: ResourceType, errs: FieldError[]): FieldError[] {
  const secret = rt.secretFields ?? [];
  if (!secret.length) return errs;
  const inSecret = (path: string) =>
    secret.some((f) => path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`));
  return errs.map((e) => {
    if (!inSecret(e.path) || e.value === undefined) return e;
    const { value: _hidden, ...rest } = e;
    return rest;
  });
}

/** Validates like `validateResource`, throwing an InvalidArgument AteError with one line per problem. */
export function admitResource<R extends Resource>(rt: ResourceType, input: R, old?: Resource): R {
  const { object, errors } = validateResource(rt, input, old);
  if (errors.length === 0) return object;
  const name = typeof input.metadata?.name === "string" ? input.metadata.name : "";
  const lines = errors.map((e) => `${rt.kind} "${name}" is invalid: ${e}`);
  throw new AteError(Code.InvalidArgument, lines.join("\n"), lines);
}

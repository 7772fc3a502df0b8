import { compileCel, toCelValue } from "./cel.ts";
import { childPath, type FieldError, indexPath } from "./field-error.ts";
import type { JSONSchemaProps, ValidationRule } from "./schema.ts";

/**
 * Evaluates `x-kubernetes-validations` wherever the object has the field, after defaulting,
 * as the Kubernetes API server does: `self` is the node's value; transition rules (those that
 * use `oldSelf`) run only on update, where the old object has the same field.
 */
export function validateRules(
  value: unknown,
  schema: JSONSchemaProps,
  path: string,
  old?: unknown,
): FieldError[] {
  const errs: FieldError[] = [];
  walk(value, old, schema, path, errs);
  return errs;
}

function walk(
  value: unknown,
  old: unknown,
  schema: JSONSchemaProps,
  path: string,
  errs: FieldError[],
): void {
  if (value === undefined || value === null) return;
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    const error = evaluateRule(rule, value, old, schema, path);
    if (error) errs.push(error);
  }
  if (Array.isArray(value)) {
    // Items of atomic lists have no identity across updates, so no oldSelf for them.
    const items = schema.items;
    if (items)
      for (const [i, item] of value.entries())
        walk(item, undefined, items, indexPath(path, i), errs);
    return;
  }
  if (typeof value !== "object") return;
  const oldObj =
    old !== null && typeof old === "object" && !Array.isArray(old)
      ? (old as Record<string, unknown>)
      : undefined;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const sub = schema.properties?.[key] ?? schema.additionalProperties;
    if (sub) walk(v, oldObj?.[key], sub, childPath(path, key), errs);
  }
}

const usesOldSelf = (rule: string) => /\boldSelf\b/.test(rule);

function evaluateRule(
  rule: ValidationRule,
  value: unknown,
  old: unknown,
  schema: JSONSchemaProps,
  path: string,
): FieldError | undefined {
  const transition = usesOldSelf(rule.rule);
  if (transition && (old === undefined || old === null)) return undefined;
  const vars: Record<string, unknown> = { self: toCelValue(value, schema) };
  if (transition) vars.oldSelf = toCelValue(old, schema);
  const at = rule.fieldPath ? joinFieldPath(path, rule.fieldPath) : path;
  let result: unknown;
  try {
    result = compileCel(rule.rule)(vars);
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return {
      type: "Invalid value",
      path: at,
      value: schemaTypeName(schema),
      detail: `rule evaluation error: ${rule.rule}: ${why}`,
    };
  }
  if (result === true) return undefined;
  const detail = rule.message ?? `failed rule: ${rule.rule}`;
  switch (rule.reason) {
    case "FieldValueForbidden":
      return { type: "Forbidden", path: at, detail };
    case "FieldValueRequired":
      return { type: "Required value", path: at, detail };
    case "FieldValueDuplicate":
      return { type: "Duplicate value", path: at, value: schemaTypeName(schema), detail };
    default:
      return { type: "Invalid value", path: at, value: schemaTypeName(schema), detail };
  }
}

/** Kubernetes reports a failed rule with the node's schema type as the "value". */
function schemaTypeName(schema: JSONSchemaProps): string {
  if (schema["x-kubernetes-int-or-string"]) return "integer-or-string";
  return schema.type ?? "object";
}

/** A rule's fieldPath is a JSONPath-like suffix: `.name`, `.spec.x`, `['key']`. */
function joinFieldPath(path: string, fieldPath: string): string {
  const suffix = fieldPath.replace(/\['([^']*)'\]/g, ".$1").replace(/^\./, "");
  return childPath(path, suffix);
}

import { childPath, type FieldError, fieldErrors, indexPath } from "./field-error.ts";
import type { JSONSchemaProps } from "./schema.ts";

/**
 * OpenAPI v3 validation of a (defaulted) value against a structural schema, with the
 * messages kube-openapi produces, e.g. `spec.x in body should be at least 1 chars long`.
 */
export function validateStructure(
  value: unknown,
  schema: JSONSchemaProps,
  path: string,
): FieldError[] {
  const errs: FieldError[] = [];
  walk(value, schema, path, errs);
  return errs;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(expected: string, v: unknown): boolean {
  const actual = typeOf(v);
  return actual === expected || (expected === "number" && actual === "integer");
}

function walk(value: unknown, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (schema["x-kubernetes-int-or-string"]) {
    const t = typeOf(value);
    if (t !== "integer" && t !== "string") {
      errs.push(
        fieldErrors.typeInvalid(
          path,
          value,
          `${path} in body must be of type integer,string: "${t}"`,
        ),
      );
      return;
    }
  } else if (schema.type && !typeMatches(schema.type, value)) {
    errs.push(
      fieldErrors.typeInvalid(
        path,
        value,
        `${path} in body must be of type ${schema.type}: "${typeOf(value)}"`,
      ),
    );
    return;
  }

  if (typeof value === "string") checkString(value, schema, path, errs);
  else if (typeof value === "number") checkNumber(value, schema, path, errs);
  else if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errs.push(fieldErrors.tooMany(path, value.length, schema.maxItems));
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errs.push(
        fieldErrors.invalid(
          path,
          value.length,
          `${path} in body should have at least ${schema.minItems} items`,
        ),
      );
    }
    const items = schema.items;
    if (items) for (const [i, item] of value.entries()) walk(item, items, indexPath(path, i), errs);
  } else if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (obj[key] === undefined) errs.push(fieldErrors.required(childPath(path, key)));
    }
    const n = Object.keys(obj).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) {
      errs.push(fieldErrors.tooMany(path, n, schema.maxProperties));
    }
    if (schema.minProperties !== undefined && n < schema.minProperties) {
      errs.push(
        fieldErrors.invalid(
          path,
          n,
          `${path} in body should have at least ${schema.minProperties} properties`,
        ),
      );
    }
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (sub && v !== undefined) walk(v, sub, childPath(path, key), errs);
    }
  }
}

function checkString(v: string, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (schema.enum && !schema.enum.includes(v)) {
    errs.push(fieldErrors.notSupported(path, v, schema.enum));
    return;
  }
  // Kubernetes counts maxLength in characters (runes), not UTF-16 units; like kube-openapi's
  // string validator, it reports the first of maxLength, minLength, pattern that fails.
  const length = [...v].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errs.push(fieldErrors.tooLong(path, schema.maxLength));
  } else if (schema.minLength !== undefined && length < schema.minLength) {
    errs.push(
      fieldErrors.invalid(
        path,
        v,
        `${path} in body should be at least ${schema.minLength} chars long`,
      ),
    );
  } else if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(v)) {
    errs.push(fieldErrors.invalid(path, v, `${path} in body should match '${schema.pattern}'`));
  }
}

function checkNumber(v: number, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (schema.enum && !schema.enum.includes(v)) {
    errs.push(fieldErrors.notSupported(path, v, schema.enum));
    return;
  }
  if (schema.minimum !== undefined && v < schema.minimum) {
    errs.push(
      fieldErrors.invalid(
        path,
        v,
        `${path} in body should be greater than or equal to ${schema.minimum}`,
      ),
    );
  }
  if (schema.maximum !== undefined && v > schema.maximum) {
    errs.push(
      fieldErrors.invalid(
        path,
        v,
        `${path} in body should be less than or equal to ${schema.maximum}`,
      ),
    );
  }
  if (schema.format === "int32" && (v < -(2 ** 31) || v > 2 ** 31 - 1)) {
    errs.push(fieldErrors.invalid(path, v, `${path} in body must be of type int32`));
  }
}

/**
 * Paths of fields the schema does not declare, reported the way a strict Kubernetes decode
 * does (`unknown field "spec.foo"`). `skip` names top-level fields validated elsewhere.
 */
export function findUnknownFields(
  value: unknown,
  schema: JSONSchemaProps,
  path = "",
  skip: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const visit = (v: unknown, sc: JSONSchemaProps | undefined, p: string): void => {
    if (!sc || sc["x-kubernetes-preserve-unknown-fields"] || v === null || typeof v !== "object")
      return;
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) visit(item, sc.items, indexPath(p, i));
      return;
    }
    if (sc.type !== "object") return; // a type error, reported by structural validation
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      if (p === path && skip.includes(key)) continue;
      const sub = sc.properties?.[key] ?? sc.additionalProperties;
      if (!sub) out.push(childPath(p, key));
      else visit(child, sub, childPath(p, key));
    }
  };
  visit(value, schema, path);
  return out;
}

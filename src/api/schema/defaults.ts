import type { JSONSchemaProps } from "./schema.ts";

/**
 * Applies schema defaults in place, the way the Kubernetes API server does on decode: a
 * missing (or null) property with a `default` gets a copy of it, and defaulting continues
 * inside, so nested defaults apply too. Runs before validation.
 */
export function applyDefaults(value: unknown, schema: JSONSchemaProps | undefined): void {
  if (!schema || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if ((obj[key] === undefined || obj[key] === null) && prop.default !== undefined) {
      obj[key] = structuredClone(prop.default);
    }
    applyDefaults(obj[key], prop);
  }
  if (schema.additionalProperties) {
    for (const v of Object.values(obj)) applyDefaults(v, schema.additionalProperties);
  }
}

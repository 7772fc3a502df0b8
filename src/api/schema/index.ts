export { compileCel } from "./cel.ts";
export { generatedManifests } from "./crd.ts";
export type { FieldError } from "./field-error.ts";
export {
  type AdmissionPolicy,
  API_VERSION,
  GROUP,
  type ObjectMeta,
  objectSchema,
  type PrinterColumn,
  type Resource,
  type ResourceType,
  VERSION,
} from "./resource-type.ts";
export { type JSONSchemaProps, type Schema, type Static, s } from "./schema.ts";
export { admitResource, type ValidationResult, validateResource } from "./validate-resource.ts";

export { compileCel } from "./cel.ts";
export { generatedManifests } from "./crd.ts";
export { type FieldError, fieldErrors, formatFieldError } from "./field-error.ts";
export { columnValue, humanAge } from "./printer-columns.ts";
export {
  type AdmissionPolicy,
  API_VERSION,
  apiPathOf,
  apiVersionOf,
  GROUP,
  groupOf,
  type ObjectMeta,
  objectSchema,
  type PrinterColumn,
  qualifiedResource,
  type Resource,
  type ResourceType,
  VERSION,
} from "./resource-type.ts";
export { type JSONSchemaProps, type Schema, type Static, s } from "./schema.ts";
export { admitResource, type ValidationResult, validateResource } from "./validate-resource.ts";

import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from "../names/index.ts";
import { type FieldError, fieldErrors } from "./field-error.ts";

/** ObjectMeta fields a client may send; the rest of Kubernetes' ObjectMeta is server-owned or unused. */
const knownMetaFields = new Set([
  "name",
  "namespace",
  "labels",
  "annotations",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "finalizers",
  "ownerReferences",
  "generateName",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
]);

export function unknownMetadataFields(meta: unknown): string[] {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return [];
  return Object.keys(meta)
    .filter((k) => !knownMetaFields.has(k))
    .map((k) => `metadata.${k}`);
}

const stringMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Kubernetes' ValidateObjectMeta, for the fields ate uses. `nameIsLabel`: the kind's names are
 * DNS-1123 labels (Namespace), as its own name validation demands.
 */
export function validateObjectMeta(
  meta: unknown,
  namespaced: boolean,
  nameIsLabel = false,
): FieldError[] {
  if (!stringMap(meta)) return [fieldErrors.required("metadata")];
  const errs: FieldError[] = [];
  const { name, namespace, labels, annotations } = meta;
  if (name === undefined || name === "") {
    errs.push(fieldErrors.required("metadata.name", "name or generateName is required"));
  } else if (typeof name !== "string") {
    errs.push(fieldErrors.typeInvalid("metadata.name", name, "metadata.name must be a string"));
  } else {
    for (const m of nameIsLabel ? isDNS1123Label(name) : isDNS1123Subdomain(name))
      errs.push(fieldErrors.invalid("metadata.name", name, m));
  }
  if (namespaced && namespace !== undefined) {
    if (typeof namespace !== "string")
      errs.push(
        fieldErrors.typeInvalid(
          "metadata.namespace",
          namespace,
          "metadata.namespace must be a string",
        ),
      );
    else
      for (const m of isDNS1123Label(namespace))
        errs.push(fieldErrors.invalid("metadata.namespace", namespace, m));
  }
  errs.push(...validateStringMap(labels, "metadata.labels", true));
  errs.push(...validateStringMap(annotations, "metadata.annotations", false));
  return errs;
}

function validateStringMap(m: unknown, path: string, labels: boolean): FieldError[] {
  if (m === undefined || m === null) return [];
  if (!stringMap(m)) return [fieldErrors.typeInvalid(path, m, `${path} must be a map of strings`)];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(m)) {
    for (const msg of isQualifiedName(k)) errs.push(fieldErrors.invalid(path, k, msg));
    if (typeof v !== "string") {
      errs.push(fieldErrors.typeInvalid(`${path}.${k}`, v, `${path}.${k} must be a string`));
      continue;
    }
    if (labels)
      for (const msg of isValidLabelValue(v)) errs.push(fieldErrors.invalid(path, v, msg));
    total += k.length + v.length;
  }
  if (!labels && total > 256 * 1024) errs.push(fieldErrors.tooLong(path, 256 * 1024));
  return errs;
}

import { isQualifiedName } from "../names/index.ts";
import { type FieldError, fieldErrors } from "../schema/field-error.ts";
import type { Resource, ResourceType } from "../schema/resource-type.ts";
import { type Static, s } from "../schema/schema.ts";

const namespaceSpec = s.object({
  finalizers: s.defaulted(
    s.array(s.string(), {
      description:
        "Finalizers is an opaque list of values that must be empty to permanently remove object from storage.",
    }),
    ["kubernetes"],
  ),
});

const namespaceStatus = s.object({
  phase: s.enum(["Active", "Terminating"] as const, {
    description: "Phase is the current lifecycle phase of the namespace.",
  }),
});

export type NamespaceSpec = Static<typeof namespaceSpec>;
export type NamespaceStatus = Static<typeof namespaceStatus>;
export type Namespace = Resource<NamespaceSpec, NamespaceStatus>;

/** The namespace every namespaced object lands in when none is named; it cannot be deleted. */
export const defaultNamespace = "default";

/** Spec finalizers are qualified names, as Kubernetes' ValidateNamespace checks them. */
function validateNamespace(object: Resource): FieldError[] {
  const finalizers = (object as Namespace).spec?.finalizers ?? [];
  return finalizers.flatMap((f, i) =>
    isQualifiedName(f).map((msg) => fieldErrors.invalid(`spec.finalizers[${i}]`, f, msg)),
  );
}

/**
 * The Kubernetes core `v1 Namespace` (cluster-scoped). ate's namespaced objects live in
 * declared namespaces: creating one in a namespace that does not exist is NotFound, in one
 * being deleted Forbidden; deleting a namespace deletes what it holds (src/resources).
 */
export const NamespaceType: ResourceType<NamespaceSpec, NamespaceStatus> = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  singular: "namespace",
  shortNames: ["ns"],
  scope: "Cluster",
  description: "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
  spec: s.defaulted(namespaceSpec, {} as NamespaceSpec),
  status: namespaceStatus,
  nameIsLabel: true,
  initialStatus: { phase: "Active" },
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.phase" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
  validate: validateNamespace,
};

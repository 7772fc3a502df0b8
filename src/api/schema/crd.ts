import { stringify } from "yaml";
import {
  type AdmissionPolicy,
  GROUP,
  groupOf,
  objectSchema,
  type ResourceType,
  VERSION,
} from "./resource-type.ts";

const header = "# Generated from src/api/v1alpha1 by `npm run generate`. Do not edit.\n";

/** The apiextensions.k8s.io/v1 CustomResourceDefinition of a resource type. */
export function customResourceDefinition(rt: ResourceType): Record<string, unknown> {
  const subresources: Record<string, unknown> = {};
  if (rt.status) subresources.status = {};
  if (rt.scale) subresources.scale = { ...rt.scale };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${rt.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: rt.kind,
        listKind: `${rt.kind}List`,
        plural: rt.plural,
        singular: rt.singular,
        shortNames: rt.shortNames,
      },
      scope: rt.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: rt.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: objectSchema(rt) },
          ...(Object.keys(subresources).length ? { subresources } : {}),
        },
      ],
    },
  };
}

/** A ValidatingAdmissionPolicy and its Binding, for one of ate's admission policies. */
export function admissionPolicyObjects(
  rt: ResourceType,
  policy: AdmissionPolicy,
): Record<string, unknown>[] {
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: policy.name },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [GROUP],
              apiVersions: [VERSION],
              operations: policy.operations,
              resources: [rt.plural],
            },
          ],
        },
        ...(policy.matchCondition
          ? { matchConditions: [{ name: "applies", expression: policy.matchCondition }] }
          : {}),
        validations: policy.validations.map((v) => ({
          expression: v.expression,
          message: v.message,
          reason: v.reason ?? "Invalid",
        })),
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: policy.name },
      spec: { policyName: policy.name, validationActions: ["Deny"] },
    },
  ];
}

/** Every generated manifest: repository path → file content. */
export function generatedManifests(types: readonly ResourceType[]): Map<string, string> {
  const files = new Map<string, string>();
  const yaml = (docs: unknown[]) =>
    header +
    docs
      .map((d) => `---\n${stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })}`)
      .join("");
  // Kubernetes serves its core kinds (v1 Namespace, Secret) itself: CRDs only for ate's own.
  for (const rt of types.filter((t) => groupOf(t) === GROUP)) {
    files.set(`manifests/crds/${GROUP}_${rt.plural}.yaml`, yaml([customResourceDefinition(rt)]));
    for (const policy of rt.admissionPolicies ?? []) {
      files.set(`manifests/policies/${policy.name}.yaml`, yaml(admissionPolicyObjects(rt, policy)));
    }
  }
  return files;
}

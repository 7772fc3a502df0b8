/** Kubernetes shapes shared by ate's resources (meta/v1 LabelSelector, core/v1 scheduling). */
import { s } from "../schema/schema.ts";

const stringList = s.array(s.string(), { "x-kubernetes-list-type": "atomic" });

export const labelSelectorRequirement = s.object({
  key: s.required(s.string({ description: "key is the label key that the selector applies to." })),
  operator: s.required(
    s.string({
      description:
        "operator represents a key's relationship to a set of values: In, NotIn, Exists or DoesNotExist.",
    }),
  ),
  values: stringList,
});

export const labelSelector = s.object(
  {
    matchExpressions: s.array(labelSelectorRequirement, {
      description:
        "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
      "x-kubernetes-list-type": "atomic",
    }),
    matchLabels: s.map(s.string(), {
      description:
        "matchLabels is a map of {key,value} pairs; each is an In requirement with one value. ANDed.",
    }),
  },
  { "x-kubernetes-map-type": "atomic" },
);

export const toleration = s.object({
  key: s.string({
    description:
      "Taint key the toleration applies to; empty with operator Exists matches all keys.",
  }),
  operator: s.string({ description: "Exists or Equal (default Equal)." }),
  value: s.string(),
  effect: s.string({
    description: "NoSchedule, PreferNoSchedule or NoExecute; empty matches all effects.",
  }),
  tolerationSeconds: s.integer({ format: "int64" }),
});

const nodeSelectorRequirement = s.object({
  key: s.required(s.string()),
  operator: s.required(s.string({ description: "In, NotIn, Exists, DoesNotExist, Gt or Lt." })),
  values: stringList,
});

const nodeSelectorTerm = s.object(
  {
    matchExpressions: s.array(nodeSelectorRequirement, { "x-kubernetes-list-type": "atomic" }),
    matchFields: s.array(nodeSelectorRequirement, { "x-kubernetes-list-type": "atomic" }),
  },
  { "x-kubernetes-map-type": "atomic" },
);

export const nodeAffinity = s.object({
  requiredDuringSchedulingIgnoredDuringExecution: s.object(
    {
      nodeSelectorTerms: s.required(
        s.array(nodeSelectorTerm, { "x-kubernetes-list-type": "atomic" }),
      ),
    },
    { "x-kubernetes-map-type": "atomic" },
  ),
  preferredDuringSchedulingIgnoredDuringExecution: s.array(
    s.object({
      preference: s.required(nodeSelectorTerm),
      weight: s.required(s.integer({ format: "int32", minimum: 1, maximum: 100 })),
    }),
    { "x-kubernetes-list-type": "atomic" },
  ),
});

/** A resource quantity such as `500m` or `2Gi` (Kubernetes' resource.Quantity). */
export const quantity = s.intOrString({
  pattern:
    "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
});

export const resourceRequirements = s.object({
  limits: s.map(quantity, { description: "Maximum amount of compute resources allowed." }),
  requests: s.map(quantity, { description: "Minimum amount of compute resources required." }),
});

export const condition = s.object({
  type: s.required(s.string({ maxLength: 316 })),
  status: s.required(s.enum(["True", "False", "Unknown"])),
  observedGeneration: s.integer({ format: "int64", minimum: 0 }),
  lastTransitionTime: s.required(s.string({ format: "date-time" })),
  reason: s.required(s.string({ minLength: 1, maxLength: 1024 })),
  message: s.required(s.string({ maxLength: 32768 })),
});

/** The sandbox runtime families. Snapshots never cross classes. */
export const sandboxClasses = ["gvisor", "microvm"] as const;
export type SandboxClass = (typeof sandboxClasses)[number];

export const sandboxClass = (description: string) =>
  s.defaulted(s.enum(sandboxClasses, { description }), "gvisor" as SandboxClass);

export const dnsLabelRule = {
  rule: "!format.dns1123Label().validate(self).hasValue()",
  message: "Name must be a valid DNS label",
};
export const dnsSubdomainRule = {
  rule: "!format.dns1123Subdomain().validate(self).hasValue()",
  message: "Name must be a valid DNS subdomain",
};

/**
 * ActorTemplate fields that Agent Substrate's manifests use beyond the contract's core
 * (resources-v1alpha1.md, "Later anchor fields ate accepts"): shapes from the anchor's own API
 * at other versions, so that its demo manifests apply unchanged. Each one says what ate does
 * with it; the shapes and rules follow the anchor's Go types and kubebuilder markers.
 */
import { s } from "../schema/schema.ts";
import { dnsLabelRule, dnsSubdomainRule, quantity } from "./common.ts";

/**
 * corev1.ContainerPort, as the anchor's older Container carried it (`ports[]`). Informational,
 * as in Kubernetes: a sandbox has its own network, and the router's port comes from the
 * `ate.dev/http-port` annotation or readyz; ate opens nothing for it. Validated as the API server
 * validates a pod's ports.
 */
export const containerPort = s.object({
  containerPort: s.required(
    s.integer({
      format: "int32",
      minimum: 1,
      maximum: 65535,
      description: "Port the container listens on (informational).",
    }),
  ),
  name: s.rules(
    s.string({
      maxLength: 15,
      pattern: "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
      description: "An IANA service name: lower-case letters, digits and '-', ≤ 15 characters.",
    }),
    {
      rule: "self.matches('[a-z]') && !self.contains('--')",
      message: "must contain at least one letter and no '--' (an IANA service name)",
    },
  ),
  protocol: s.enum(["TCP", "UDP", "SCTP"] as const, { description: "TCP, UDP or SCTP." }),
  hostPort: s.integer({
    format: "int32",
    minimum: 1,
    maximum: 65535,
    description: "Accepted and ignored: a sandbox publishes nothing on its node.",
  }),
  hostIP: s.string({ description: "Accepted and ignored, as hostPort." }),
});

/**
 * corev1.ObjectReference naming the WorkerPool the template's actors run in, as the anchor's
 * older spec did before workerSelector. ate honours it: only that pool is eligible (ANDed with
 * the class gate and the selectors). Its namespace defaults to the template's; kind and
 * apiVersion, when given, must name a WorkerPool, so a reference to anything else is refused
 * rather than silently matching no pool.
 */
export const workerPoolRef = s.rules(
  s.object(
    {
      name: s.required(
        s.rules(
          s.string({ maxLength: 253, description: "The WorkerPool's name." }),
          dnsSubdomainRule,
        ),
      ),
      namespace: s.rules(
        s.string({
          maxLength: 63,
          description: "The WorkerPool's namespace; empty: the ActorTemplate's.",
        }),
        dnsLabelRule,
      ),
      kind: s.string({ description: "Empty or WorkerPool." }),
      apiVersion: s.string({ description: "Empty or ate.dev/v1alpha1." }),
      uid: s.string({ description: "Accepted and ignored." }),
      resourceVersion: s.string({ description: "Accepted and ignored." }),
      fieldPath: s.string({ description: "Accepted and ignored." }),
    },
    { "x-kubernetes-map-type": "atomic" },
  ),
  {
    rule: "!has(self.kind) || self.kind == '' || self.kind == 'WorkerPool'",
    message: "kind must be WorkerPool",
    fieldPath: ".kind",
  },
  {
    rule: "!has(self.apiVersion) || self.apiVersion == '' || self.apiVersion == 'ate.dev/v1alpha1'",
    message: "apiVersion must be ate.dev/v1alpha1",
    fieldPath: ".apiVersion",
  },
);

/**
 * corev1.ResourceRequirements sizing each actor (the anchor's `spec.resources`): limits only.
 * ate honours `limits.cpu` and `limits.memory` in scheduling, as the anchor does: only pools
 * whose workers' limits (`spec.template.resources.limits`) are at least these, or unlimited,
 * run the template's actors. The sandbox itself is bounded by its pool's limits, not these.
 */
export const actorResources = s.object({
  limits: s.map(quantity, {
    description: "What each actor may use (cpu, memory); pools too small for it are passed over.",
  }),
  requests: s.map(quantity, { description: "Not supported: actors are sized by limits only." }),
  claims: s.array(s.object({ name: s.required(s.string()), request: s.string() }), {
    description: "Not supported.",
  }),
});

/** The spec-level rules the anchor puts on `spec.resources` (its messages, verbatim). */
export const actorResourcesRules = [
  {
    rule: "!has(self.resources) || !has(self.resources.requests)",
    message:
      "spec.resources.requests is not supported; actors are sized by spec.resources.limits only",
  },
  {
    rule: "!has(self.resources) || !has(self.resources.claims)",
    message: "spec.resources.claims is not supported",
  },
  // A micro-VM's guest gets the memory limit less the VMM's 128Mi: below 256Mi it cannot boot.
  // `string()` as the anchor's container rules do, since a limit may be written as an integer.
  {
    rule: "!has(self.sandboxClass) || self.sandboxClass != 'microvm' || !has(self.resources) || !has(self.resources.limits) || !('memory' in self.resources.limits) || !quantity(string(self.resources.limits['memory'])).isLessThan(quantity('256Mi'))",
    message:
      "For sandboxClass 'microvm', spec.resources.limits.memory must be at least 256Mi (128Mi VMM reserve + 128Mi guest minimum); below this the VM cannot boot",
  },
];

/** Snapshot scopes, as the contract lists them (and error messages name them). */
export const snapshotScopeNames = ["Full", "Data"] as const;
export type SnapshotScopeName = (typeof snapshotScopeNames)[number];

/**
 * The names the anchor's earlier manifests used for the scopes (`process`: memory and files;
 * `homedir`: the home directory volume alone), read as the scopes when a template is decoded,
 * so the stored template, the schema and its messages know only Full and Data.
 */
const earlierScopeNames: Record<string, SnapshotScopeName> = { process: "Full", homedir: "Data" };

/** ActorTemplate's decode step: earlier scope names become the scopes they name. */
export function decodeEarlierScopeNames(object: Record<string, unknown>): undefined {
  const spec = object.spec as { snapshotsConfig?: Record<string, unknown> } | undefined;
  const config = spec?.snapshotsConfig;
  if (config === null || typeof config !== "object") return undefined;
  for (const key of ["onPause", "onCommit"]) {
    const name = config[key];
    if (typeof name === "string" && Object.hasOwn(earlierScopeNames, name))
      config[key] = earlierScopeNames[name];
  }
  return undefined;
}

import type { Resource, ResourceType } from "../schema/resource-type.ts";
import { type Static, s } from "../schema/schema.ts";
import {
  condition,
  nodeAffinity,
  resourceRequirements,
  sandboxClass,
  toleration,
} from "./common.ts";

const workerTemplate = s.object({
  nodeSelector: s.map(s.string(), { description: "Node labels a worker's node must have." }),
  tolerations: s.array(toleration, { maxItems: 16, description: "Taints the workers tolerate." }),
  priorityClassName: s.string({ description: "Priority class of the worker pods." }),
  nodeAffinity,
  resources: resourceRequirements,
});

const workerPoolSpec = s.object({
  replicas: s.required(
    s.integer({ format: "int32", minimum: 0, description: "How many workers the pool keeps." }),
  ),
  ateomImage: s.required(
    s.string({
      minLength: 1,
      description: "The worker image on Kubernetes; informational on one machine.",
    }),
  ),
  sandboxClass: sandboxClass(
    "The sandbox runtime family of the pool's workers; only templates of the same class run on them.",
  ),
  sandboxConfigName: s.string({
    description:
      "The SandboxConfig whose runtime the workers boot actors with; its class must equal the pool's. Empty: the single default SandboxConfig of the pool's class.",
  }),
  template: workerTemplate,
});

const workerPoolStatus = s.object({
  replicas: s.integer({
    format: "int32",
    minimum: 0,
    description: "Workers that currently exist.",
  }),
  conditions: s.array(condition, {
    "x-kubernetes-list-type": "atomic",
    description:
      "ReplicaFailure (True) when the pool's workers cannot be created, e.g. more than its node can hold.",
  }),
});

export type WorkerPoolSpec = Static<typeof workerPoolSpec>;
export type WorkerPoolStatus = Static<typeof workerPoolStatus>;
export type WorkerPool = Resource<WorkerPoolSpec, WorkerPoolStatus>;

export const WorkerPoolType: ResourceType<WorkerPoolSpec, WorkerPoolStatus> = {
  kind: "WorkerPool",
  plural: "workerpools",
  singular: "workerpool",
  shortNames: ["workerpool"],
  scope: "Namespaced",
  description:
    "WorkerPool keeps a number of pre-started, empty workers that run one actor at a time.",
  spec: workerPoolSpec,
  status: workerPoolStatus,
  printerColumns: [
    { name: "Desired", type: "integer", jsonPath: ".spec.replicas" },
    { name: "Replicas", type: "integer", jsonPath: ".status.replicas" },
    { name: "Class", type: "string", jsonPath: ".spec.sandboxClass", priority: 1 },
    { name: "SandboxConfig", type: "string", jsonPath: ".spec.sandboxConfigName", priority: 1 },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
  scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
};

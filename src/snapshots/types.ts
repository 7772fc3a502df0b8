// What a snapshot's manifest pins, in the shapes the node API uses (src/node/api.ts re-exports
// them): defined here, the lowest room, so the node and the control plane share one format.

/** Who an actor is; written into the sandbox at /run/ate/actor-id. */
export interface ActorIdentity {
  atespace: string;
  templateNamespace: string;
  templateName: string;
  actorId: string;
}

export interface WorkloadContainer {
  name: string;
  /** Pinned by digest: `registry/repository@sha256:…`. */
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
  readyz?: { path: string; port: number; timeoutSeconds?: number };
  volumeMounts?: { name: string; mountPath: string }[];
}

/** What runs: the ActorTemplate's containers and volumes, secrets already resolved. */
export interface Workload {
  containers: WorkloadContainer[];
  volumes?: { name: string; durableDir?: Record<string, never> }[];
}

/** Full: memory + rootfs changes + durableDir; Data: durableDir only. */
export type SnapshotScope = "Full" | "Data";

export interface SnapshotFile {
  /** Path relative to the snapshot prefix. */
  name: string;
  size: number;
  sha256: string;
}

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
  env?: WorkloadEnvVar[];
  readyz?: { path: string; port: number; timeoutSeconds?: number };
  volumeMounts?: { name: string; mountPath: string }[];
}

/** A key of a Secret in the template's namespace (Kubernetes' SecretKeySelector). */
export interface SecretKeyRef {
  name: string;
  key: string;
  /** A missing Secret or key leaves the variable unset rather than failing the boot. */
  optional?: boolean;
}

/**
 * A literal value, or one from a Secret. A Secret's value is carried only on the way to a
 * boot (a Run, or a Data restore's values): records and snapshot manifests keep the reference
 * alone (see redactSecrets), so a later cold boot reads the Secret again and nothing stored
 * holds the value. Without a value the variable is not set.
 */
export interface WorkloadEnvVar {
  name: string;
  value?: string;
  secretKeyRef?: SecretKeyRef;
}

/**
 * What runs: the ActorTemplate's containers and volumes. Secret references are resolved in a
 * Run (value beside the reference) and bare everywhere the workload is stored.
 */
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

import type { SandboxAsset, SandboxClass } from "../api/v1alpha1/index.ts";
import type { SandboxExit, WorkerSettings } from "../sandbox/index.ts";

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

/** The runtime, exactly the SandboxConfig shape: arch → asset name → {url, sha256}. */
export interface SandboxAssets {
  sandboxClass: SandboxClass;
  assets: Record<string, Record<string, SandboxAsset>>;
}

/** Full: memory + rootfs changes + durableDir; Data: durableDir only. */
export type SnapshotScope = "Full" | "Data";

export type SnapshotDestination =
  /** Kept on this node (Pause). */
  | { kind: "local" }
  /** Uploaded under this URI prefix (Suspend), e.g. `s3://bucket/snapshots/atespace/actor/id`. */
  | { kind: "external"; uriPrefix: string };

export interface RunRequest {
  worker: string;
  actor: ActorIdentity;
  workload: Workload;
  sandboxAssets: SandboxAssets;
  signal?: AbortSignal;
}

export interface CheckpointRequest {
  worker: string;
  actor: ActorIdentity;
  scope: SnapshotScope;
  destination: SnapshotDestination;
  signal?: AbortSignal;
}

/**
 * Whose snapshot a restore expects, checked against the snapshot's manifest before anything is
 * restored: `own` — the actor's own (same atespace and actor id); `golden` — the golden snapshot
 * of the actor's own template (taken by that template's golden actor in ate-golden).
 */
export type RestoreOrigin = "own" | "golden";

export interface RestoreRequest {
  worker: string;
  /** The actor being restored; differs from the snapshot's only for a golden snapshot. */
  actor: ActorIdentity;
  /** URI prefix of the snapshot (where its manifest.json is). */
  source: string;
  scope: SnapshotScope;
  /** Default `own`. */
  origin?: RestoreOrigin;
  signal?: AbortSignal;
}

export interface SnapshotFile {
  /** Path relative to the snapshot prefix. */
  name: string;
  size: number;
  sha256: string;
}

export interface CheckpointResult {
  /** URI prefix of the snapshot. */
  uri: string;
  local: boolean;
  files: SnapshotFile[];
}

/** A sandbox that stopped on its own, and whose actor it was. */
export interface WorkerExit extends SandboxExit {
  actor: ActorIdentity;
}

export interface WorkerInfo {
  name: string;
  /** Where the actor's ports are reachable from the node. */
  address: string;
  actor?: ActorIdentity;
  /** As created (limits, egress). */
  settings?: WorkerSettings;
  /**
   * The last sandbox on this worker that stopped on its own (OOM, exit), until the worker's
   * next run or restore: the control plane sends that actor back to its last snapshot.
   */
  lastExit?: WorkerExit;
}

/** The node agent's API, called by the control plane (in process, or over RPC). */
export interface NodeAgentApi {
  createWorker(name: string, settings?: WorkerSettings): Promise<WorkerInfo>;
  deleteWorker(name: string): Promise<void>;
  listWorkers(): Promise<WorkerInfo[]>;
  run(request: RunRequest): Promise<WorkerInfo>;
  checkpoint(request: CheckpointRequest): Promise<CheckpointResult>;
  restore(request: RestoreRequest): Promise<WorkerInfo>;
  /** Stops the actor without a snapshot and empties the worker. */
  stop(worker: string): Promise<void>;
  /**
   * The actor's captured stdout/stderr, across every run and restore on this node, from byte
   * offset `from` (default 0): at most maxLogPieceBytes of it (a piece shorter than that ends
   * at the end), so an actor's output is never read whole into memory.
   */
  logs(actor: ActorIdentity, from?: number): Promise<Buffer>;
}

/** The most a node's `logs` answers at once. */
export const maxLogPieceBytes = 1024 * 1024;

/**
 * What a node tells the control plane when it registers (and again with each heartbeat, as
 * its cache changes): who it is, where to call it, and what it can run.
 */
export interface NodeRegistration {
  /** Unique in the cluster; the `node` of its Worker records. */
  name: string;
  /** The node API's base URL, e.g. `http://10.0.0.5:7444`. */
  url: string;
  /**
   * Where routers on other hosts reach this node's actors (host:port of its actor entry
   * point); absent: worker addresses are reachable directly (one machine).
   */
  entry?: string;
  /** The host's address (e.g. the --address flag). */
  address: string;
  /** `amd64`, `arm64`: the SandboxConfig arch keys. */
  arch: string;
  /** Sandbox classes it has drivers for, e.g. ["gvisor"]. */
  sandboxClasses: string[];
  capacity: NodeRegistrationCapacity;
  /** sha256 hex digests of the runtime assets in its cache. */
  cachedAssets: string[];
  /** Image references (`repo@sha256:…`) it has pulled. */
  cachedImages: string[];
}

export interface NodeRegistrationCapacity {
  /** Most workers it runs, all pools together. */
  workers: number;
  /** Why that many (e.g. `--max-workers 8`, `its network range …`), for pool conditions. */
  source: string;
  memoryBytes: number;
  cpuMillis: number;
}

/** What the control plane answers a registration or heartbeat. */
export interface NodeRegistrationResult {
  /** How often the node must heartbeat; missing heartbeats for `lostAfterMs` makes it lost. */
  heartbeatMs: number;
  lostAfterMs: number;
  /**
   * Workers of this node whose actors moved on while it was away (or that the control plane
   * no longer knows): the node tears these sandboxes down before taking work.
   */
  staleWorkers: string[];
}

/**
 * The control plane's side of node membership, called by nodes (over the wire with a node
 * token, or in process by `ate up`). `callSecret` is the bearer token the control plane must
 * present when it calls this node's API; a node makes a new one each start.
 */
export interface NodeRegistryApi {
  register(
    registration: NodeRegistration,
    callSecret: string,
    options?: { signal?: AbortSignal },
  ): Promise<NodeRegistrationResult>;
  /** NOT_FOUND when the node is not registered (e.g. declared lost): register again. */
  heartbeat(
    registration: NodeRegistration,
    options?: { signal?: AbortSignal },
  ): Promise<NodeRegistrationResult>;
}

import type { SandboxAsset, SandboxClass } from "../api/v1alpha1/index.ts";
import type { SandboxExit, WorkerSettings } from "../sandbox/index.ts";
import type { ActorIdentity, SnapshotFile, SnapshotScope, Workload } from "../snapshots/index.ts";

// What a snapshot's manifest pins is defined with the manifest format (src/snapshots).
export type {
  ActorIdentity,
  SecretKeyRef,
  SnapshotFile,
  SnapshotScope,
  Workload,
  WorkloadContainer,
  WorkloadEnvVar,
} from "../snapshots/index.ts";

/** The runtime, exactly the SandboxConfig shape: arch → asset name → {url, sha256}. */
export interface SandboxAssets {
  sandboxClass: SandboxClass;
  assets: Record<string, Record<string, SandboxAsset>>;
}

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
  /**
   * The actor's own token for this start, written to /run/ate/token in the sandbox (see
   * src/auth/actor-token.ts); absent: none is written (golden actors get none).
   */
  actorToken?: string;
}

/** A freeze or thaw: the worker, and the actor the caller believes it runs. */
export interface InPlaceRequest {
  worker: string;
  actor: ActorIdentity;
}

export interface CheckpointRequest {
  worker: string;
  actor: ActorIdentity;
  scope: SnapshotScope;
  destination: SnapshotDestination;
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
  /**
   * A combined restore (scope Data only): URI prefix of the template's golden snapshot, whose
   * memory the actor resumes from, with the durable data of `source` laid into its volumes
   * instead of booting its image again. A golden without memory (taken before goldens were
   * always Full) falls back to that boot.
   */
  base?: string;
  /**
   * The values of the template's Secret references, for a Data restore only: one that boots
   * the image (no memory to restore) fills the manifest's references from these; a required one
   * missing here fails that boot naming the Secret and key. Never stored by the node.
   */
  secretValues?: SecretValue[];
  /**
   * The actor's own token for this start, written to /run/ate/token in the sandbox (see
   * src/auth/actor-token.ts); absent: none is written (golden actors get none).
   */
  actorToken?: string;
}

/** One key of a Secret (in the template's namespace), resolved by the control plane. */
export interface SecretValue {
  secret: string;
  key: string;
  value: string;
}

/**
 * Where the snapshot really is. An external checkpoint whose upload failed is kept on the
 * node rather than lost (the sandbox is gone by then): `local` true, `uri` on the node, and
 * `uploadError` says why the upload failed.
 */
export interface CheckpointResult {
  /** URI prefix of the snapshot. */
  uri: string;
  local: boolean;
  files: SnapshotFile[];
  uploadError?: string;
}

/** One of a node's own snapshots (a Pause, or a Suspend whose upload failed). */
export interface LocalSnapshot {
  /** URI prefix of the snapshot (where its manifest.json is), as checkpoint answered it. */
  uri: string;
  /** Of all its files. */
  bytes: number;
  /** When its manifest was written (ms since the epoch): when it was committed on the node. */
  modifiedAt: number;
}

/** A node's own snapshots, and where it keeps them (its snapshots directory, as a URI). */
export interface LocalSnapshots {
  location: string;
  snapshots: LocalSnapshot[];
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

/**
 * Per call, as connect-es CallOptions: an aborted signal aborts the node's work, and a call
 * still running after timeoutMs fails DEADLINE_EXCEEDED (its work aborted too). Over the wire
 * both travel with the call; neither is ever a field of a request.
 */
export interface NodeCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface NodeLogsOptions extends NodeCallOptions {
  /** Byte offset to start from; default 0. */
  from?: number;
}

/** The node agent's API, called by the control plane (in process, or over RPC). */
export interface NodeAgentApi {
  createWorker(
    name: string,
    settings?: WorkerSettings,
    options?: NodeCallOptions,
  ): Promise<WorkerInfo>;
  deleteWorker(name: string, options?: NodeCallOptions): Promise<void>;
  listWorkers(options?: NodeCallOptions): Promise<WorkerInfo[]>;
  run(request: RunRequest, options?: NodeCallOptions): Promise<WorkerInfo>;
  checkpoint(request: CheckpointRequest, options?: NodeCallOptions): Promise<CheckpointResult>;
  restore(request: RestoreRequest, options?: NodeCallOptions): Promise<WorkerInfo>;
  /** Stops the actor without a snapshot and empties the worker. */
  stop(worker: string, options?: NodeCallOptions): Promise<void>;
  /**
   * Freezes the worker's sandbox in place (the frozen tier: runsc pause); idempotent.
   * FAILED_PRECONDITION when the worker runs no actor or another than `actor`; ABORTED while
   * another operation holds it.
   */
  freeze(request: InPlaceRequest, options?: NodeCallOptions): Promise<void>;
  /**
   * Lets the worker's frozen sandbox run again; idempotent (a running one stays as it is).
   * Refused as freeze is.
   */
  thaw(request: InPlaceRequest, options?: NodeCallOptions): Promise<void>;
  /**
   * The actor's captured stdout/stderr, across every run and restore on this node, from byte
   * offset `from` to its end as it is now, in pieces of at most maxLogPieceBytes, so an
   * actor's output is never held whole in memory.
   */
  logs(actor: ActorIdentity, options?: NodeLogsOptions): AsyncIterable<Uint8Array>;
  /**
   * The snapshots this node keeps itself (complete ones: with a manifest), for the collector,
   * which removes those no record points at (deleteSnapshot).
   */
  listSnapshots(options?: NodeCallOptions): Promise<LocalSnapshots>;
  /**
   * Removes one of this node's own snapshots (manifest first); idempotent: a missing one is 0
   * bytes. INVALID_ARGUMENT for a URI that is not a snapshot in this node's snapshots
   * directory. Returns the bytes removed. The caller decides: no record may point at it.
   */
  deleteSnapshot(uri: string, options?: NodeCallOptions): Promise<number>;
}

/** The largest piece of a node's `logs`. */
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

/** What a node agent knows of itself: the part of its registration its caches and drivers say. */
export type NodeDescription = Pick<
  NodeRegistration,
  "arch" | "sandboxClasses" | "cachedAssets" | "cachedImages"
>;

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

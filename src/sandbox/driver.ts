import type { SandboxClass } from "../api/v1alpha1/index.ts";

/** A worker slot as the driver sees it: a stable name and a small index for its network. */
export interface WorkerRef {
  name: string;
  /** 0-based, unique on the node; picks the worker's network addresses. */
  index: number;
}

/** The runtime binaries an actor runs on, as local paths from the asset cache. */
export interface SandboxRuntime {
  sandboxClass: SandboxClass;
  /** asset name → local path */
  assets: Record<string, string>;
}

export interface SandboxMount {
  destination: string;
  /** Host directory or file. */
  source: string;
  readonly?: boolean;
}

export interface SandboxContainer {
  name: string;
  /** The image's unpacked root filesystem; never written (writes stay in the sandbox). */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  mounts: SandboxMount[];
}

export interface SandboxSpec {
  hostname: string;
  containers: SandboxContainer[];
  /** Where the containers' stdout and stderr are appended. */
  logPath: string;
}

export interface CheckpointOptions {
  /** How long in-flight connections may take to finish before they are reset. Default 5000. */
  drainTimeoutMs?: number;
  /** Compress the image (smaller, slower). Default true. */
  compress?: boolean;
  signal?: AbortSignal;
}

/**
 * One sandbox technology (a sandbox class). A worker runs at most one actor's sandbox; the
 * driver owns the worker's network and the sandbox's lifecycle.
 */
export interface SandboxDriver {
  readonly sandboxClass: SandboxClass;
  /** Asset names a SandboxConfig of this class must provide on every architecture. */
  readonly requiredAssets: readonly string[];
  /** Makes the worker ready to take an actor; idempotent. Returns the worker's address. */
  prepareWorker(worker: WorkerRef): Promise<{ address: string }>;
  /** Stops anything on the worker and removes it. */
  releaseWorker(worker: WorkerRef): Promise<void>;
  run(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Saves the sandbox (memory + rootfs changes) into imageDir, then empties the worker. */
  checkpoint(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    imageDir: string,
    options?: CheckpointOptions,
  ): Promise<void>;
  restore(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    imageDir: string,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Takes over a worker's sandbox after the agent restarted: true when it still runs, and then
   * it is reachable again (an interrupted checkpoint's blocks are lifted).
   */
  adopt(worker: WorkerRef, runtime: SandboxRuntime): Promise<boolean>;
  /** Kills the sandbox (if any) and returns the worker to empty. */
  stop(worker: WorkerRef, runtime?: SandboxRuntime): Promise<void>;
}

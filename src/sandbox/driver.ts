import type { SandboxClass } from "../api/v1alpha1/index.ts";

/** What every sandbox of a worker may use; fixed for the worker's life (from its WorkerPool). */
export interface WorkerLimits {
  /** Memory of the whole sandbox (its processes, page cache, rootfs writes), in bytes. */
  memoryBytes?: number;
  /** CPU time per wall-clock second, in thousandths of a core (`500m` = 500). */
  cpuMillis?: number;
}

/**
 * How a worker is set up, from its pool: limits (WorkerPool `template.resources.limits`) and
 * whether its sandboxes reach the outside world (`ate.dev/egress` annotation).
 */
export interface WorkerSettings {
  limits?: WorkerLimits;
  /** `default`: the outside world through the node, nothing private; `none`: nothing. */
  egress?: "default" | "none";
}

/** A worker slot as the driver sees it: a stable name and a small index for its network. */
export interface WorkerRef {
  name: string;
  /** 0-based, unique on the node; picks the worker's network addresses. */
  index: number;
  /** Absent: no limits, default egress. */
  settings?: WorkerSettings;
}

/**
 * Why a sandbox stopped that nobody stopped (not a checkpoint, stop or release): the
 * sandbox is gone and its worker empty when this is reported.
 */
export interface SandboxExit {
  /** `OOMKilled`: it went past its memory limit; `Exited`: its process ended; `Killed`: otherwise. */
  reason: "OOMKilled" | "Exited" | "Killed";
  /** For people: what happened, e.g. "the sandbox went past its memory limit of 256Mi". */
  message: string;
  exitCode?: number;
  /** RFC 3339. */
  at: string;
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

/** The most containers one sandbox runs (the ActorTemplate CRD's `maxItems`, as the anchor's). */
export const maxContainers = 10;

export interface SandboxSpec {
  hostname: string;
  /** 1 to maxContainers, all in the one sandbox; the first is its root (its end ends it). */
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
  /**
   * The caller works on the image until this settles (hashing, packing): the driver's clean-up
   * of the stopped sandbox waits for it rather than compete with it for the CPU.
   */
  busyUntil?: Promise<unknown>;
}

/**
 * One sandbox technology (a sandbox class). A worker runs at most one actor's sandbox; the
 * driver owns the worker's network and the sandbox's lifecycle.
 */
export interface SandboxDriver {
  readonly sandboxClass: SandboxClass;
  /** Asset names a SandboxConfig of this class must provide on every architecture. */
  readonly requiredAssets: readonly string[];
  /**
   * The URL the worker's sandbox reaches the Control API at (for its own actor, with
   * /run/ate/token), written to /run/ate/api; undefined: it has none (not served here, or the
   * worker's egress is `none`).
   */
  controlApiUrl?(worker: WorkerRef): string | undefined;
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
   * Resolves once the worker is emptied of its former sandbox (a tear-down after a checkpoint
   * may still run in the background). run and restore wait for it themselves; a caller that
   * holds the worker may wait here meanwhile, while it gathers what the start needs.
   */
  settled?(worker: WorkerRef): Promise<void>;
  /**
   * Takes over a worker's sandbox after the agent restarted: true when it still runs, and then
   * it is reachable again (an interrupted checkpoint's blocks are lifted).
   */
  adopt(worker: WorkerRef, runtime: SandboxRuntime): Promise<boolean>;
  /** Kills the sandbox (if any) and returns the worker to empty. */
  stop(worker: WorkerRef, runtime?: SandboxRuntime): Promise<void>;
  /**
   * Freezes the worker's sandbox in place (every process stopped, memory kept, connections
   * held); idempotent. A paused sandbox can still be checkpointed, stopped or released.
   */
  pause?(worker: WorkerRef, runtime: SandboxRuntime): Promise<void>;
  /** Lets a paused sandbox run again; idempotent (a running one is left as it is). */
  resume?(worker: WorkerRef, runtime: SandboxRuntime): Promise<void>;
  /**
   * Calls `listener` whenever a sandbox this driver started stops on its own (its process
   * ended, it went past its memory limit, it was killed). One listener; a later call replaces it.
   */
  onExit?(listener: (worker: WorkerRef, exit: SandboxExit) => void): void;
  /**
   * Lets go of the sandboxes without stopping them (an agent on the same state takes them up
   * again): resolves once nothing of the driver's runs on in this process.
   */
  close?(): Promise<void>;
}

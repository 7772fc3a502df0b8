import type { SandboxExit, WorkerSettings } from "../sandbox/index.ts";

/** Actor lifecycle states, as the Control API names them (Actor.Status without the prefix). */
export type ActorStatus =
  | "RESUMING"
  | "RUNNING"
  | "SUSPENDING"
  | "SUSPENDED"
  | "PAUSING"
  | "PAUSED";

export interface SnapshotInfo {
  type: "LOCAL" | "EXTERNAL";
  /** Full (memory + rootfs + durableDir) or Data (durableDir only). */
  scope: "Full" | "Data";
  /** URI prefix of the snapshot (where its manifest.json is). */
  uri: string;
  /** LOCAL: the nodes that hold it. */
  nodes?: string[];
}

/** A lifecycle operation in progress; expires so a crashed owner never blocks an actor forever. */
export interface Transition {
  op: "resume" | "suspend" | "pause";
  owner: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** The worker claimed for a resume. */
  worker?: string;
}

export interface WorkerRefInRecord {
  namespace: string;
  name: string;
  pool: string;
  node: string;
  address: string;
  uid: string;
  /** host:port of its node's actor entry point, when routers on other hosts must go through it. */
  entry?: string;
}

/**
 * What checkpoints of an actor need from its ActorTemplate, copied into the actor record when
 * it resumes: suspend and pause then never read the template (which may have been deleted).
 */
export interface ActorSnapshotsConfig {
  /** Base URI of the actor's snapshots (s3://, gs:// or file://). */
  location: string;
  /** Scope of a Suspend's snapshot; default Full. */
  onCommit?: "Full" | "Data";
  /** Scope of a Pause's snapshot; default Full. */
  onPause?: "Full" | "Data";
}

/**
 * Why an actor's sandbox last stopped on its own (e.g. past its memory limit), or why it was
 * taken from its node (`NodeLost`: the node stopped heartbeating), and when.
 */
export interface ActorExit {
  reason: SandboxExit["reason"] | "NodeLost";
  message: string;
  /** RFC 3339. */
  at: string;
  exitCode?: number;
}

export interface Actor {
  atespace: string;
  actorId: string;
  version: number;
  templateNamespace: string;
  templateName: string;
  status: ActorStatus;
  /** Set while RUNNING (and during transitions that hold a worker). */
  worker?: WorkerRefInRecord;
  inProgressSnapshot?: string;
  latestSnapshot?: SnapshotInfo;
  /**
   * The last EXTERNAL snapshot, kept while `latestSnapshot` is LOCAL (paused, or resumed from a
   * pause): where the actor goes back to when the node holding the local one is lost.
   */
  lastExternalSnapshot?: SnapshotInfo;
  /** Every snapshot ever committed for the actor, oldest first (for garbage collection). */
  snapshots?: string[];
  workerSelector?: Record<string, string>;
  workerPoolName?: string;
  /** Set at resume from the template; absent on records written by older versions. */
  snapshotsConfig?: ActorSnapshotsConfig;
  transition?: Transition;
  /** The last time its sandbox stopped on its own; it went back to its last snapshot then. */
  lastExit?: ActorExit;
  /**
   * How a RUNNING actor is held (absent: running). `frozen`: idle, its sandbox paused in place
   * on its worker; a request thaws it. Written before the sandbox is paused and after it is
   * thawed, so a paused sandbox always has `frozen` here (a crash leaves at most a running
   * sandbox marked frozen, which the next thaw finds running). Only meaningful while RUNNING.
   */
  tier?: ActorTier;
  createdAt: string;
}

export type ActorTier = "running" | "frozen";

export interface WorkerActorRef {
  atespace: string;
  templateNamespace: string;
  templateName: string;
  actorId: string;
}

export interface Worker {
  namespace: string;
  pool: string;
  name: string;
  uid: string;
  node: string;
  address: string;
  /** host:port of its node's actor entry point (copied from the node's registration), if any. */
  entry?: string;
  version: number;
  /** As the worker was created from its pool (absent: no limits, default egress). */
  settings?: WorkerSettings;
  /** Absent: the worker is FREE. */
  actor?: WorkerActorRef;
}

export interface Atespace {
  name: string;
  version: number;
  createdAt: string;
}

export const actorKey = (atespace: string, actorId: string) => `${atespace}/${actorId}`;
export const workerKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** A registered node, as the control plane knows it. */
export interface NodeRecord {
  name: string;
  version: number;
  /** The node API's base URL. */
  url: string;
  /** host:port where routers reach its actors; absent: worker addresses directly. */
  entry?: string;
  address: string;
  arch: string;
  sandboxClasses: string[];
  capacity: { workers: number; source: string; memoryBytes: number; cpuMillis: number };
  cachedAssets: string[];
  cachedImages: string[];
  /** Epoch milliseconds of its last registration or heartbeat. */
  heartbeatAt: number;
  /** Ready while it heartbeats; Lost once it missed them (its actors were moved back). */
  state: "Ready" | "Lost";
  /** RFC 3339. */
  registeredAt: string;
  /** Lost: when it was declared lost. RFC 3339. */
  lostAt?: string;
  /**
   * Lost: its workers whose records were (or are being) removed; named in `staleWorkers` when
   * it registers again, so it tears their sandboxes down. Cleared then.
   */
  goneWorkers?: string[];
  /** The bearer token the control plane presents to the node's API; never shown by any API. */
  callSecret: string;
}

export const nodeKey = (name: string) => name;

// What a ControlPlane is made of and may be told: its records, resources and nodes, and the
// optional settings with their defaults (each named where it is used).
import type { BlobStore } from "../blob/index.ts";
import type { Clock } from "../clock/index.ts";
import type { Logger } from "../log/index.ts";
import type { Registry } from "../metrics/index.ts";
import type { Records } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { WatchLimits } from "./actor-watch.ts";
import type { NodeDirectory } from "./nodes.ts";
import type { ActorTokenIssuer } from "./transitions.ts";

export interface ControlPlaneOptions {
  records: Records;
  resources: ResourceStore;
  nodes: NodeDirectory;
  clock?: Clock;
  logger?: Logger;
  /** How long a lifecycle transition may take before the reconciler may take it over. Default 10 min. */
  transitionTimeoutMs?: number;
  /** Allow DebugClear (wipes every record). Default false. */
  debug?: boolean;
  /**
   * Where suspends write for an actor resumed by an older version whose ActorTemplate was
   * deleted since and that never suspended. Default file:///var/lib/ate/snapshots (the
   * default templates' location); `ate up` passes file://<state dir>/snapshots.
   */
  fallbackSnapshotLocation?: string;
  /**
   * How long a suspend or pause waits for the routers to finish the requests under way to
   * the actor (they stop forwarding new ones once they see it marked). Default 10 s.
   */
  drainTimeoutMs?: number;
  /** A router silent this long is not waited for (it reports every second). Default 5 s. */
  routerStaleMs?: number;
  /**
   * Actor watches open at once on this control plane (each may hold a connection to the
   * records store), in all, per token, and kept from tenants; more are refused
   * RESOURCE_EXHAUSTED. Default 1000, 16 per token, a quarter of them kept (see WatchSlots).
   */
  watchLimits?: Partial<WatchLimits>;
  /** Names this instance in the transitions it marks. Default `controlplane-<random>`. */
  owner?: string;
  /** Issues each actor's own token (/run/ate/token) at every start; absent: actors get none. */
  actorTokens?: ActorTokenIssuer;
  /** Opens snapshot locations, for snapshot tags and forks. Default openBlobStore. */
  openSnapshots?: (uri: string) => BlobStore;
  /** Snapshot tags one atespace may hold (each owns a snapshot's copy). Default 100. */
  snapshotTagsPerAtespace?: number;
  /**
   * Where the control plane registers its metrics (ControlPlaneMetrics), served at the API's
   * /metrics. Default: a registry of its own.
   */
  metricsRegistry?: Registry;
}

/** Where suspends write when nothing else says (see ControlPlaneOptions.fallbackSnapshotLocation). */
export const defaultSnapshotLocation = "file:///var/lib/ate/snapshots";

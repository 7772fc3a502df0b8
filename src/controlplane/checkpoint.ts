import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Clock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { CheckpointResult, SnapshotScope } from "../node/index.ts";
import { type Actor, type SnapshotInfo, type Worker, withSnapshot } from "../records/index.ts";
import {
  historyToKeep,
  removeLocalSnapshots,
  removeSnapshots,
  supersededLocal,
  supersededSnapshots,
} from "./gc-owner.ts";
import { checkpointConfig } from "./snapshots-config.ts";
import { busy, identityOf, type LifecycleDeps, transitionMark } from "./transitions.ts";

/**
 * Suspend (external snapshot, scope onCommit) or Pause (snapshot kept on the node, scope
 * onPause). The actor is recorded where its snapshot really is: a suspend whose upload failed
 * leaves it PAUSED at the snapshot its node kept, and the caller hears why (UNAVAILABLE).
 */
export async function checkpointActor(
  d: LifecycleDeps,
  atespace: string,
  actorId: string,
  kind: "suspend" | "pause",
  signal?: AbortSignal,
): Promise<Actor> {
  let actor = await d.records.getActor(atespace, actorId);
  const target = kind === "suspend" ? "SUSPENDED" : "PAUSED";
  if (actor.status === target) return actor;
  if (actor.status === "PAUSED" && kind === "suspend") {
    throw new AteError(
      Code.FailedPrecondition,
      `actor ${atespace}/${actorId} is PAUSED on node ${actor.latestSnapshot?.nodes?.join(", ")}: resume it, then suspend it`,
    );
  }
  if (actor.status !== "RUNNING" || !actor.worker)
    throw actor.status === "SUSPENDED"
      ? new AteError(
          Code.FailedPrecondition,
          `actor ${atespace}/${actorId} is SUSPENDED; resume it before pausing`,
        )
      : busy(actor);
  const config = await checkpointConfig(actor, d.resources, d.fallbackSnapshotLocation, d.logger);
  const scope: SnapshotScope =
    kind === "suspend" ? (config.onCommit ?? "Full") : (config.onPause ?? "Full");
  const uri =
    kind === "suspend"
      ? `${config.location.replace(/\/+$/, "")}/${atespace}/${actorId}/${snapshotId(d.clock)}`
      : undefined;
  // Before anything is marked: a node that cannot be reached leaves the actor as it was.
  const node = d.nodes.get(actor.worker.node);
  actor = await d.records.updateActor({
    ...actor,
    status: kind === "suspend" ? "SUSPENDING" : "PAUSING",
    transition: transitionMark(d, kind, actor.worker.name),
    ...(uri ? { inProgressSnapshot: uri } : {}),
  });
  // Routers see the mark (WatchActors), stop forwarding and let requests under way finish.
  await d.hooks.beforeCheckpoint(actor);
  const workerRef = actor.worker as NonNullable<Actor["worker"]>;
  const worker = await d.records.getWorker(workerRef.namespace, workerRef.name);
  let result: CheckpointResult;
  try {
    // A frozen actor's sandbox runs again first (still marked frozen, which a running sandbox
    // may be): a paused netstack cannot take part in the drain (closing the routers'
    // connections), and an endpoint left open in a checkpoint restores broken. runsc could
    // checkpoint the paused sandbox as it is, but only by resetting its connections unseen.
    const call = signal ? { signal } : {};
    if (actor.tier === "frozen")
      await whenWorkerFree(
        () => node.thaw({ worker: workerRef.name, actor: identityOf(actor) }, call),
        signal,
      );
    result = await whenWorkerFree(
      () =>
        node.checkpoint(
          {
            worker: workerRef.name,
            actor: identityOf(actor),
            scope,
            destination: uri ? { kind: "external", uriPrefix: uri } : { kind: "local" },
          },
          call,
        ),
      signal,
    );
  } catch (err) {
    const stillRunning = await node.listWorkers().then(
      (ws) => ws.some((w) => w.name === workerRef.name && w.actor?.actorId === actorId),
      () => undefined,
    );
    if (stillRunning) {
      const { transition: _t, inProgressSnapshot: _s, ...rest } = actor;
      await d.records.updateActor({ ...rest, status: "RUNNING" });
    } else if (stillRunning === false) {
      // The sandbox is gone without a snapshot: the actor falls back to its last one.
      await finishCheckpoint(d, actor, worker, actor.latestSnapshot, "SUSPENDED");
    } // else the node cannot say: the reconciler settles the actor once its mark expires.
    throw err;
  }
  const info: SnapshotInfo = result.local
    ? { type: "LOCAL", scope, uri: result.uri, nodes: [workerRef.node] }
    : { type: "EXTERNAL", scope, uri: result.uri };
  if (result.uploadError !== undefined) {
    // The upload failed but the node kept the snapshot: the actor is paused there.
    const paused = await finishCheckpoint(d, actor, worker, info, "PAUSED");
    await removeLocalSnapshots(d.nodes, supersededLocal(actor, paused), d.logger);
    throw new AteError(
      Code.Unavailable,
      `${result.uploadError}; the snapshot was kept on node ${workerRef.node} at ${result.uri}, and actor ${atespace}/${actorId} is PAUSED there: resume it, then suspend it again`,
    );
  }
  if (kind === "pause") {
    // The node-local snapshot it resumed from (if any) is superseded: its node removes it,
    // after the commit, so no record ever names a removed one.
    const paused = await finishCheckpoint(d, actor, worker, info, target);
    await removeLocalSnapshots(d.nodes, supersededLocal(actor, paused), d.logger);
    return paused;
  }
  // The actor owns its snapshots: the history is cut to the template's
  // ate.dev/snapshot-history in the commit, and what it no longer names is removed after.
  const keep = await historyToKeep(d.resources, d.logger, actor).catch(() => undefined);
  const done = await finishCheckpoint(d, actor, worker, info, target, keep);
  await removeSnapshots(supersededSnapshots(actor, done), d.logger);
  await removeLocalSnapshots(d.nodes, supersededLocal(actor, done), d.logger);
  return done;
}

/** Frees the worker and records the snapshot (if any) in one step. */
export async function finishCheckpoint(
  d: LifecycleDeps,
  actor: Actor,
  worker: Worker,
  info: SnapshotInfo | undefined,
  status: "SUSPENDED" | "PAUSED",
  /** Snapshots the history keeps (the newest); absent: all. */
  keep?: number,
): Promise<Actor> {
  const {
    transition: _t,
    inProgressSnapshot: _s,
    worker: _w,
    latestSnapshot: _l,
    tier: _f, // a frozen actor's paused sandbox was checkpointed as it was
    ...rest
  } = actor;
  const next: Actor = {
    ...rest,
    status: info ? status : "SUSPENDED",
    ...(info ? withSnapshot(actor, info) : {}),
  };
  // The new latest is the last external one itself: an older one must not stay owned by it.
  if (info?.type === "EXTERNAL") delete next.lastExternalSnapshot;
  if (keep !== undefined && next.snapshots) next.snapshots = next.snapshots.slice(-keep);
  const released = await d.records.releaseWorker(worker, next);
  d.hooks.changed(released.actor);
  d.logger.info(`actor ${next.status.toLowerCase()}`, {
    actor: `${actor.atespace}/${actor.actorId}`,
    worker: worker.name,
    snapshot: info?.uri,
  });
  return released.actor;
}

function snapshotId(clock: Clock): string {
  return `${clock
    .now()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(4).toString("hex")}`;
}

/** How long a checkpoint waits out a freeze or thaw (tens of ms) holding the worker. */
const busyWaitMs = 2000;

/**
 * A node call retried while the worker is busy (ABORTED): the frozen tier pauses and resumes
 * sandboxes on its own, and a suspend that meets one must wait for it, not fail.
 */
async function whenWorkerFree<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + busyWaitMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isAteError(err, Code.Aborted) || Date.now() > deadline) throw err;
    }
    await sleep(10, undefined, signal ? { signal } : {});
  }
}

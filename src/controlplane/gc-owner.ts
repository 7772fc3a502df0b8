// An actor owns its external snapshots: what a suspend supersedes (past the template's
// ate.dev/snapshot-history) and everything at DeleteActor is removed at once, here, rather than
// waiting for the collector. The record is committed FIRST without them and the files removed
// after: a crash in between leaves files no record names, which the collector's grace sweep
// takes (gc.ts); never a record naming a snapshot that is gone.
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { type BlobStore, openBlobStore, snapshotSchemes } from "../blob/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { goldenAtespace } from "../node/index.ts";
import type { Actor, SnapshotInfo } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { removeSnapshotObjects, snapshotHistoryOf } from "../snapshots/index.ts";
import type { NodeDirectory } from "./nodes.ts";

/**
 * How many of the actor's snapshots its history keeps, or undefined to keep all: golden actors
 * (the collector removes a golden once its template's status moved on) and templates whose
 * annotation is invalid (never delete on a setting that cannot be read; logged).
 */
export async function historyToKeep(
  resources: ResourceStore,
  logger: Logger,
  actor: Actor,
): Promise<number | undefined> {
  if (actor.atespace === goldenAtespace) return undefined;
  const template = await resources
    .get(ActorTemplateType, actor.templateNamespace, actor.templateName)
    .catch((err) => {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    });
  try {
    return snapshotHistoryOf(template?.metadata.annotations);
  } catch (err) {
    logger.warn("keeping every snapshot of the actor", {
      actor: `${actor.atespace}/${actor.actorId}`,
      error: (err as Error).message,
    });
    return undefined;
  }
}

/** The external snapshots `before` names that `after` (the record as committed) no longer does. */
export function supersededSnapshots(before: Actor, after: Actor): string[] {
  const kept = new Set([
    ...(after.snapshots ?? []),
    after.latestSnapshot?.uri,
    after.lastExternalSnapshot?.uri,
    after.inProgressSnapshot,
  ]);
  return [...new Set(before.snapshots ?? [])].filter((u) => !kept.has(u) && isExternal(u));
}

/**
 * Removes the snapshots at `uris` (manifest first), best effort: a failure is logged and left
 * to the collector. Returns the bytes removed.
 */
export async function removeSnapshots(
  uris: readonly string[],
  logger: Logger,
  open: (uri: string) => BlobStore = openBlobStore,
): Promise<number> {
  let bytes = 0;
  for (const uri of uris) {
    try {
      const store = open(uri);
      const removed = await removeSnapshotObjects(store, await store.list(""));
      bytes += removed;
      logger.info("snapshot removed", { snapshot: uri, bytes: removed });
    } catch (err) {
      logger.warn("could not remove a snapshot; the collector will", {
        snapshot: uri,
        error: (err as Error).message,
      });
    }
  }
  return bytes;
}

/**
 * The node-local snapshot `before` pointed at that `after` (the record as committed; absent:
 * deleted) no longer does: superseded, as no restore starts from a local one but the latest.
 */
export function supersededLocal(before: Actor, after?: Actor): SnapshotInfo[] {
  const old = before.latestSnapshot;
  if (old?.type !== "LOCAL") return [];
  const kept = [after?.latestSnapshot, after?.lastExternalSnapshot].map((s) => s?.uri);
  return kept.includes(old.uri) || after?.inProgressSnapshot === old.uri ? [] : [old];
}

/**
 * Has each snapshot's node remove it, best effort: a node that cannot be reached, or fails,
 * is logged and left to the collector (it lists every node's own snapshots). Returns the
 * bytes removed.
 */
export async function removeLocalSnapshots(
  nodes: NodeDirectory,
  snapshots: readonly SnapshotInfo[],
  logger: Logger,
): Promise<number> {
  let bytes = 0;
  for (const s of snapshots)
    for (const node of s.nodes ?? []) {
      try {
        const removed = await nodes.get(node).deleteSnapshot(s.uri);
        bytes += removed;
        logger.info("node-local snapshot removed", { snapshot: s.uri, node, bytes: removed });
      } catch (err) {
        logger.warn("could not remove a node-local snapshot; the collector will", {
          snapshot: s.uri,
          node,
          error: (err as Error).message,
        });
      }
    }
  return bytes;
}

function isExternal(uri: string): boolean {
  try {
    return snapshotSchemes.includes(new URL(uri).protocol);
  } catch {
    return false;
  }
}

/**
 * After DeleteActor committed (its snapshots recorded as orphans in that commit): removes them
 * now; the collector deletes the orphans record once they are gone. A golden actor's are left
 * to the collector, which first checks no template's status still points at them.
 */
export async function removeDeletedActorSnapshots(
  actor: Actor,
  logger: Logger,
  nodes?: NodeDirectory,
): Promise<number> {
  if (actor.atespace === goldenAtespace) return 0;
  const none: Actor = { ...actor, snapshots: [] };
  delete none.latestSnapshot;
  delete none.lastExternalSnapshot;
  delete none.inProgressSnapshot;
  const externals = [
    ...supersededSnapshots(actor, none),
    // No longer in its history once it is the latest no more (see withSnapshot).
    ...[actor.latestSnapshot, actor.lastExternalSnapshot]
      .filter((s) => s?.type === "EXTERNAL" && !actor.snapshots?.includes(s.uri))
      .map((s) => s?.uri as string),
  ];
  const local = nodes ? await removeLocalSnapshots(nodes, supersededLocal(actor), logger) : 0;
  return local + (await removeSnapshots([...new Set(externals)], logger));
}

// The mark half of snapshot garbage collection: every snapshot some record points at, read from
// every record kind that can own one. Nothing here deletes; gc.ts sweeps what is left.
import { type ActorTemplate, ActorTemplateType } from "../api/v1alpha1/index.ts";
import type { Logger } from "../log/index.ts";
import { goldenAtespace } from "../node/index.ts";
import {
  type Actor,
  maxPageSize,
  type Orphans,
  type Records,
  SnapshotTags,
} from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { snapshotHistoryOf } from "../snapshots/index.ts";

export interface Marks {
  /** Snapshot URIs (normalised, see snapshotKey) some record points at: never deleted. */
  owned: Set<string>;
  /** Snapshots their owner let go of (history past N, deleted actors): deleted without grace. */
  released: Set<string>;
  /** Actors whose history lists released snapshots: their lists are trimmed after the sweep. */
  trim: Actor[];
  orphans: (Orphans & { key: string })[];
  /** Golden actors whose template is gone and that hold no worker: their records go first. */
  goldenLeftovers: Actor[];
  /** Every location a record or template names (where the sweep lists storage). */
  locations: Set<string>;
  /**
   * Actors (`atespace/actor`) with an operation under way: a pause writes its node-local
   * snapshot before the record names it, so their nodes' snapshots are left for a later run.
   */
  busy: Set<string>;
}

/**
 * Reads every record that can own a snapshot: actors (their latest, last external, in-progress
 * snapshot and the last N of their history; N from the template's ate.dev/snapshot-history),
 * templates (their golden), snapshot tags (their copy) and orphans (released, owned by no one).
 * A golden actor keeps one more than N: the previous golden stays until the next one is taken,
 * as resumes that read the template just before its status moved may still be restoring it.
 */
export async function markSnapshots(
  records: Records,
  resources: ResourceStore,
  logger?: Logger,
): Promise<Marks> {
  const m: Marks = {
    owned: new Set(),
    released: new Set(),
    trim: [],
    orphans: [],
    goldenLeftovers: [],
    locations: new Set(),
    busy: new Set(),
  };
  const own = (uri: string | undefined) => uri && m.owned.add(snapshotKey(uri));
  const templates = new Map<string, ActorTemplate>();
  for (const t of (await resources.list(ActorTemplateType)).items) {
    templates.set(`${t.metadata.namespace ?? "default"}/${t.metadata.name}`, t);
    m.locations.add(t.spec.snapshotsConfig.location);
    own(t.status?.goldenSnapshot);
  }
  for (let token = ""; ; ) {
    const page = await records.listActors({ pageSize: maxPageSize, pageToken: token });
    for (const a of page.actors) {
      const template = templates.get(`${a.templateNamespace}/${a.templateName}`);
      if (a.snapshotsConfig) m.locations.add(a.snapshotsConfig.location);
      own(a.latestSnapshot?.uri);
      own(a.lastExternalSnapshot?.uri);
      own(a.inProgressSnapshot);
      if (a.transition || !["RUNNING", "SUSPENDED", "PAUSED"].includes(a.status))
        m.busy.add(`${a.atespace}/${a.actorId}`);
      const history = a.snapshots ?? [];
      let keep: number;
      try {
        keep = snapshotHistoryOf(template?.metadata.annotations);
      } catch (err) {
        // Never delete on a setting that cannot be read: the whole history is kept.
        logger?.warn("keeping every snapshot of the actor", {
          actor: `${a.atespace}/${a.actorId}`,
          error: (err as Error).message,
        });
        keep = history.length;
      }
      if (a.atespace === goldenAtespace) keep += 1;
      for (const uri of history.slice(-keep)) own(uri);
      const past = history.slice(0, Math.max(0, history.length - keep));
      if (past.length) {
        for (const uri of past) m.released.add(snapshotKey(uri));
        m.trim.push(a);
      }
      if (a.atespace === goldenAtespace && !template && !a.worker && !a.transition)
        m.goldenLeftovers.push(a);
    }
    if (!page.nextPageToken) break;
    token = page.nextPageToken;
  }
  for (const tag of await new SnapshotTags(records.store).list()) own(tag.snapshot?.uri);
  for (const orphan of await records.orphanedSnapshots()) {
    // Its key, as Records.deleteActor wrote it: the collector deletes the record by it.
    m.orphans.push({ ...orphan, key: `${orphan.atespace}/${orphan.actorId}/${orphan.deletedAt}` });
    for (const uri of orphan.snapshots ?? []) m.released.add(snapshotKey(uri));
  }
  // Owned wins: a snapshot both let go of and pointed at (e.g. by a tag made from it) stays.
  for (const uri of m.owned) m.released.delete(uri);
  return m;
}

/** A snapshot URI as the sweep compares them: no trailing slash, file:// paths canonical. */
export function snapshotKey(uri: string): string {
  let u = uri.replace(/\/+$/, "");
  if (u.startsWith("file:")) {
    try {
      u = new URL(u).href.replace(/\/+$/, "");
    } catch {
      // an unparsable URI names nothing the sweep lists; kept as written
    }
  }
  return u;
}

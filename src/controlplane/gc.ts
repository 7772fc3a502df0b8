// Snapshot garbage collection: mark (gc-mark.ts) every snapshot a record points at, sweep the
// rest. The order is what makes it safe against a concurrent suspend: storage is listed FIRST
// and records read after, so every object listed was either already pointed at when the
// records are read (a suspend marks its actor's inProgressSnapshot before the node writes a
// byte, and commits latestSnapshot after), or is unowned and judged by its age: copies that
// commit their record last with no mark before (snapshot tags, goldens) are younger than the
// grace period while they are being written.
import type { BlobInfo, BlobStore } from "../blob/index.ts";
import { openBlobStore, snapshotSchemes } from "../blob/index.ts";
import type { Logger } from "../log/index.ts";
import type { Records } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { removeSnapshotObjects } from "../snapshots/index.ts";
import { listNodeSnapshots, localGarbage, type NodeListing } from "./gc-local.ts";
import { type Marks, markSnapshots, snapshotKey } from "./gc-mark.ts";
import type { NodeDirectory } from "./nodes.ts";

/** Default grace: far longer than any upload of a snapshot or a tag's copy takes. */
export const defaultGcGraceMs = 60 * 60 * 1000;

export interface GcOptions {
  records: Records;
  resources: ResourceStore;
  /** Swept too: where actors without a recorded location wrote (ate up's state directory). */
  fallbackLocation?: string;
  /** Unowned objects younger than this stay (they may be a copy not yet committed). */
  graceMs?: number;
  /**
   * The nodes, whose own (paused actors') snapshots are swept too (gc-local.ts); absent:
   * those are left to the control plane's removals after each pause and DeleteActor.
   */
  nodes?: NodeDirectory;
  /** Print what would go; change nothing. */
  dryRun?: boolean;
  now?: () => number;
  open?: (uri: string) => BlobStore;
  signal?: AbortSignal;
  logger?: Logger;
  /**
   * Called before every step that changes storage or records, named; the crash test kills the
   * collector in it (ATE_GC_CRASH_AT), to show that a collector dying anywhere loses nothing.
   */
  step?: (name: string) => Promise<void> | void;
}

export interface GcRemoval {
  /** The snapshot (or leftover prefix) removed. */
  uri: string;
  bytes: number;
  /** released: its owner let it go; unowned: no record points at it and it is past the grace. */
  reason: "released" | "unowned";
}

export interface GcReport {
  removals: GcRemoval[];
  bytes: number;
  /** Records tidied: histories trimmed, orphans and golden leftovers deleted. */
  recordsChanged: number;
  /** Locations that could not be listed (not file:// or s3://, or unreachable), with why. */
  skipped: { location: string; error: string }[];
}

/** One collection: mark, sweep, then tidy the records that named what was swept. */
export async function collectGarbage(o: GcOptions): Promise<GcReport> {
  const step = o.step ?? (() => {});
  const report: GcReport = { removals: [], bytes: 0, recordsChanged: 0, skipped: [] };
  const now = (o.now ?? Date.now)();
  const grace = o.graceMs ?? defaultGcGraceMs;
  // Golden actors of deleted templates go first: their snapshots become orphans (released).
  const first = await markSnapshots(o.records, o.resources, o.logger);
  if (!o.dryRun)
    for (const a of first.goldenLeftovers) {
      await step("delete-golden-actor");
      await o.records.deleteActor(a, new Date(now)).then(
        () => report.recordsChanged++,
        () => {}, // changed meanwhile (resumed): judged again on the next run
      );
    }
  const locations = new Set(first.locations);
  if (o.fallbackLocation) locations.add(o.fallbackLocation);
  // 1. List storage, before the records are read (see the top of the file).
  const listed: { store: BlobStore; objects: BlobInfo[] }[] = [];
  for (const location of locations) {
    try {
      const scheme = new URL(location).protocol;
      if (!snapshotSchemes.includes(scheme)) throw new Error(`scheme ${scheme} is not swept`);
      const store = (o.open ?? openBlobStore)(location);
      const objects = await store.list("", o.signal ? { signal: o.signal } : {});
      listed.push({ store, objects: objects.filter((b) => sweepable(b.key)) });
    } catch (err) {
      report.skipped.push({ location, error: (err as Error).message });
    }
  }
  const nodeListing = o.nodes ? await listNodeSnapshots(o.nodes, o.signal) : undefined;
  report.skipped.push(...(nodeListing?.skipped ?? []));
  // 2. Mark, from the records as they are now.
  const marks = await markSnapshots(o.records, o.resources, o.logger);
  if (o.dryRun)
    // What deleting those golden actors would release (a real run deleted them above).
    for (const a of marks.goldenLeftovers)
      for (const uri of [...(a.snapshots ?? []), a.latestSnapshot?.uri ?? ""].filter(Boolean)) {
        marks.owned.delete(snapshotKey(uri));
        marks.released.add(snapshotKey(uri));
      }
  // 3. Sweep what no record owns.
  const gone = new Set<string>();
  for (const { store, objects } of dedupe(listed)) {
    const base = snapshotKey(store.uri);
    for (const [unit, files] of units(objects)) {
      const free = files.filter((f) => !ownedObject(marks, `${base}/${f.key}`));
      if (!free.length) continue;
      const uri = `${base}/${unit}`;
      const released = marks.released.has(uri);
      const newest = Math.max(...free.map((f) => f.modifiedAt ?? Number.POSITIVE_INFINITY));
      if (!released && !(grace === 0 || newest <= now - grace)) continue;
      const bytes = free.reduce((n, f) => n + f.size, 0);
      if (!o.dryRun) {
        await step("delete-snapshot");
        await removeSnapshotObjects(store, free, {
          ...(o.signal ? { signal: o.signal } : {}),
          beforeEach: () => step("delete-object"),
        });
      }
      gone.add(uri);
      report.removals.push({ uri, bytes, reason: released ? "released" : "unowned" });
      report.bytes += bytes;
      o.logger?.info(o.dryRun ? "gc would remove" : "gc removed", { snapshot: uri, bytes });
    }
  }
  await sweepNodes(o, marks, nodeListing?.listed ?? [], now, grace, report, step);
  const nodeBases = (nodeListing?.listed ?? []).map((l) => `${snapshotKey(l.location)}/`);
  if (!o.dryRun) report.recordsChanged += await tidyRecords(o, marks, listed, nodeBases, step);
  return report;
}

/** Node-local snapshots no record points at: their nodes remove them (see gc-local.ts). */
async function sweepNodes(
  o: GcOptions,
  marks: Marks,
  listings: NodeListing[],
  now: number,
  grace: number,
  report: GcReport,
  step: (name: string) => Promise<void> | void,
): Promise<void> {
  for (const l of listings)
    for (const { snapshot, reason } of localGarbage(l, marks, now, grace)) {
      let bytes = snapshot.bytes;
      if (!o.dryRun) {
        await step("delete-node-snapshot");
        try {
          const node = (o.nodes as NodeDirectory).get(l.node);
          bytes = await node.deleteSnapshot(snapshot.uri, o.signal ? { signal: o.signal } : {});
        } catch (err) {
          report.skipped.push({ location: snapshot.uri, error: (err as Error).message });
          continue;
        }
      }
      report.removals.push({ uri: snapshot.uri, bytes, reason });
      report.bytes += bytes;
      o.logger?.info(o.dryRun ? "gc would remove" : "gc removed", {
        snapshot: snapshot.uri,
        node: l.node,
        bytes,
      });
    }
}

/**
 * Histories trimmed to what is kept and orphans records deleted, once none of what they name is
 * left in storage: after the sweep, so a collector killed in between finds them on its next
 * run and deletes again (deleting is idempotent). A record changed meanwhile is left for then.
 */
async function tidyRecords(
  o: GcOptions,
  marks: Marks,
  listed: { store: BlobStore; objects: BlobInfo[] }[],
  nodeBases: string[],
  step: (name: string) => Promise<void> | void,
): Promise<number> {
  const sweptOrGone = (uri: string) => {
    const k = snapshotKey(uri);
    return marks.released.has(k) && !marks.owned.has(k);
  };
  let changed = 0;
  for (const a of marks.trim) {
    await step("trim-history");
    // The actor as it is now: its history only grew meanwhile, so what was past the last N
    // at the mark still is.
    const fresh = await o.records.getActor(a.atespace, a.actorId).catch(() => undefined);
    if (!fresh) continue;
    const snapshots = (fresh.snapshots ?? []).filter((u) => !sweptOrGone(u));
    await o.records.updateActor({ ...fresh, snapshots }).then(
      () => changed++,
      () => {},
    );
  }
  for (const orphan of marks.orphans) {
    // Only where every location it names was listed: an unreachable bucket keeps the record.
    const listedBases = [...listed.map((l) => `${snapshotKey(l.store.uri)}/`), ...nodeBases];
    const all = orphan.snapshots ?? [];
    if (!all.every((u) => listedBases.some((b) => snapshotKey(u).startsWith(b)) || isLocal(u)))
      continue;
    await step("delete-orphans");
    const value = (await o.records.store.get("orphans", orphan.key)) as
      | { version?: number }
      | undefined;
    if (!value?.version) continue;
    await o.records.store
      .commit([{ kind: "orphans", key: orphan.key, expectVersion: value.version }])
      .then(
        () => changed++,
        () => {},
      );
  }
  return changed;
}

/** Node-local snapshots (`LOCAL`) are not in any location; their node removes them. */
function isLocal(uri: string): boolean {
  return !/^(file|s3|gs):/.test(uri);
}

function ownedObject(marks: Marks, objectUri: string): boolean {
  // An object is owned when a marked snapshot's prefix holds it.
  for (let i = objectUri.lastIndexOf("/"); i > 0; i = objectUri.lastIndexOf("/", i - 1))
    if (marks.owned.has(objectUri.slice(0, i))) return true;
  return false;
}

/**
 * Only keys shaped as ate writes them are ever swept, so a location shared with anything else
 * (a bucket prefix holding other data, ate migrate's `_runtime`) loses nothing it did not
 * make: `<atespace>/<actor>/<snapshot id>/…` and snapshot tags' `_tags/<atespace>/<name>/…`.
 */
function sweepable(key: string): boolean {
  const s = key.split("/");
  if (s[0] === "_tags") return s.length >= 4 && label.test(s[1] ?? "") && label.test(s[2] ?? "");
  return s.length >= 4 && label.test(s[0] ?? "") && label.test(s[1] ?? "") && id.test(s[2] ?? "");
}
const label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const id = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/**
 * Objects grouped by the snapshot they belong to (3 segments: an actor's snapshot, or a tag's
 * `_tags/<atespace>/<name>` prefix); ownership is still judged object by object.
 */
function units(objects: BlobInfo[]): Map<string, BlobInfo[]> {
  const out = new Map<string, BlobInfo[]>();
  for (const b of objects) {
    const unit = b.key.split("/").slice(0, 3).join("/");
    const list = out.get(unit);
    if (list) list.push(b);
    else out.set(unit, [b]);
  }
  return out;
}

/** Two spellings of one location are listed once (the same objects, deleted once). */
function dedupe<T extends { store: BlobStore }>(listed: T[]): T[] {
  const seen = new Set<string>();
  return listed.filter(
    (l) => !seen.has(snapshotKey(l.store.uri)) && !!seen.add(snapshotKey(l.store.uri)),
  );
}

import { join } from "node:path";
import type { Resource, ResourceType } from "../api/schema/index.ts";
import {
  type ActorTemplate,
  ActorTemplateType,
  type SandboxAsset,
  type SandboxConfig,
  SandboxConfigType,
  type WorkerPool,
  WorkerPoolType,
} from "../api/v1alpha1/index.ts";
import { localAdminTokenName } from "../auth/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { goldenActorId, goldenAtespace } from "../node/index.ts";
import { type Actor, actorKey, type RecordKind, type SnapshotInfo } from "../records/index.ts";
import { fileLocationPath, localSnapshot, type SnapshotsTarget } from "./locations.ts";
import { namespacesAndSecrets, type PlannedResource } from "./plan-core.ts";
import type { RuntimeAssets } from "./runtime-assets.ts";
import type { ExpectedOwner, SnapshotCopier } from "./snapshot-copy.ts";
import type { UpState } from "./source.ts";

export type { PlannedResource } from "./plan-core.ts";

/** A record as it goes to the cluster (without its version: it starts at 1 there). */
export interface PlannedRecord {
  kind: RecordKind;
  key: string;
  value: Record<string, unknown>;
  what: string;
}

export interface Plan {
  resources: PlannedResource[];
  records: PlannedRecord[];
  /** What was decided about individual things (moved as SUSPENDED, left behind), one a line. */
  notes: string[];
}

export interface PlanContext {
  state: UpState;
  target: SnapshotsTarget;
  snapshots: SnapshotCopier;
  assets: RuntimeAssets;
  /** Gather what cannot move and throw it all at the end (the checking pass); else throw at once. */
  gather: boolean;
}

/** What a problem of ate up's state is (as opposed to a store that cannot be reached). */
const gathered = new Set([
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.DataLoss,
  Code.AlreadyExists,
  Code.NotFound,
  Code.InvalidArgument,
  Code.Aborted,
]);

/**
 * What the cluster gets from a stopped `ate up`, with its snapshots copied on the way (the
 * copier only checks them in a dry run): resources with their snapshot locations and local
 * runtime urls moved to S3, records with every snapshot uri rewritten to its copy. Problems
 * are gathered, not thrown one by one, so one run names all of them.
 */
export async function buildPlan(c: PlanContext): Promise<Plan> {
  const problems: string[] = [];
  const notes: string[] = [];
  const attempt = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (err) {
      // Checking: what is wrong with the state is gathered; a store that fails is not.
      if (!c.gather || !(err instanceof AteError) || !gathered.has(err.code)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const resources: PlannedResource[] = namespacesAndSecrets(c.state);
  for (const sc of c.state.sandboxConfigs) {
    const r = await attempt(() => sandboxConfig(c, sc));
    if (r) resources.push(r);
  }
  for (const p of c.state.pools) resources.push(pool(p));
  const goldens = new Set<string>();
  for (const t of c.state.templates) {
    const r = await attempt(() => template(c, t, notes));
    if (!r) continue;
    resources.push(r);
    if (r.status) goldens.add(goldenActorId(t.metadata.namespace ?? "default", t.metadata.name));
  }

  const records: PlannedRecord[] = c.state.atespaces.map((a) => {
    const { version: _v, ...value } = a;
    return { kind: "atespace", key: a.name, value, what: `atespace ${a.name}` };
  });
  for (const t of c.state.tokens) {
    const name = String(t.name);
    if (name === localAdminTokenName || /^admin-[0-9a-f]{8}$/.test(name)) {
      // Each control plane makes its own; this one, left in a file on the old machine,
      // would otherwise stay an admin of the cluster.
      notes.push(
        `token ${name}: ate up's own admin credential (admin.token in its state dir) is not copied; each control plane makes its own`,
      );
      continue;
    }
    const { version: _v, ...value } = t;
    records.push({ kind: "token", key: name, value, what: `token ${name}` });
  }
  for (const a of c.state.actors) {
    if (a.atespace === goldenAtespace && !goldens.has(a.actorId)) continue; // taken again
    const value = await attempt(() => actor(c, a, notes));
    if (value)
      records.push({
        kind: "actor",
        key: actorKey(a.atespace, a.actorId),
        value: value as unknown as Record<string, unknown>,
        what: `actor ${a.atespace}/${a.actorId}`,
      });
  }
  if (problems.length)
    throw new AteError(
      Code.FailedPrecondition,
      `${problems.length} thing(s) of ate up cannot be migrated; nothing was written: ${problems.join("; ")}`,
      [
        `Error: ${problems.length} thing(s) of ate up cannot be migrated; nothing was written to the cluster's records:`,
        ...problems.map((p) => `  ${p}`),
      ],
    );
  return { resources, records, notes };
}

/** A resource's metadata as applied: what its owner gave it, nothing the store made. */
function meta(r: Resource): Resource["metadata"] {
  const m = r.metadata;
  return {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

async function sandboxConfig(c: PlanContext, sc: SandboxConfig): Promise<PlannedResource> {
  const what = `SandboxConfig ${sc.metadata.name}`;
  const assets: Record<string, Record<string, SandboxAsset>> = {};
  for (const [arch, named] of Object.entries(sc.spec.assets ?? {})) {
    assets[arch] = {};
    for (const [name, asset] of Object.entries(named))
      (assets[arch] as Record<string, SandboxAsset>)[name] = await c.assets.place(
        asset,
        what,
        false,
      );
  }
  const spec = { ...sc.spec, ...(sc.spec.assets ? { assets } : {}) };
  return {
    type: SandboxConfigType as ResourceType,
    object: { apiVersion: sc.apiVersion, kind: sc.kind, metadata: meta(sc), spec },
    what,
  };
}

function pool(p: WorkerPool): PlannedResource {
  return {
    type: WorkerPoolType as ResourceType,
    object: { apiVersion: p.apiVersion, kind: p.kind, metadata: meta(p), spec: p.spec },
    what: `WorkerPool ${p.metadata.namespace ?? "default"}/${p.metadata.name}`,
  };
}

/** Where ate up may have written a snapshot of an actor (or golden actor) of this template. */
function roots(c: PlanContext, ...locations: (string | undefined)[]): string[] {
  // The state dir as given and as it resolves: ate up named its snapshots by either.
  const dirs = [...new Set([c.state.stateDir, c.state.realStateDir])].flatMap((d) => [
    join(d, "snapshots"),
    join(d, "node", "snapshots"),
  ]);
  for (const l of locations) {
    const dir = l === undefined ? undefined : fileLocationPath(l);
    if (dir !== undefined) dirs.push(dir);
  }
  return [...new Set(dirs)];
}

/** file:// locations become the S3 prefix; others (s3://, gs://) stay. */
function location(c: PlanContext, l: string): string {
  return l.startsWith("file:") ? c.target.uri : l;
}

async function template(
  c: PlanContext,
  t: ActorTemplate,
  notes: string[],
): Promise<PlannedResource> {
  const ns = t.metadata.namespace ?? "default";
  const what = `ActorTemplate ${ns}/${t.metadata.name}`;
  const loc = t.spec.snapshotsConfig.location;
  const spec = {
    ...t.spec,
    snapshotsConfig: { ...t.spec.snapshotsConfig, location: location(c, loc) },
  };
  const planned: PlannedResource = {
    type: ActorTemplateType as ResourceType,
    object: { apiVersion: t.apiVersion, kind: t.kind, metadata: meta(t), spec },
    what,
  };
  const golden = t.status?.goldenSnapshot;
  if (t.status?.phase !== "Ready" || !golden) {
    notes.push(`${what}: no golden snapshot yet; the cluster takes it`);
    return planned;
  }
  if (!golden.startsWith("file:")) return { ...planned, status: t.status };
  const owner: ExpectedOwner = {
    atespace: goldenAtespace,
    actorId: goldenActorId(ns, t.metadata.name),
    template: { namespace: ns, name: t.metadata.name },
  };
  const source = localSnapshot(golden, owner, roots(c, loc), `${what}'s golden snapshot`);
  try {
    const copy = await c.snapshots.copy(source, owner, `${what}'s golden snapshot`);
    const conditions = t.status.conditions?.map((k) => ({
      ...k,
      message: k.message?.replaceAll(golden, copy.uri),
    }));
    return {
      ...planned,
      status: { ...t.status, goldenSnapshot: copy.uri, ...(conditions ? { conditions } : {}) },
    };
  } catch (err) {
    // Gone (never committed, or deleted): the cluster's controller makes it again.
    if (!isAteError(err, Code.FailedPrecondition)) throw err;
    notes.push(`${what}: its golden snapshot ${golden} is gone; the cluster takes it again`);
    return planned;
  }
}

/**
 * The actor as the cluster records it: SUSPENDED at the copy of its latest snapshot. A
 * PAUSED actor's snapshot was on ate up's node, so it moves SUSPENDED at the copy of that
 * one (its newest state). Actors in any other state did not stop with ate up, and are refused.
 */
async function actor(c: PlanContext, a: Actor, notes: string[]): Promise<Omit<Actor, "version">> {
  const name = `${a.atespace}/${a.actorId}`;
  if (a.status !== "SUSPENDED" && a.status !== "PAUSED")
    throw new AteError(
      Code.FailedPrecondition,
      `actor ${name} is ${a.status}${a.worker ? ` on worker ${a.worker.name}` : ""}: ate up did not stop cleanly; start it again and stop it with Ctrl-C (it suspends its running actors), then migrate`,
    );
  const {
    version: _v,
    worker: _w,
    transition: _t,
    inProgressSnapshot: _s,
    lastExternalSnapshot: _e,
    latestSnapshot: latest,
    snapshots: history,
    snapshotsConfig: config,
    ...rest
  } = a;
  const tmpl = c.state.templates.find(
    (t) =>
      (t.metadata.namespace ?? "default") === a.templateNamespace &&
      t.metadata.name === a.templateName,
  );
  const copied = new Map<string, string>();
  let moved: SnapshotInfo | undefined;
  if (latest) {
    if (latest.uri.startsWith("file:")) {
      const owner = { atespace: a.atespace, actorId: a.actorId };
      const what = `actor ${name}`;
      const source = localSnapshot(
        latest.uri,
        owner,
        roots(c, tmpl?.spec.snapshotsConfig.location, config?.location),
        what,
      );
      const copy = await c.snapshots.copy(source, owner, what);
      copied.set(latest.uri, copy.uri);
      moved = { type: "EXTERNAL", scope: latest.scope, uri: copy.uri };
    } else if (latest.type === "LOCAL") {
      throw new AteError(
        Code.FailedPrecondition,
        `actor ${name}: its snapshot ${latest.uri} is LOCAL but not a file:// path of ate up's node; it cannot be copied: resume and suspend it in ate up, then migrate`,
      );
    } else moved = latest;
  }
  if (a.status === "PAUSED")
    notes.push(
      `actor ${name}: PAUSED on ate up's node; SUSPENDED in the cluster at ${moved?.uri ?? "(no snapshot)"}`,
    );
  const kept = (history ?? []).flatMap((u) =>
    copied.has(u) ? [copied.get(u) as string] : u.startsWith("file:") ? [] : [u],
  );
  return {
    ...rest,
    status: "SUSPENDED",
    ...(moved ? { latestSnapshot: moved } : {}),
    ...(kept.length ? { snapshots: kept } : {}),
    ...(config ? { snapshotsConfig: { ...config, location: location(c, config.location) } } : {}),
  };
}

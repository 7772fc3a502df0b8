import { admitResource, type Resource } from "../api/schema/index.ts";
import { NamespaceType } from "../api/v1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { RecordStore } from "../records/index.ts";
import { type ResourceStore, sameJson } from "../resources/index.ts";
import type { Plan, PlannedRecord, PlannedResource } from "./plan.ts";

export interface Targets {
  records: RecordStore;
  resources: ResourceStore;
}

/** What a write of the plan does to each thing: make it, leave it (already so), or set a status. */
export type Step = "create" | "unchanged" | "status";

export interface CheckedPlan {
  resources: { planned: PlannedResource; step: Step }[];
  records: { planned: PlannedRecord; step: Step }[];
}

/**
 * Compares the plan with what the cluster's stores hold: a thing absent is created; one
 * already there with the same content (a migration run before) is left; one there with other
 * content (made by the cluster, or by another migration) is never overwritten: all of those
 * are named in one error, before anything is written. Every resource passes admission here.
 */
export async function checkTargets(plan: Plan, t: Targets): Promise<CheckedPlan> {
  const conflicts: string[] = [];
  const resources: CheckedPlan["resources"] = [];
  const declared = new Set(
    plan.resources.filter((p) => p.type.kind === "Namespace").map((p) => p.object.metadata.name),
  );
  for (const planned of plan.resources) {
    try {
      const step = await resourceStep(planned, t.resources, declared);
      if (step) resources.push({ planned, step });
      else conflicts.push(differs(planned.what));
    } catch (err) {
      conflicts.push(`${planned.what}: ${AteError.from(err).message}`);
    }
  }
  const records: CheckedPlan["records"] = [];
  for (const planned of plan.records) {
    const there = await t.records.get(planned.kind, planned.key);
    if (!there) records.push({ planned, step: "create" });
    else if (sameRecord(there, planned.value)) records.push({ planned, step: "unchanged" });
    else conflicts.push(differs(planned.what));
  }
  if (conflicts.length)
    throw new AteError(
      Code.AlreadyExists,
      `${conflicts.length} thing(s) exist in the cluster with other content; nothing was written: ${conflicts.join("; ")}`,
      [
        `Error: ${conflicts.length} thing(s) already exist in the cluster's records or resources with other content; nothing was written (the snapshots copied so far are kept, and found on the next run):`,
        ...conflicts.map((c) => `  ${c}`),
        "Migrate into Valkey before any control plane starts on it (it makes its own default atespace and runtime), or delete those there first.",
      ],
    );
  return { resources, records };
}

/** Writes what checkTargets found missing: resources first, then atespaces, tokens, actors. */
export async function writeTargets(
  checked: CheckedPlan,
  t: Targets,
  say: (line: string) => void,
): Promise<void> {
  for (const { planned, step } of checked.resources) {
    if (step === "unchanged") continue;
    const { type } = planned;
    let current: Resource;
    if (step === "create") {
      current = await t.resources.create(type, planned.object);
      say(`  created ${planned.what}`);
    } else
      current = await t.resources.get(
        type,
        planned.object.metadata.namespace,
        planned.object.metadata.name,
      );
    if (planned.status !== undefined) {
      await t.resources.updateStatus(type, { ...current, status: planned.status });
      say(
        `  ${planned.what}: status ${step === "create" ? "kept" : "set"} (golden snapshot in S3)`,
      );
    }
  }
  for (const { planned, step } of checked.records) {
    if (step !== "create") continue;
    try {
      await t.records.commit([
        { kind: planned.kind, key: planned.key, expectVersion: 0, value: planned.value },
      ]);
    } catch (err) {
      // Made meanwhile by someone else: fine if it is the same, refused if not.
      const there = await t.records.get(planned.kind, planned.key);
      if (!there || !sameRecord(there, planned.value)) {
        if (isAteError(err, Code.Aborted) || isAteError(err, Code.AlreadyExists))
          throw new AteError(Code.AlreadyExists, differs(planned.what));
        throw err;
      }
    }
    say(`  created ${planned.what}`);
  }
}

/** The step a planned resource needs, or undefined when the cluster holds it otherwise. */
async function resourceStep(
  planned: PlannedResource,
  store: ResourceStore,
  declared: ReadonlySet<string>,
): Promise<Step | undefined> {
  const { type, object } = planned;
  const ns = object.metadata.namespace;
  // An object in a namespace this plan creates cannot be dry-run before the namespace is
  // there: admitted as the server would admit it, and nothing of it can be there yet.
  if (ns !== undefined && declared.has(ns) && !(await exists(store, ns))) {
    admitResource(type, object);
    return "create";
  }
  // Admission as on any create: a rewritten resource that would be refused fails here.
  const admitted = await store.create(type, object, { dryRun: true });
  let there: Resource;
  try {
    there = await store.get(type, object.metadata.namespace, object.metadata.name);
  } catch (err) {
    if (isAteError(err, Code.NotFound)) return "create";
    throw err;
  }
  const same =
    sameJson(content(admitted), content(there)) &&
    sameJson(admitted.metadata.labels ?? {}, there.metadata.labels ?? {}) &&
    sameJson(admitted.metadata.annotations ?? {}, there.metadata.annotations ?? {});
  if (!same) return undefined;
  if (planned.status === undefined || sameJson(planned.status, there.status)) return "unchanged";
  // Created by a run cut short before its status: finished now. Any other status is the
  // cluster's own (its controller ran since), and is not overwritten.
  const empty = there.status === undefined || sameJson(there.status, {});
  return empty ? "status" : undefined;
}

async function exists(store: ResourceStore, namespace: string): Promise<boolean> {
  try {
    await store.get(NamespaceType, undefined, namespace);
    return true;
  } catch (err) {
    if (isAteError(err, Code.NotFound)) return false;
    throw err;
  }
}

/** What an object holds beside its metadata and status: spec, or a Secret's type and data. */
function content(r: Resource): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = r;
  return rest;
}

function sameRecord(there: Record<string, unknown>, value: Record<string, unknown>): boolean {
  const { version: _v, ...rest } = there;
  return sameJson(rest, value);
}

function differs(what: string): string {
  return `${what} exists there with other content; it was left as it is`;
}

import { resolve } from "node:path";
import { type BlobStore, openBlobStore } from "../blob/index.ts";
import type { RecordStore } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { parseSnapshotsTarget } from "./locations.ts";
import { buildPlan } from "./plan.ts";
import { RuntimeAssets } from "./runtime-assets.ts";
import { SnapshotCopier } from "./snapshot-copy.ts";
import { holdStateDir, readUpState } from "./source.ts";
import { type CheckedPlan, checkTargets, writeTargets } from "./targets.ts";

export interface MigrateOptions {
  /** The stopped `ate up`'s state directory. */
  stateDir: string;
  /** The cluster's records store (Valkey). */
  records: RecordStore;
  /** The cluster's resource store (Valkey). */
  resources: ResourceStore;
  /** `s3://BUCKET[/PREFIX]`: where snapshots (and ate up's runtime) are copied. */
  snapshots: string;
  /** Check everything and say what would be done; write nothing. */
  dryRun?: boolean;
  /** How a snapshot location is opened. Default openBlobStore (S3 from the AWS_* variables). */
  open?: (uri: string) => BlobStore;
  /** Progress and decisions, one line at a time. */
  say: (line: string) => void;
}

export interface MigrateResult {
  /** Per step, how many resources and records: created (or would be), already there. */
  resources: Record<"create" | "unchanged" | "status", number>;
  records: Record<"create" | "unchanged" | "status", number>;
}

/**
 * Moves a stopped `ate up` to a cluster, keeping its actors: snapshots to S3 (verified, each
 * manifest last), then resources, then records (atespaces, tokens, actors) into the cluster's
 * stores with every snapshot uri rewritten to its copy. Everything is checked before anything
 * is written (a dry run stops there); a run cut short is finished by running it again, and a
 * thing the cluster already holds with other content is never overwritten.
 */
export async function migrate(o: MigrateOptions): Promise<MigrateResult> {
  const target = parseSnapshotsTarget(o.snapshots);
  const stateDir = resolve(o.stateDir);
  const release = holdStateDir(stateDir);
  try {
    const state = await readUpState(stateDir);
    const open = o.open ?? ((uri: string) => openBlobStore(uri));
    const pass = async (dryRun: boolean, say: (line: string) => void) => {
      const assets = new RuntimeAssets({ stateDir, target, open, dryRun, say });
      const snapshots = new SnapshotCopier({ target, open, assets, dryRun, say });
      return buildPlan({ state, target, snapshots, assets, gather: dryRun });
    };
    // First every check, reading only: what cannot move, what the cluster holds otherwise.
    const planned = await pass(true, o.dryRun ? o.say : () => {});
    let checked = await checkTargets(planned, o);
    if (o.dryRun) {
      sayPlan(checked, o.say, "would create");
      for (const n of planned.notes) o.say(`  ${n}`);
      return tally(checked);
    }
    // Then the copies (snapshots before the records that name them), and the writes.
    const plan = await pass(false, o.say);
    checked = await checkTargets(plan, o);
    await writeTargets(checked, o, o.say);
    for (const n of plan.notes) o.say(`  ${n}`);
    return tally(checked);
  } finally {
    release();
  }
}

function sayPlan(checked: CheckedPlan, say: (line: string) => void, verb: string): void {
  for (const { planned, step } of [...checked.resources, ...checked.records]) {
    if (step === "create") say(`  ${verb} ${planned.what}`);
    else if (step === "status") say(`  would set the status of ${planned.what}`);
  }
}

function tally(checked: CheckedPlan): MigrateResult {
  const count = (steps: { step: "create" | "unchanged" | "status" }[]) => {
    const out = { create: 0, unchanged: 0, status: 0 };
    for (const s of steps) out[s.step]++;
    return out;
  };
  return { resources: count(checked.resources), records: count(checked.records) };
}

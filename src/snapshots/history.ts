import { AteError, Code } from "../errors/index.ts";

/** The ActorTemplate annotation saying how many of an actor's external snapshots to keep. */
export const snapshotHistoryAnnotation = "ate.dev/snapshot-history";

/** Kept when the annotation is absent: the latest alone (a suspend replaces the last one). */
export const defaultSnapshotHistory = 1;

/** Far above any sensible history, so a hostile value cannot make a collector keep everything. */
export const maxSnapshotHistory = 1000;

/**
 * How many snapshots of each actor of a template are kept, from its annotations: INVALID_ARGUMENT
 * naming the annotation when the value is not a whole number 1..1000 ("0" would delete the
 * snapshot the actor resumes from; "1e3", " 2", "0x10" are refused rather than guessed at).
 */
export function snapshotHistoryOf(annotations: Record<string, string> | undefined): number {
  const raw = annotations?.[snapshotHistoryAnnotation];
  if (raw === undefined) return defaultSnapshotHistory;
  const n = /^[1-9][0-9]{0,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= maxSnapshotHistory))
    throw new AteError(
      Code.InvalidArgument,
      `metadata.annotations[${snapshotHistoryAnnotation}]: Invalid value: ${JSON.stringify(String(raw).slice(0, 40))}: must be a whole number from 1 to ${maxSnapshotHistory}`,
    );
  return n;
}

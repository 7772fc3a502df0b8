import { join } from "node:path";
import { Lease } from "../lease/index.ts";
import type { Logger } from "../log/index.ts";
import { readPrivateFile, writePrivateFile } from "../private-files/index.ts";
import type { RecordStore } from "../records/index.ts";
import { Presence } from "./presence.ts";

/** A control plane's names in shared records: its transitions' owner and its lease holder. */
export interface RunNames {
  owner: string;
  leaseHolder: string;
}

/** In the state dir: the names of the runs on it that may not have released theirs. */
export const formerRunsFile = "controlplane-runs.json";
/** Runs remembered at most (one is forgotten once released). */
const maxRuns = 16;

/**
 * A control plane on shared records (Valkey) that dies without stopping (kill -9) leaves its
 * presence and maybe the controllers' lease held; others wait for them to go unrenewed (10 s)
 * before they lead, or settle the transitions it left. The next run on the same state dir
 * knows better: it holds the state dir's lock, so the runs before it are over. It releases
 * their presence and lease at once, so whoever leads (itself, now without waiting) settles
 * their transitions in its next pass. Call with the state dir locked, before this run marks
 * any transition.
 */
export async function releaseFormerRuns(o: {
  stateDir: string;
  store: RecordStore;
  run: RunNames;
  leaseName: string;
  logger: Logger;
}): Promise<void> {
  const path = join(o.stateDir, formerRunsFile);
  const former = parseRuns(readPrivateFile(path));
  // This run first: if it dies before it releases, the next one does.
  writePrivateFile(path, JSON.stringify([o.run, ...former].slice(0, maxRuns)));
  if (!former.length) return;
  const kept: RunNames[] = [];
  for (const run of former) {
    try {
      const present = await Presence.release(o.store, run.owner);
      const leading = await Lease.release(o.store, o.leaseName, run.leaseHolder);
      if (present || leading)
        o.logger.info("released a former run's presence (it is over: this run holds its state)", {
          owner: run.owner,
          ...(leading ? { lease: o.leaseName } : {}),
        });
    } catch (err) {
      // The store cannot answer now: released by the next start, or after its ttl anyway.
      kept.push(run);
      o.logger.warn("could not release a former run's presence", {
        owner: run.owner,
        error: String(err),
      });
    }
  }
  writePrivateFile(path, JSON.stringify([o.run, ...kept].slice(0, maxRuns)));
}

/** The runs a file lists; anything else in it (damage, an older format) counts as none. */
function parseRuns(text: string | undefined): RunNames[] {
  let value: unknown;
  try {
    value = JSON.parse(text ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  const name = (v: unknown): v is string => typeof v === "string" && /^[\x21-\x7e]{1,253}$/.test(v);
  return value
    .filter((r): r is RunNames => name(r?.owner) && name(r?.leaseHolder))
    .map((r) => ({ owner: r.owner, leaseHolder: r.leaseHolder }))
    .slice(0, maxRuns);
}

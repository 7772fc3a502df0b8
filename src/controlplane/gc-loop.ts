import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/index.ts";
import type { Records } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { collectGarbage, defaultGcGraceMs, type GcReport } from "./gc.ts";
import type { NodeDirectory } from "./nodes.ts";

/** How often the leading control plane collects, by default: often enough that a crash's
 * leftovers do not pile up, rarely enough that listing a big bucket costs little. */
export const defaultGcIntervalMs = 10 * 60 * 1000;

export interface GcLoopOptions {
  records: Records;
  resources: ResourceStore;
  fallbackLocation?: string;
  /** Whose own (paused actors') snapshots are swept too. */
  nodes?: NodeDirectory;
  /** Between runs (the first runs one interval after the start). Default 10 min. */
  intervalMs?: number;
  /** Default 1 h (defaultGcGraceMs). */
  graceMs?: number;
  logger: Logger;
  /** Each run's report (metrics). */
  onReport?: (report: GcReport) => void;
}

/**
 * Collects every interval until `signal` aborts. Run by the leading control plane only, so one
 * collector runs at a time; a failed run is logged and the next one tries again (nothing a run
 * leaves half done is lost: see gc.ts and its crash test).
 */
export async function runGcLoop(o: GcLoopOptions, signal: AbortSignal): Promise<void> {
  const interval = o.intervalMs ?? defaultGcIntervalMs;
  while (!signal.aborted) {
    try {
      await sleep(interval, undefined, { signal });
    } catch {
      return; // aborted
    }
    try {
      const report = await collectGarbage({
        records: o.records,
        resources: o.resources,
        graceMs: o.graceMs ?? defaultGcGraceMs,
        logger: o.logger,
        signal,
        ...(o.fallbackLocation ? { fallbackLocation: o.fallbackLocation } : {}),
        ...(o.nodes ? { nodes: o.nodes } : {}),
      });
      o.onReport?.(report);
      if (report.removals.length || report.skipped.length)
        o.logger.info("snapshot gc", {
          removed: report.removals.length,
          bytes: report.bytes,
          skipped: report.skipped.map((s) => `${s.location}: ${s.error}`),
        });
    } catch (err) {
      if (!signal.aborted) o.logger.warn("snapshot gc failed", { error: String(err) });
    }
  }
}

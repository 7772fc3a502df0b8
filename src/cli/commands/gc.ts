import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { collectGarbage, defaultGcGraceMs, type GcReport } from "../../controlplane/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import { openRecordStore, Records } from "../../records/index.ts";
import { ateHome, openResourceStore } from "../../resources/index.ts";
import type { CliContext } from "../context.ts";

interface GcFlags {
  dryRun?: boolean;
  grace?: string;
  records?: string;
  stateDir?: string;
}

export function registerGc(program: Command, ctx: CliContext): void {
  program
    .command("gc")
    .description(
      "Remove snapshots no record owns: superseded ones, deleted actors' and tags', and leftovers past the grace period",
    )
    .option("--dry-run", "print what would be removed; remove nothing")
    .option(
      "--grace <duration>",
      `leave unowned objects younger than this (a copy may be on its way); e.g. 30m, 2h, 0s (default ${defaultGcGraceMs / 60_000}m)`,
    )
    .option(
      "--state-dir <dir>",
      "collect here, from the control plane's state directory, instead of asking the API",
    )
    .option(
      "--records <url>",
      "collect here, from the control plane's records store (as its --records), instead of asking the API",
    )
    .addHelpText(
      "after",
      `
Asks the ate API (an admin token) to run its control plane's collector once: its stores,
their snapshot locations and its nodes' own (paused actors') snapshots. With --state-dir or
--records it runs here instead, against those stores (where they are: beside ate up, or
with the cluster's --records redis://…); nodes' own snapshots are then left to the control
plane. A snapshot any record points at (an actor's latest, last external and the last N of
its history, ate.dev/snapshot-history; a template's golden; a snapshot tag's copy) is never
removed. The leading control plane also runs this every 10 minutes.`,
    )
    .action(async (f: GcFlags) => {
      const graceMs = f.grace === undefined ? undefined : parseDuration(f.grace);
      const report =
        f.stateDir === undefined && f.records === undefined
          ? await viaApi(ctx, f.dryRun ?? false, graceMs)
          : await here(program, f, graceMs);
      const verb = f.dryRun ? "would remove" : "removed";
      for (const r of report.removals)
        ctx.io.out(`${verb} ${r.uri} ${r.bytes} bytes (${r.reason})`);
      for (const s of report.skipped) ctx.io.err(`skipped ${s.location}: ${s.error}`);
      ctx.io.out(
        `${f.dryRun ? "dry run: " : ""}${verb} ${report.removals.length} snapshot(s), ${report.bytes} bytes${f.dryRun ? "" : `; ${report.recordsChanged} record(s) tidied`}`,
      );
    });
}

/** The API's control plane runs it (Admin/CollectGarbage). */
async function viaApi(
  ctx: CliContext,
  dryRun: boolean,
  graceMs: number | undefined,
): Promise<GcReport> {
  const r = await (await ctx.adminApi()).collectGarbage({
    dryRun,
    ...(graceMs !== undefined ? { graceMs: BigInt(graceMs) } : {}),
  });
  return {
    removals: r.removals.map((x) => ({
      uri: x.uri,
      bytes: Number(x.bytes),
      reason: x.reason as "released" | "unowned",
    })),
    skipped: r.skipped.map((x) => ({ location: x.location, error: x.error })),
    bytes: Number(r.bytes),
    recordsChanged: r.recordsChanged,
  };
}

/** Here, against the stores the flags name. */
async function here(program: Command, f: GcFlags, graceMs: number | undefined): Promise<GcReport> {
  const home = f.stateDir ?? (program.opts() as { home?: string }).home ?? ateHome();
  const records = new Records(openRecordStore(f.records, home));
  const resources = openResourceStore(f.records ? { url: f.records } : { home });
  try {
    return await collectGarbage({
      records,
      resources,
      graceMs: graceMs ?? defaultGcGraceMs,
      fallbackLocation: pathToFileURL(join(home, "snapshots")).href,
      ...(f.dryRun ? { dryRun: true } : {}),
    });
  } finally {
    await records.store.close();
    await resources.close();
  }
}

/** `90s`, `30m`, `2h`, `1d`, `0s`: a whole number and a unit; anything else is refused. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text);
  if (!m)
    throw new AteError(
      Code.InvalidArgument,
      `--grace ${JSON.stringify(text.slice(0, 40))}: give a duration such as 0s, 90s, 30m, 2h or 1d`,
    );
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s"];
  return Number(m[1]) * unit;
}

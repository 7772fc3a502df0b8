import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { collectGarbage, defaultGcGraceMs } from "../../controlplane/index.ts";
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
    .option("--state-dir <dir>", "the control plane's state directory (default: <home>)")
    .option(
      "--records <url>",
      "the control plane's records store, as its --records (default: SQLite in the state directory)",
    )
    .addHelpText(
      "after",
      `
Reads the stores the control plane uses (run it where they are: beside ate up, or with the
cluster's --records redis://…) and the snapshot locations their templates and actors name.
A snapshot any record points at (an actor's latest, last external and the last N of its
history, ate.dev/snapshot-history; a template's golden; a snapshot tag's copy) is never
removed. The leading control plane also runs this every 10 minutes.`,
    )
    .action(async (f: GcFlags) => {
      const graceMs = f.grace === undefined ? defaultGcGraceMs : parseDuration(f.grace);
      const home = f.stateDir ?? (program.opts() as { home?: string }).home ?? ateHome();
      const records = new Records(openRecordStore(f.records, home));
      const resources = openResourceStore(f.records ? { url: f.records } : { home });
      try {
        const report = await collectGarbage({
          records,
          resources,
          graceMs,
          fallbackLocation: pathToFileURL(join(home, "snapshots")).href,
          ...(f.dryRun ? { dryRun: true } : {}),
        });
        const verb = f.dryRun ? "would remove" : "removed";
        for (const r of report.removals)
          ctx.io.out(`${verb} ${r.uri} ${r.bytes} bytes (${r.reason})`);
        for (const s of report.skipped) ctx.io.err(`skipped ${s.location}: ${s.error}`);
        ctx.io.out(
          `${f.dryRun ? "dry run: " : ""}${verb} ${report.removals.length} snapshot(s), ${report.bytes} bytes${f.dryRun ? "" : `; ${report.recordsChanged} record(s) tidied`}`,
        );
      } finally {
        await records.store.close();
        await resources.close();
      }
    });
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

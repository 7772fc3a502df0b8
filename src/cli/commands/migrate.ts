import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { migrate, parseSnapshotsTarget } from "../../migrate/index.ts";
import { RedisRecordStore } from "../../records/index.ts";
import { ateHome, openResourceStore } from "../../resources/index.ts";
import type { CliContext } from "../context.ts";
import { missing } from "./daemon.ts";

interface MigrateFlags {
  stateDir?: string;
  records?: string;
  snapshots?: string;
  dryRun?: boolean;
}

export function registerMigrate(program: Command, ctx: CliContext): void {
  program
    .command("migrate")
    .description(
      "Move a stopped ate up to a cluster, keeping its actors: snapshots to S3, records and resources to Valkey",
    )
    .option("--state-dir <dir>", "the state directory of the ate up to move (default: <home>)")
    .option(
      "--records <url>",
      "the cluster's Valkey, as its control planes' --records: redis://HOST:PORT (required)",
    )
    .option(
      "--snapshots <s3-url>",
      "where the cluster's snapshots go: s3://BUCKET/PREFIX, which every ActorTemplate with a file:// location is given (required)",
    )
    .option("--dry-run", "check everything and print what would be done; write nothing")
    .addHelpText(
      "after",
      `
With ate up stopped (Ctrl-C) and before any control plane has started on that Valkey:
  ate migrate --state-dir /var/lib/ate --records redis://10.0.0.3:6379 --snapshots s3://ate-snapshots/prod

Copies every snapshot the records and templates name (file:// under ate up's snapshot
locations) to the S3 prefix, each file checked against its manifest's sha256, the manifest
last; and ate up's runtime (runsc, by sha256) to <prefix>/_runtime, which the copies name.
Then writes SandboxConfigs, WorkerPools and ActorTemplates (file:// locations become the
prefix), atespaces, tokens (node, router, tenant and admin ones people hold; not ate up's own
admin.token) and actors, each SUSPENDED at the copy of its snapshot (PAUSED ones too: their
snapshot was on ate up's node). Workers, nodes and leases are not copied. Running it again
finishes a run cut short; what the cluster holds with other content is never overwritten.
S3 takes the usual AWS_* variables (AWS_ENDPOINT_URL, AWS_REGION, credentials).
See docs/cluster.md.`,
    )
    .action(async function (this: Command, f: MigrateFlags) {
      if (!f.records)
        missing(this, "--records", "the cluster's Valkey, e.g. --records redis://10.0.0.3:6379");
      if (!f.snapshots)
        missing(this, "--snapshots", "the S3 prefix, e.g. --snapshots s3://ate-snapshots/prod");
      if (!/^rediss?:\/\/[^\s/]+\/?\d*$/.test(f.records))
        throw new AteError(
          Code.InvalidArgument,
          `--records ${JSON.stringify(f.records.slice(0, 200))}: give the cluster's Valkey as redis://HOST:PORT, as its control planes' --records`,
        );
      const target = parseSnapshotsTarget(f.snapshots);
      const stateDir = f.stateDir ?? (program.opts() as { home?: string }).home ?? ateHome();
      const records = new RedisRecordStore({ url: f.records });
      const resources = openResourceStore({ url: f.records });
      const say = (line: string) => ctx.io.out(line);
      try {
        say(
          `${f.dryRun ? "dry run: " : ""}ate up in ${stateDir} → records ${f.records.replace(/^(rediss?:\/\/)[^@/]*@/, "$1***@")}, snapshots ${target.uri}`,
        );
        const r = await migrate({
          stateDir,
          records,
          resources,
          snapshots: target.uri,
          ...(f.dryRun ? { dryRun: true } : {}),
          say,
        });
        const n = (c: { create: number; unchanged: number; status: number }) =>
          `${c.create} ${f.dryRun ? "to create" : "created"}, ${c.unchanged} already there${c.status ? `, ${c.status} status${f.dryRun ? " to set" : " set"}` : ""}`;
        say(
          `${f.dryRun ? "nothing written (dry run)" : "done"}: resources ${n(r.resources)}; records ${n(r.records)}`,
        );
        if (!f.dryRun)
          say(
            "next: start the control plane on that Valkey (ate controlplane --records …), then the nodes and routers; see docs/cluster.md",
          );
      } finally {
        await records.close();
        await resources.close();
      }
    });
}

import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { ateHome } from "../../resources/index.ts";
import { findExecutable, startControlPlane } from "../../up/index.ts";
import { ateVersion } from "../../version.ts";
import type { CliContext } from "../context.ts";
import { configPath } from "../endpoint.ts";
import { aborted, daemon, missing, stopSignals } from "./daemon.ts";
import { checkOtlpFlag, commandTracing, otlpFlag } from "./otlp-flag.ts";

interface ControlPlaneFlags {
  apiAddr?: string;
  records?: string;
  stateDir?: string;
  advertiseUrl?: string;
  idleTimeout: string;
  debug?: boolean;
  runsc?: string;
  otlpEndpoint?: string;
}

export function registerControlPlane(program: Command, ctx: CliContext): void {
  program
    .command("controlplane")
    .description(
      "Run a control plane: the API (Control, Admin, resources + watch, the node registry and the runtime it declares), the lifecycle and, while it leads, the controllers",
    )
    .option("--api-addr <host:port>", "where the API listens, e.g. 10.0.0.2:7443 (required)")
    .option(
      "--records <url>",
      "the store of records and resources every control plane shares: redis://HOST:PORT (Valkey); sqlite:///PATH for one control plane alone (required)",
    )
    .option(
      "--state-dir <dir>",
      "where its admin token (and with sqlite, its stores) is kept (default: <home>)",
    )
    .option(
      "--advertise-url <url>",
      "the API's URL as nodes and routers reach it (default: http://<api-addr>; required when --api-addr is 0.0.0.0 or ::)",
    )
    .option(
      "--idle-timeout <seconds>",
      "suspend actors idle this long (0 = never; a template's ate.dev/idle-timeout-seconds wins)",
      "300",
    )
    .option(
      "--runsc <path>",
      "the runsc declared as the default gvisor runtime and served to nodes by sha256 (default: runsc on PATH, if any)",
    )
    .option(
      "--debug",
      "allow DebugClear (wipes all records) and status writes through the API (PUT …/status)",
    )
    .addHelpText(
      "after",
      `
Needs: a store every control plane shares (Valkey: apt-get install -t bookworm-backports
valkey-server); no root, and no runsc to run (one found on PATH, or --runsc, becomes the
gvisor default runtime, which nodes fetch from this API). Several control planes on one
Valkey all serve the API; the controllers run on the one holding the lease. Snapshots in S3
take the usual AWS_* variables. Nodes and routers join with tokens made here:
  ate create token n1 --node    ate create token edge1 --router
See docs/cluster.md.`,
    )
    .option(...otlpFlag)
    .action(async function (this: Command, f: ControlPlaneFlags) {
      if (!f.apiAddr)
        missing(this, "--api-addr", "where the API listens, e.g. --api-addr 10.0.0.2:7443");
      if (!f.records)
        missing(
          this,
          "--records",
          "the records and resources store the control planes share, e.g. --records redis://10.0.0.3:6379 (Valkey), or sqlite:///var/lib/ate/records.db for one control plane alone",
        );
      if (!/^(rediss?:\/\/[^\s/]+\/?\d*|sqlite:\/\/\/\S+)$/.test(f.records))
        throw new AteError(
          Code.InvalidArgument,
          `--records ${JSON.stringify(f.records.slice(0, 200))}: give redis://HOST:PORT (Valkey, shared by every control plane) or sqlite:///PATH (one control plane alone)`,
        );
      const idle = Number(f.idleTimeout);
      if (!Number.isFinite(idle) || idle < 0)
        throw new AteError(
          Code.InvalidArgument,
          `--idle-timeout ${JSON.stringify(f.idleTimeout)}: give seconds, 0 or more`,
        );
      checkOtlpFlag(f.otlpEndpoint);
      const { logger, release } = daemon("ate controlplane");
      const signals = stopSignals();
      const stateDir = f.stateDir ?? (program.opts() as { home?: string }).home ?? ateHome();
      const runsc = f.runsc ?? findExecutable("runsc");
      const tracing = await commandTracing(f.otlpEndpoint, logger);
      try {
        const cp = await startControlPlane({
          stateDir,
          apiAddr: f.apiAddr,
          records: f.records,
          idleTimeoutMs: idle * 1000,
          runsc: runsc ?? false,
          clientConfig: configPath(),
          ...(f.advertiseUrl ? { advertiseUrl: f.advertiseUrl } : {}),
          ...(f.debug ? { debug: true } : {}),
          logger,
        });
        const cli = cp.credential.clientConfig;
        ctx.io.out(
          [
            `ate controlplane ${ateVersion} is up (state in ${stateDir})`,
            `  API      ${cp.apiUrl}   (nodes and routers: --server ${cp.advertiseUrl})`,
            `  records  ${withoutPassword(f.records)}   (${cp.shared ? "shared: the controllers run while this one holds the lease" : "this control plane's alone: it always leads"})`,
            `  token    ${cp.credential.path}   (admin, ${cp.credential.outcome === "kept" ? "kept" : "new"}${cli && !cli.problem ? `; ate commands here use it: ${cli.path}` : cli?.problem ? `; not in the CLI config: ${cli.problem}` : ""})`,
            cp.runtime
              ? `  runtime  SandboxConfig ${cp.runtime.name || "(yours)"}, runsc ${cp.runtime.asset.sha256.slice(0, 12)} served at ${cp.advertiseUrl}/assets/sha256/…`
              : "  runtime  none declared (no runsc here): apply a gvisor SandboxConfig nodes can fetch",
            "Ctrl-C stops (actors keep running on their nodes)",
          ].join("\n"),
        );
        await aborted(signals.first);
        ctx.io.out("stopping: waiting for the lifecycle calls under way…");
        // A second signal stops waiting for them: their actors' transitions expire and are
        // taken over by the next leader.
        await Promise.race([cp.stop(), aborted(signals.second)]);
        ctx.io.out("stopped");
      } finally {
        await tracing.shutdown();
        signals.release();
        release();
      }
    });
}

/** A store URL as printed: without a password. */
function withoutPassword(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, "$1***@");
}

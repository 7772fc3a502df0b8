import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { defaultLogger } from "../../log/index.ts";
import { ateHome } from "../../resources/index.ts";
import { checkPrerequisites, startSubstrate } from "../../up/index.ts";
import { ateVersion } from "../../version.ts";
import type { CliContext } from "../context.ts";
import { defaultServer } from "../endpoint.ts";

interface UpOptions {
  stateDir?: string;
  apiAddr: string;
  routerAddr: string;
  idleTimeout: string;
  records?: string;
  debug?: boolean;
  netPrefix: string;
  netSubnet: string;
  runsc?: string;
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command("up")
    .description(
      "Run the whole substrate on this machine: API, router, control plane, controllers and node agent",
    )
    .option("--state-dir <dir>", "where everything is kept (default: <home>)")
    .option(
      "--api-addr <host:port>",
      "where the API listens (gRPC + Connect JSON + resources)",
      "127.0.0.1:7443",
    )
    .option(
      "--router-addr <host:port>",
      "where the router listens (HTTP to actors by name)",
      "127.0.0.1:7480",
    )
    .option(
      "--idle-timeout <seconds>",
      "suspend actors idle this long (0 = never; a template's ate.dev/idle-timeout-seconds wins)",
      "300",
    )
    .option(
      "--records <url>",
      "records store: sqlite (default, in the state dir) or redis://host:port",
    )
    .option("--debug", "allow DebugClear (wipes all records)")
    .option(
      "--net-prefix <prefix>",
      "prefix of the worker network namespaces (distinct for each ate up on one machine)",
      "ate",
    )
    .option(
      "--net-subnet <octet>",
      "third octet of the workers' link-local addresses, 169.254.<octet>.0 up (distinct for each ate up on one machine)",
      "64",
    )
    .option(
      "--runsc <path>",
      "the runsc that becomes the default gvisor runtime (default: runsc on PATH)",
    )
    .action(async (opts: UpOptions) => {
      const problems = checkPrerequisites(opts.runsc ? { runsc: opts.runsc } : {}).filter(
        (c) => c.problem,
      );
      if (problems.length) {
        const lines = problems.map((p) => `Error: ${p.problem}`);
        throw new AteError(Code.FailedPrecondition, lines.join("\n"), lines);
      }
      const home = (program.opts() as { home?: string }).home ?? ateHome();
      const stateDir = opts.stateDir ?? home;
      const idle = Number(opts.idleTimeout);
      if (!Number.isFinite(idle) || idle < 0)
        throw new AteError(
          Code.InvalidArgument,
          `--idle-timeout ${JSON.stringify(opts.idleTimeout)}: give seconds, 0 or more`,
        );
      const subnet = Number(opts.netSubnet);
      if (!Number.isInteger(subnet) || subnet < 1 || subnet > 250)
        throw new AteError(
          Code.InvalidArgument,
          `--net-subnet ${JSON.stringify(opts.netSubnet)}: give an integer from 1 to 250`,
        );
      const substrate = await startSubstrate({
        stateDir,
        apiAddr: opts.apiAddr,
        routerAddr: opts.routerAddr,
        idleTimeoutMs: idle * 1000,
        ...(opts.records ? { records: opts.records } : {}),
        ...(opts.debug ? { debug: true } : {}),
        ...(opts.runsc ? { runsc: opts.runsc } : {}),
        network: { prefix: opts.netPrefix, subnetBase: subnet },
        logger: defaultLogger(),
      });
      const runtime = substrate.runtime;
      ctx.io.out(
        [
          `ate ${ateVersion} is up (state in ${stateDir})`,
          `  API     ${substrate.apiUrl}   ${substrate.apiUrl === defaultServer ? "(where ate commands go by default)" : `(for ate commands: export ATE_SERVER=${substrate.apiUrl})`}`,
          `  router  ${substrate.routerUrl}   curl ${substrate.routerUrl}/actors/<atespace>/<actor>/…`,
          ...(runtime?.name
            ? [
                `  runtime SandboxConfig ${runtime.name} (${runtime.outcome === "kept" ? "default" : `${runtime.outcome} from this machine's runsc`})`,
              ]
            : []),
          ...(substrate.recovered
            ? [`  ${substrate.recovered} actor(s) still running from before were recovered`]
            : []),
          "Ctrl-C stops: running actors are suspended (Ctrl-C again leaves them for the next ate up)",
        ].join("\n"),
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      const force = new AbortController();
      const again = () => force.abort();
      process.once("SIGINT", again);
      process.once("SIGTERM", again);
      ctx.io.out("stopping: suspending running actors…");
      const result = await substrate.stop({
        signal: force.signal,
        onSuspended: (a) => ctx.io.out(`  suspended ${a}`),
      });
      process.off("SIGINT", again);
      process.off("SIGTERM", again);
      ctx.io.out(
        result.left.length
          ? `stopped; ${result.left.length} actor(s) left on their workers, back with the next ate up: ${result.left.join(", ")}`
          : `stopped; ${result.suspended.length} actor(s) suspended, workers wiped`,
      );
    });
}

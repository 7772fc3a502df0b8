import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { ateHome } from "../../resources/index.ts";
import { checkPrerequisites, startSubstrate } from "../../up/index.ts";
import { ateVersion } from "../../version.ts";
import type { CliContext } from "../context.ts";
import { configPath } from "../endpoint.ts";
import { daemon, egressFlags } from "./daemon.ts";
import { checkOtlpFlag, commandTracing, otlpFlag } from "./otlp-flag.ts";

interface UpOptions {
  stateDir?: string;
  apiAddr: string;
  routerAddr: string;
  idleTimeout: string;
  records?: string;
  debug?: boolean;
  netPrefix?: string;
  netSubnet?: string;
  runsc?: string;
  assetDir?: string[];
  assetAllowHost?: string[];
  maxWorkers?: string;
  dns?: string[];
  egressAllow?: string[];
  egressDeny?: string[];
  otlpEndpoint?: string;
}

const repeatable = (value: string, values: string[] = []) => [...values, value];

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
    .option(
      "--debug",
      "allow DebugClear (wipes all records) and status writes through the API (PUT …/status)",
    )
    .option(
      "--net-prefix <prefix>",
      "prefix of the worker network namespaces, distinct for each ate up on one machine (default: ate, else a free one; kept for the state dir)",
    )
    .option(
      "--net-subnet <octet>",
      "third octet of the workers' link-local addresses, 169.254.<octet>.0 to <octet+3>.255, distinct for each ate up on one machine (default: 64, else a free range; kept for the state dir)",
    )
    .option(
      "--runsc <path>",
      "the runsc that becomes the default gvisor runtime (default: runsc on PATH)",
    )
    .option(
      "--asset-dir <dir>",
      "a directory SandboxConfig file:// assets may be read from, besides the runsc's own (repeatable)",
      (dir: string, dirs: string[] = []) => [...dirs, dir],
    )
    .option(
      "--asset-allow-host <host>",
      "an http(s) asset host that may be reached although it is loopback, link-local, this node or a worker (repeatable)",
      (host: string, hosts: string[] = []) => [...hosts, host],
    )
    .option(
      "--dns <addr>",
      "a DNS server the actors' queries go to, e.g. 1.1.1.1 or [2606:4700:4700::1111]:53 (repeatable; default: this machine's /etc/resolv.conf)",
      repeatable,
    )
    .option(
      "--egress-allow <cidr>",
      "an IPv4 range actors may reach although it is private, e.g. 10.20.0.0/16 (repeatable; never loopback, link-local or multicast)",
      repeatable,
    )
    .option(
      "--egress-deny <cidr>",
      "an IPv4 range actors may not reach, besides private, loopback, link-local and multicast ones (repeatable)",
      repeatable,
    )
    .option(
      "--max-workers <n>",
      "most workers on this machine, all pools together; a pool asking for more is refused in its status (default: 1 per 256 MiB of memory)",
    )
    .option(...otlpFlag)
    .action(async (opts: UpOptions) => {
      // `ate up | tee x` and Ctrl-C (tee dies first), a closed terminal, a hang-up: ate up keeps
      // serving and still shuts down cleanly on SIGINT/SIGTERM.
      const { logger, release } = daemon("ate up");
      // Checked before anything starts, each error naming its flag and value.
      const egress = egressFlags(opts);
      checkOtlpFlag(opts.otlpEndpoint);
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
      const subnet = opts.netSubnet === undefined ? undefined : Number(opts.netSubnet);
      if (subnet !== undefined && (!Number.isInteger(subnet) || subnet < 1 || subnet > 251))
        throw new AteError(
          Code.InvalidArgument,
          `--net-subnet ${JSON.stringify(opts.netSubnet)}: give an integer from 1 to 251`,
        );
      const maxWorkers = opts.maxWorkers === undefined ? undefined : Number(opts.maxWorkers);
      if (maxWorkers !== undefined && (!Number.isInteger(maxWorkers) || maxWorkers < 1))
        throw new AteError(
          Code.InvalidArgument,
          `--max-workers ${JSON.stringify(opts.maxWorkers)}: give an integer, 1 or more`,
        );
      // Where start-up time is measured from (bench/cli.bench.ts): every check is done.
      logger.debug("up.checks", { ms: Math.round(performance.now()) });
      // One set-up for all of ate up's components: each still names its own service.
      const tracing = await commandTracing(opts.otlpEndpoint, logger);
      const substrate = await startSubstrate({
        stateDir,
        apiAddr: opts.apiAddr,
        routerAddr: opts.routerAddr,
        idleTimeoutMs: idle * 1000,
        ...(maxWorkers !== undefined ? { maxWorkers } : {}),
        ...(opts.records ? { records: opts.records } : {}),
        ...(opts.debug ? { debug: true } : {}),
        clientConfig: configPath(),
        ...(opts.runsc ? { runsc: opts.runsc } : {}),
        ...(opts.assetDir ? { assetDirs: opts.assetDir } : {}),
        ...(opts.assetAllowHost ? { assetAllowHosts: opts.assetAllowHost } : {}),
        egress,
        network: {
          ...(opts.netPrefix !== undefined ? { prefix: opts.netPrefix } : {}),
          ...(subnet !== undefined ? { subnetBase: subnet } : {}),
        },
        logger,
      });
      const runtime = substrate.runtime;
      const credential = substrate.credential;
      const cli = credential.clientConfig;
      ctx.io.out(
        [
          `ate ${ateVersion} is up (state in ${stateDir})`,
          `  API     ${substrate.apiUrl}   ${cli && !cli.problem ? `(ate commands use it: server and token in ${cli.path})` : `(for ate commands: export ATE_SERVER=${substrate.apiUrl} ATE_TOKEN=$(cat ${credential.path}))`}`,
          `  token   ${credential.path}   (admin, ${credential.outcome === "kept" ? "kept" : "new"}${cli?.problem ? `; not in the CLI config: ${cli.problem}` : ""})`,
          `  router  ${substrate.routerUrl}   curl ${substrate.routerUrl}/actors/<atespace>/<actor>/…`,
          `  workers network namespaces ${substrate.network.prefix}-w<n>, addresses 169.254.${substrate.network.subnetBase}.0 to 169.254.${substrate.network.subnetBase + substrate.network.subnets - 1}.255`,
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
      await tracing.shutdown();
      release();
      ctx.io.out(
        result.left.length
          ? `stopped; ${result.left.length} actor(s) left on their workers, back with the next ate up: ${result.left.join(", ")}`
          : `stopped; ${result.suspended.length} actor(s) suspended, workers wiped`,
      );
    });
}

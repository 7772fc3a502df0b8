import type { Command } from "commander";
import { jsonLogger } from "../../log/index.ts";
import { ateHome } from "../../resources/index.ts";
import { startSubstrate } from "../../up/index.ts";
import type { CliContext } from "../context.ts";

interface UpOptions {
  stateDir?: string;
  apiAddr: string;
  routerAddr: string;
  idleTimeout: string;
  records?: string;
  debug?: boolean;
  netPrefix: string;
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
    .action(async (opts: UpOptions) => {
      const home = (program.opts() as { home?: string }).home ?? ateHome();
      const stateDir = opts.stateDir ?? home;
      const substrate = await startSubstrate({
        stateDir,
        apiAddr: opts.apiAddr,
        routerAddr: opts.routerAddr,
        idleTimeoutMs: Number(opts.idleTimeout) * 1000,
        ...(opts.records ? { records: opts.records } : {}),
        ...(opts.debug ? { debug: true } : {}),
        network: { prefix: opts.netPrefix },
        logger: jsonLogger(),
      });
      ctx.io.out(
        `ate is up: API ${substrate.apiUrl}, router ${substrate.routerUrl} (state in ${stateDir}); Ctrl-C to stop`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await substrate.stop();
    });
}

import type { Command } from "commander";
import { jsonLogger } from "../../log/index.ts";
import { ateHome } from "../../resources/index.ts";
import { startSubstrate } from "../../up/index.ts";
import type { CliContext } from "../context.ts";

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command("up")
    .description(
      "Run the whole substrate on this machine: API, control plane, controllers and node agent",
    )
    .option("--state-dir <dir>", "where everything is kept (default: <home>)")
    .option(
      "--api-addr <host:port>",
      "where the API listens (gRPC + Connect JSON + resources)",
      "127.0.0.1:7443",
    )
    .option(
      "--records <url>",
      "records store: sqlite (default, in the state dir) or redis://host:port",
    )
    .option("--debug", "allow DebugClear (wipes all records)")
    .action(
      async (opts: { stateDir?: string; apiAddr: string; records?: string; debug?: boolean }) => {
        const home = (program.opts() as { home?: string }).home ?? ateHome();
        const substrate = await startSubstrate({
          stateDir: opts.stateDir ?? home,
          apiAddr: opts.apiAddr,
          ...(opts.records ? { records: opts.records } : {}),
          ...(opts.debug ? { debug: true } : {}),
          logger: jsonLogger(),
        });
        ctx.io.out(
          `ate is up: API ${substrate.apiUrl} (state in ${opts.stateDir ?? home}); Ctrl-C to stop`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        await substrate.stop();
      },
    );
}

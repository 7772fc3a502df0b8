import type { Command } from "commander";
import { checkMachineToken, startRouter } from "../../up/index.ts";
import { ateVersion } from "../../version.ts";
import type { CliContext } from "../context.ts";
import { aborted, daemon, machineFlags, missing, stopSignals } from "./daemon.ts";
import { checkOtlpFlag, commandTracing, otlpFlag } from "./otlp-flag.ts";

interface RouterFlags {
  server?: string;
  tokenFile?: string;
  routerAddr?: string;
  otlpEndpoint?: string;
}

export function registerRouter(program: Command, ctx: CliContext): void {
  program
    .command("router")
    .description(
      "Run a router: HTTP to actors by name (/actors/<atespace>/<actor>/…), resuming suspended ones through the control plane and reporting activity to it",
    )
    .option("--server <url>", "the control plane's API, e.g. http://10.0.0.2:7443 (required)")
    .option(
      "--token-file <file>",
      "a file (mode 0600) holding this router's token: ate create token NAME --router (required)",
    )
    .option("--router-addr <host:port>", "where the router listens, e.g. 10.0.0.20:7480 (required)")
    .addHelpText(
      "after",
      `
Needs: the control plane's API and every node's entry point (port 7481) reachable; no root.
Several routers may serve the same actors: each learns every change from the control plane's
watch, and idle suspension is decided by the control plane from all their reports. See
docs/cluster.md.`,
    )
    .option(...otlpFlag)
    .action(async function (this: Command, f: RouterFlags) {
      const { api, token, tokenFile } = machineFlags(this, program, f, "router");
      if (!f.routerAddr)
        missing(
          this,
          "--router-addr",
          "where the router listens, e.g. --router-addr 10.0.0.20:7480",
        );
      checkOtlpFlag(f.otlpEndpoint);
      const { logger, release } = daemon("ate router");
      const signals = stopSignals();
      const tracing = await commandTracing(f.otlpEndpoint, logger);
      try {
        await checkMachineToken({
          server: api,
          token,
          tokenFile,
          role: "router",
          signal: signals.first,
          logger,
        }).catch((err) => {
          if (signals.first.aborted) return;
          throw err;
        });
        if (signals.first.aborted) return;
        const router = await startRouter({
          routerAddr: f.routerAddr,
          control: { server: api, token },
          logger,
        });
        ctx.io.out(
          [
            `ate router ${ateVersion} is up`,
            `  router  ${router.url}   curl ${router.url}/actors/<atespace>/<actor>/…`,
            `  API     ${api}`,
            "Ctrl-C stops",
          ].join("\n"),
        );
        await aborted(signals.first);
        ctx.io.out("stopping…");
        await router.stop();
        ctx.io.out("stopped");
      } finally {
        await tracing.shutdown();
        signals.release();
        release();
      }
    });
}

import type { Command } from "commander";
import { actorLogs } from "../../sdk/logs.ts";
import type { CliContext } from "../context.ts";
import { requireKind } from "./record-kinds.ts";

interface LogsOptions {
  atespace?: string;
  follow?: boolean;
}

export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command("logs")
    .description("Print an actor's stdout and stderr, from every worker it ran on")
    .argument("<kind>", "actor")
    .argument("<id>", "the actor's id")
    .option(
      "-a, --atespace <name>",
      "atespace of the actor (default: a tenant token's own atespace, else default)",
    )
    .option(
      "-f, --follow",
      "keep printing what it writes, across suspends and resumes, until Ctrl-C or the actor is deleted",
    )
    .action(async (kindArg: string, id: string, opts: LogsOptions) => {
      requireKind(kindArg, ["actor"], "logs");
      const server = ctx.server();
      const atespace = await ctx.atespace(opts.atespace);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGINT", stop);
      try {
        // The SDK's reader: ends quietly on Ctrl-C, errors as the server gave them.
        const chunks = actorLogs({ server, token: ctx.token(), tls: {} }, atespace, id, {
          follow: opts.follow ?? false,
          signal: ac.signal,
        });
        for await (const text of chunks) ctx.io.write(text);
      } finally {
        process.off("SIGINT", stop);
      }
    });
}

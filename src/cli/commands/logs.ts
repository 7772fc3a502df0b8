import type { Command } from "commander";
import { fromErrorBody } from "../../errors/index.ts";
import { bearerHeaders, fromCallError } from "../call.ts";
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
      const url = `${server}/ate/v1/atespaces/${encodeURIComponent(atespace)}/actors/${encodeURIComponent(id)}/logs${opts.follow ? "?follow=true" : ""}`;
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGINT", stop);
      try {
        const res = await fetch(url, { signal: ac.signal, headers: bearerHeaders(ctx.token()) });
        if (!res.ok) throw fromErrorBody(res.status, await res.text());
        const decoder = new TextDecoder();
        for await (const chunk of res.body ?? [])
          ctx.io.write(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch (err) {
        if (ac.signal.aborted) return;
        throw fromCallError(err, server);
      } finally {
        process.off("SIGINT", stop);
      }
    });
}

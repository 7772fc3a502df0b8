import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import type { Actor } from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { parseOutputFormat } from "../printers.ts";
import { isTokenKind, requireKind } from "./record-kinds.ts";

interface CreateOptions {
  template?: string;
  atespace?: string;
  selector?: string;
  output?: string;
  ttl?: string;
  admin?: boolean;
  node?: boolean;
  router?: boolean;
}

export function registerCreate(program: Command, ctx: CliContext): void {
  program
    .command("create")
    .description(
      "Create an actor (stored SUSPENDED; the router or `ate resume` starts it), an atespace, or an API token",
    )
    .argument("<kind>", "actor, atespace or token")
    .argument("<name>", "the actor's id, the atespace's or the token's name (a DNS-1123 label)")
    .option(
      "-t, --template <ns/name>",
      "the actor's ActorTemplate, NAMESPACE/NAME (namespace default if omitted)",
    )
    .option(
      "-a, --atespace <name>",
      "atespace of the actor (default: a tenant token's own atespace, else default); for a token: the one atespace it may use",
    )
    .option("-l, --selector <k=v,...>", "only workers of pools with these labels may run the actor")
    .option("-o, --output <format>", "print the created object: wide|yaml|json|name")
    .option(
      "--ttl <duration>",
      "token: how long it is valid, e.g. 24h or 7d (default: until deleted)",
    )
    .option("--admin", "token: an admin token (everything) instead of one atespace's")
    .option("--node", "token: a node's (register as a node, fetch runtime assets; for ate node)")
    .option("--router", "token: a router's (get, resume and watch actors; for ate router)")
    .action(async (kindArg: string, name: string, opts: CreateOptions) => {
      if (isTokenKind(kindArg))
        return (await import("./tokens.ts")).createToken(ctx, name, {
          ...(opts.atespace ? { atespace: opts.atespace } : {}),
          ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
          ...(opts.admin ? { admin: true } : {}),
          ...(opts.node ? { node: true } : {}),
          ...(opts.router ? { router: true } : {}),
        });
      if (opts.ttl !== undefined || opts.admin || opts.node || opts.router)
        throw new AteError(
          Code.InvalidArgument,
          "--ttl, --admin, --node and --router are for ate create token",
        );
      const kind = requireKind(kindArg, ["actor", "atespace"], "create");
      const format = parseOutputFormat(opts.output);
      // Loaded here: they bring the API's descriptors, which other commands need not load.
      const [{ formatRecords, recordSchemas }, { parseLabels, parseTemplate, printActor }] =
        await Promise.all([import("../record-printers.ts"), import("./records.ts")]);
      const api = await ctx.controlApi();
      if (kind === "atespace") {
        const { atespace } = await api.createAtespace({ name });
        if (atespace && (format === "yaml" || format === "json"))
          ctx.io.out(
            await formatRecords(recordSchemas.atespace, [atespace], "atespaces", format, true),
          );
        else ctx.io.out(format === "name" ? `atespace/${name}` : `atespace/${name} created`);
        return;
      }
      if (!opts.template)
        throw new AteError(
          Code.InvalidArgument,
          `ate create actor ${name}: --template NAMESPACE/TEMPLATE is required (see ate get actortemplates -A)`,
        );
      const template = parseTemplate(opts.template);
      const selector = parseLabels(opts.selector, "--selector");
      const { actor } = await api.createActor({
        actorRef: { atespace: await ctx.atespace(opts.atespace), name },
        actorTemplateNamespace: template.namespace,
        actorTemplateName: template.name,
        ...(selector ? { workerSelector: { matchLabels: selector } } : {}),
      });
      await printActor(ctx, actor as Actor, opts.output, "created");
    });
}

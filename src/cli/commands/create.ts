import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import type { Actor } from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { parseOutputFormat } from "../printers.ts";
import { formatRecords, recordSchemas } from "../record-printers.ts";
import { parseLabels, parseTemplate, printActor, requireKind } from "./records.ts";

interface CreateOptions {
  template?: string;
  atespace: string;
  selector?: string;
  output?: string;
}

export function registerCreate(program: Command, ctx: CliContext): void {
  program
    .command("create")
    .description(
      "Create an actor (stored SUSPENDED; the router or `ate resume` starts it) or an atespace",
    )
    .argument("<kind>", "actor or atespace")
    .argument("<name>", "the actor's id or the atespace's name (a DNS-1123 label)")
    .option(
      "-t, --template <ns/name>",
      "the actor's ActorTemplate, NAMESPACE/NAME (namespace default if omitted)",
    )
    .option("-a, --atespace <name>", "atespace of the actor", "default")
    .option("-l, --selector <k=v,...>", "only workers of pools with these labels may run the actor")
    .option("-o, --output <format>", "print the created object: wide|yaml|json|name")
    .action(async (kindArg: string, name: string, opts: CreateOptions) => {
      const kind = requireKind(kindArg, ["actor", "atespace"], "create");
      const format = parseOutputFormat(opts.output);
      const api = ctx.controlApi();
      if (kind === "atespace") {
        const { atespace } = await api.createAtespace({ name });
        if (atespace && (format === "yaml" || format === "json"))
          ctx.io.out(formatRecords(recordSchemas.atespace, [atespace], "atespaces", format, true));
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
        actorRef: { atespace: opts.atespace, name },
        actorTemplateNamespace: template.namespace,
        actorTemplateName: template.name,
        ...(selector ? { workerSelector: { matchLabels: selector } } : {}),
      });
      printActor(ctx, actor as Actor, opts.output, "created");
    });
}

import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import type { Actor } from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { parseOutputFormat } from "../printers.ts";
import type { CreateResourceOptions } from "./create-resource.ts";
import { isSnapshotTagKind, isTokenKind, requireKind } from "./record-kinds.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

interface CreateOptions extends CreateResourceOptions {
  template?: string;
  atespace?: string;
  selector?: string;
  output?: string;
  ttl?: string;
  admin?: boolean;
  node?: boolean;
  router?: boolean;
  actor?: string;
  published?: boolean;
  fromTag?: string;
}

export function registerCreate(program: Command, ctx: CliContext): void {
  program
    .command("create")
    .description(
      "Create an actor (stored SUSPENDED; the router or `ate resume` starts it), an atespace, an API token, a snapshot tag, a namespace, or a secret (ate create secret generic NAME --from-literal key=value)",
    )
    .argument("<kind>", "actor, atespace, token, snapshottag, namespace or secret")
    .argument(
      "<name>",
      "the actor's id, the atespace's, token's or namespace's name (a DNS-1123 label); for a secret: generic",
    )
    .argument("[more...]", "secret: the secret's NAME, after generic")
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
    .option("--actor <id>", "snapshottag: the actor whose latest committed snapshot it copies")
    .option("--published", "snapshottag: actors of any atespace may start from it")
    .option(
      "--from-tag <atespace/name>",
      "actor: start it (at its first resume) from this snapshot tag's snapshot",
    )
    .option("-n, --namespace <ns>", "secret: its namespace", "default")
    .option(
      "--from-literal <key=value>",
      "secret: a key and its literal value (repeat for more)",
      collect,
      [],
    )
    .option(
      "--from-file <[key=]path>",
      "secret: a file's content under its basename or key; a directory: each file in it (repeat for more)",
      collect,
      [],
    )
    .option("--type <type>", "secret: its type (default Opaque)")
    .option(
      "--dry-run [strategy]",
      "namespace, secret: client (validate offline) or server (validate on the server); nothing is stored",
    )
    .action(async (kindArg: string, name: string, more: string[], opts: CreateOptions) => {
      if (/^(namespaces?|ns|secrets?)$/i.test(kindArg)) {
        const made = await import("./create-resource.ts");
        return /^s/i.test(kindArg)
          ? made.createSecret(ctx, [name, ...more], opts)
          : made.createNamespace(ctx, name, more, opts);
      }
      if (more.length)
        throw new AteError(
          Code.InvalidArgument,
          `ate create ${kindArg} takes one NAME, not ${1 + more.length}`,
        );
      if (
        opts.fromLiteral?.length ||
        opts.fromFile?.length ||
        opts.type !== undefined ||
        opts.dryRun !== undefined
      )
        throw new AteError(
          Code.InvalidArgument,
          "--from-literal, --from-file, --type and --dry-run are for ate create secret and ate create namespace",
        );
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
      if (isSnapshotTagKind(kindArg))
        return (await import("./snapshottags.ts")).createSnapshotTag(ctx, name, opts);
      if (opts.fromTag !== undefined && !/^actors?$/i.test(kindArg))
        throw new AteError(Code.InvalidArgument, "--from-tag is for ate create actor");
      if (opts.actor !== undefined || opts.published)
        throw new AteError(
          Code.InvalidArgument,
          "--actor and --published are for ate create snapshottag",
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
      const sourceTag = opts.fromTag
        ? (await import("./snapshottags.ts")).parseTagRef(opts.fromTag, "--from-tag")
        : undefined;
      const { actor } = await api.createActor({
        actorRef: { atespace: await ctx.atespace(opts.atespace), name },
        actorTemplateNamespace: template.namespace,
        actorTemplateName: template.name,
        ...(selector ? { workerSelector: { matchLabels: selector } } : {}),
        ...(sourceTag ? { sourceTag } : {}),
      });
      await printActor(ctx, actor as Actor, opts.output, "created");
    });
}

import type { Command } from "commander";
import type { Resource, ResourceType } from "../../api/schema/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import type { CliContext } from "../context.ts";
import {
  formatObjects,
  formatTable,
  outputFormats,
  parseOutputFormat,
  qualifiedName,
} from "../printers.ts";
import { isSnapshotTagKind, isTokenKind, recordKind } from "./record-kinds.ts";

interface GetOptions {
  namespace: string;
  atespace?: string;
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
}

export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command("get")
    .description("List resources or records, or show some by name")
    .argument(
      "<kind>",
      "actors, workers, atespaces, tokens, snapshottags; or sandboxconfigs, workerpools, actortemplates, namespaces (ns), secrets (plural, singular or short name; kind/name works too; comma-separate kinds)",
    )
    .argument("[names...]", "only these objects")
    .option("-n, --namespace <ns>", "namespace of namespaced kinds", "default")
    .option(
      "-a, --atespace <name>",
      "atespace of actors (default: a tenant token's own atespace, else default)",
    )
    .option("-A, --all-namespaces", "list across all namespaces (for actors: all atespaces)")
    .option(
      "-o, --output <format>",
      `output format: ${outputFormats.filter((f) => f !== "table").join("|")}`,
    )
    .option("-l, --selector <selector>", "filter by labels, e.g. pool=a,tier!=b")
    .action(async (kindArg: string, names: string[], opts: GetOptions) => {
      // Records and tokens load the API's descriptors and client, so only when asked for.
      if (isTokenKind(kindArg))
        return (await import("./tokens.ts")).getTokens(ctx, names, opts.output);
      if (isSnapshotTagKind(kindArg))
        return (await import("./snapshottags.ts")).getSnapshotTags(ctx, names, {
          ...(opts.atespace !== undefined ? { atespace: opts.atespace } : {}),
          ...(opts.allNamespaces ? { allAtespaces: true } : {}),
          ...(opts.output !== undefined ? { output: opts.output } : {}),
        });
      const record = recordKind(kindArg);
      if (record) {
        // The printers and the Control API's client and descriptors (≈10 ms) load while the
        // server says which atespace a token's is: the list asked for needs that answer. (A
        // failure to make the client is reported where getRecords asks for it, as before.)
        const [{ getRecords }, atespace] = await Promise.all([
          import("./records.ts"),
          record === "actor" && !opts.allNamespaces ? ctx.atespace(opts.atespace) : "",
          ctx.controlApi().catch(() => undefined),
        ]);
        return getRecords(ctx, record, names, {
          atespace,
          ...(opts.allNamespaces ? { allAtespaces: true } : {}),
          ...(opts.output !== undefined ? { output: opts.output } : {}),
        });
      }
      const format = parseOutputFormat(opts.output);
      const requests = await parseTargets(kindArg, names);
      const store = await ctx.resources();
      const blocks: string[] = [];
      const found: Resource[] = [];
      for (const { type, names: wanted } of requests) {
        const namespace =
          type.scope === "Namespaced" && !opts.allNamespaces ? opts.namespace : undefined;
        let items: Resource[];
        if (wanted.length)
          items = await Promise.all(wanted.map((n) => store.get(type, namespace, n)));
        else {
          const listOpts = {
            ...(namespace !== undefined ? { namespace } : {}),
            ...(opts.selector ? { labelSelector: opts.selector } : {}),
          };
          items = (await store.list(type, listOpts)).items;
        }
        found.push(...items);
        if (format === "table" || format === "wide") {
          if (items.length) {
            const withNamespace = type.scope === "Namespaced" && !!opts.allNamespaces;
            blocks.push(
              formatTable(type, items, {
                wide: format === "wide",
                withNamespace,
                now: ctx.io.now(),
              }),
            );
          }
        } else if (format === "name") {
          blocks.push(...items.map((o) => qualifiedName(type, o.metadata.name)));
        }
      }
      if (format === "yaml" || format === "json") {
        const single = requests.length === 1 && requests[0]?.names.length === 1;
        ctx.io.out(await formatObjects(found, format, single));
      } else if (found.length === 0) {
        const namespaced = requests.some((r) => r.type.scope === "Namespaced");
        ctx.io.err(
          namespaced && !opts.allNamespaces
            ? `No resources found in ${opts.namespace} namespace.`
            : "No resources found",
        );
      } else {
        ctx.io.out(blocks.join(format === "name" ? "\n" : "\n\n"));
      }
    });
}

/**
 * `kind`, `kind name...`, `kind/name`, `kind1,kind2`, `kind/a kind/b`. The resource kinds
 * load here, not at start: commands on records never need them.
 */
export async function parseTargets(
  kindArg: string,
  names: string[],
): Promise<{ type: ResourceType; names: string[] }[]> {
  const { typeForName } = await import("../../api/v1alpha1/index.ts");
  const kindType = (kind: string) => kindTypeOf(typeForName, kind);
  const slashed = [kindArg, ...names].filter((a) => a.includes("/"));
  if (slashed.length) {
    if (slashed.length !== names.length + 1) {
      throw new AteError(
        Code.InvalidArgument,
        "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form",
      );
    }
    const byType = new Map<ResourceType, string[]>();
    for (const arg of slashed) {
      const [kind, name] = arg.split("/", 2) as [string, string];
      const type = kindType(kind);
      byType.set(type, [...(byType.get(type) ?? []), name]);
    }
    return [...byType].map(([type, n]) => ({ type, names: n }));
  }
  const kinds = kindArg.split(",").filter(Boolean);
  if (kinds.length > 1 && names.length) {
    throw new AteError(
      Code.InvalidArgument,
      "names cannot be given with several kinds: use kind/name for each object",
    );
  }
  return kinds.map((k) => ({ type: kindType(k), names }));
}

/** A resource kind by name; the error also lists the record kinds the CLI knows. */
function kindTypeOf(typeForName: (kind: string) => ResourceType, kind: string): ResourceType {
  try {
    return typeForName(kind);
  } catch (err) {
    const e = AteError.from(err);
    throw new AteError(e.code, `${e.message}; and the records actors, workers, atespaces`);
  }
}

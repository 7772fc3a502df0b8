import type { Command } from "commander";
import type { ResourceType } from "../../api/schema/index.ts";
import { AteError, Code, isAteError } from "../../errors/index.ts";
import type { CliContext } from "../context.ts";
import { qualifiedKind } from "../printers.ts";
import { parseTargets } from "./get.ts";
import { isSnapshotTagKind, isTokenKind, recordKind } from "./record-kinds.ts";

interface DeleteOptions {
  namespace: string;
  atespace?: string;
  filename?: string[];
  ignoreNotFound?: boolean;
}

export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command("delete")
    .description(
      "Delete actors, atespaces, tokens or resources by kind and name, or those a manifest names",
    )
    .argument("[kind]", "actor, atespace, token, snapshottag, or a resource kind (or kind/name)")
    .argument("[names...]", "names of the objects")
    .option("-n, --namespace <ns>", "namespace of namespaced kinds", "default")
    .option(
      "-a, --atespace <name>",
      "atespace of actors (default: a tenant token's own atespace, else default)",
    )
    .option("-f, --filename <path...>", "delete the objects these manifests describe")
    .option("--ignore-not-found", "treat absent objects as deleted")
    .action(async (kindArg: string | undefined, names: string[], opts: DeleteOptions) => {
      if (kindArg && isTokenKind(kindArg))
        return throwAll(
          await (await import("./tokens.ts")).deleteTokens(ctx, names, !!opts.ignoreNotFound),
        );
      if (kindArg && isSnapshotTagKind(kindArg))
        return throwAll(
          await (await import("./snapshottags.ts")).deleteSnapshotTags(ctx, names, opts),
        );
      const record = kindArg ? recordKind(kindArg) : undefined;
      if (record) return deleteRecords(ctx, record, names, opts);
      const targets: { type: ResourceType; namespace: string | undefined; name: string }[] = [];
      if (opts.filename) {
        if (kindArg)
          throw new AteError(Code.InvalidArgument, "give either -f or a kind and names, not both");
        const { readManifests } = await import("../manifest-reader.ts");
        const skipped: string[] = [];
        const docs = readManifests(opts.filename, ctx.io.stdin, skipped);
        for (const line of skipped) ctx.io.out(line);
        for (const { type, object } of docs) {
          targets.push({
            type,
            namespace: object.metadata?.namespace ?? opts.namespace,
            name: object.metadata?.name,
          });
        }
      } else {
        if (!kindArg)
          throw new AteError(
            Code.InvalidArgument,
            "name a kind and objects (ate delete workerpool NAME) or use -f FILE",
          );
        const requests = await parseTargets(kindArg, names);
        if (requests.every((r) => r.names.length === 0)) {
          throw new AteError(
            Code.InvalidArgument,
            `name the ${kindArg} to delete: ate delete ${kindArg} NAME`,
          );
        }
        for (const { type, names: n } of requests)
          for (const name of n) targets.push({ type, namespace: opts.namespace, name });
      }
      // Namespaces last: deleting one deletes what it holds, which would then be "not found".
      targets.sort(
        (x, y) => Number(x.type.kind === "Namespace") - Number(y.type.kind === "Namespace"),
      );
      const store = await ctx.resources();
      const failures: AteError[] = [];
      for (const { type, namespace, name } of targets) {
        try {
          await store.delete(type, namespace, name);
          ctx.io.out(`${qualifiedKind(type)} "${name}" deleted`);
        } catch (err) {
          if (opts.ignoreNotFound && isAteError(err, Code.NotFound)) continue;
          failures.push(AteError.from(err));
        }
      }
      throwAll(failures);
    });
}

async function deleteRecords(
  ctx: CliContext,
  kind: "actor" | "worker" | "atespace",
  names: string[],
  opts: DeleteOptions,
): Promise<void> {
  if (kind === "worker")
    throw new AteError(
      Code.InvalidArgument,
      "workers belong to their WorkerPool: scale it down (spec.replicas) or delete the pool",
    );
  if (!names.length)
    throw new AteError(Code.InvalidArgument, `name the ${kind} to delete: ate delete ${kind} NAME`);
  const api = await ctx.controlApi();
  const atespace = kind === "actor" ? await ctx.atespace(opts.atespace) : "";
  const failures: AteError[] = [];
  for (const name of names) {
    try {
      if (kind === "actor") await api.deleteActor({ actorRef: { atespace, name } });
      else await api.deleteAtespace({ name });
      ctx.io.out(`${kind}/${name} deleted`);
    } catch (err) {
      if (opts.ignoreNotFound && isAteError(err, Code.NotFound)) continue;
      failures.push(AteError.from(err));
    }
  }
  throwAll(failures);
}

/** Like kubectl, one failure does not stop the others; all are reported at the end, one a line. */
function throwAll(failures: AteError[]): void {
  const [first] = failures;
  if (!first) return;
  const lines = failures.map((f) => `Error: ${f.message}`);
  throw new AteError(first.code, lines.join("\n"), lines);
}

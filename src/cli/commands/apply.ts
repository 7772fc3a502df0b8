import type { Command } from "commander";
import type { Resource, ResourceType } from "../../api/schema/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import type { ApplyOutcome } from "../../resources/index.ts";
import type { CliContext } from "../context.ts";
import type { ManifestDocument } from "../manifest-reader.ts";
import { qualifiedName } from "../printers.ts";

type DryRun = "none" | "client" | "server";

export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command("apply")
    .description("Create or update resources from YAML or JSON manifests")
    .requiredOption(
      "-f, --filename <path...>",
      "a manifest file, a directory of them, or - for stdin",
    )
    .option(
      "--dry-run [strategy]",
      "client: validate offline, no server; server: validate against stored objects; nothing is written",
      "none",
    )
    .action(async (opts: { filename: string[]; dryRun: string | boolean }) => {
      const dryRun = parseDryRun(opts.dryRun);
      // The YAML parser and the resource kinds load here, not at every command's start.
      const { readManifests } = await import("../manifest-reader.ts");
      const skipped: string[] = [];
      const docs = readManifests(opts.filename, ctx.io.stdin, skipped);
      for (const line of skipped) ctx.io.out(line);
      if (docs.length === 0 && skipped.length === 0)
        throw new AteError(Code.InvalidArgument, "no objects passed to apply");
      if (dryRun === "client") return validateOffline(ctx, docs);
      return applyAll(ctx, docs, dryRun === "server");
    });
}

function parseDryRun(value: string | boolean): DryRun {
  if (value === true) return "client";
  if (value === false || value === "none") return "none";
  if (value === "client" || value === "server") return value;
  throw new AteError(
    Code.InvalidArgument,
    `--dry-run must be "none", "server", or "client", not "${value}"`,
  );
}

/** Validation exactly as the server does it, with no server: each document as a create. */
async function validateOffline(ctx: CliContext, docs: ManifestDocument[]): Promise<void> {
  // Loaded here, not at start: building the CEL environment costs every other command.
  const { validateResource } = await import("../../api/schema/index.ts");
  const invalid: string[] = [];
  for (const { type, object } of docs) {
    const { errors } = validateResource(type, object);
    const name = object.metadata?.name ?? "";
    if (errors.length === 0) ctx.io.out(`${qualifiedName(type, name)} created (dry run)`);
    else invalid.push(...errors.map((e) => `${type.kind} "${name}" is invalid: ${e}`));
  }
  if (invalid.length) throw new AteError(Code.InvalidArgument, invalid.join("\n"), invalid);
}

/**
 * Every document is checked by a server-side dry run first; only when all pass is anything
 * written, so one bad document never leaves a half-applied set behind. Namespaces are written
 * first, so the objects a file puts in a namespace it declares find it there.
 */
async function applyAll(
  ctx: CliContext,
  docs: ManifestDocument[],
  dryRunOnly: boolean,
): Promise<void> {
  const store = await ctx.resources();
  const { applyResource, isNamespaceNotFound } = await import("../../resources/index.ts");
  const ordered = namespacesFirst(docs);
  const declared = new Set(
    ordered.filter((d) => d.type.kind === "Namespace").map((d) => d.object.metadata?.name),
  );
  /**
   * A server dry run; an object in a namespace this apply creates cannot be dry-run before the
   * namespace exists, so it is validated as the server would validate it, without the server.
   */
  const dryRun = async ({ type, object }: ManifestDocument): Promise<ApplyOutcome> => {
    try {
      return (await applyResource(store, type, object, { dryRun: true })).outcome;
    } catch (err) {
      const ns = object.metadata?.namespace ?? "default";
      if (!declared.has(ns) || !isNamespaceNotFound(err, ns)) throw err;
      await validateOne(type, object);
      return "created";
    }
  };
  const invalid: string[] = [];
  for (const doc of ordered) {
    try {
      await dryRun(doc);
    } catch (err) {
      const e = AteError.from(err);
      invalid.push(...(e.details.length ? e.details : [e.message]));
    }
  }
  if (invalid.length) throw new AteError(Code.InvalidArgument, invalid.join("\n"), invalid);
  for (const doc of ordered) {
    const { type, object } = doc;
    const outcome = dryRunOnly
      ? await dryRun(doc)
      : (await applyResource(store, type, object)).outcome;
    ctx.io.out(
      `${qualifiedName(type, object.metadata.name)} ${outcome}${dryRunOnly ? " (server dry run)" : ""}`,
    );
  }
}

/** The documents with every Namespace moved to the front, the rest in their order. */
function namespacesFirst(docs: ManifestDocument[]): ManifestDocument[] {
  const isNs = (d: ManifestDocument) => d.type.kind === "Namespace";
  return [...docs.filter(isNs), ...docs.filter((d) => !isNs(d))];
}

/** Validation as a create, offline; throws the server's InvalidArgument when invalid. */
async function validateOne(type: ResourceType, object: Resource): Promise<void> {
  const { admitResource } = await import("../../api/schema/index.ts");
  admitResource(type, object);
}

// Records (actors, workers, atespaces) through the server's Control API.
import { AteError, Code } from "../../errors/index.ts";
import type { Actor } from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { parseOutputFormat } from "../printers.ts";
import {
  actorTable,
  atespaceTable,
  formatRecords,
  recordSchemas,
  workerTable,
} from "../record-printers.ts";

import type { RecordKind } from "./record-kinds.ts";

export interface RecordGetOptions {
  atespace: string;
  allAtespaces?: boolean;
  output?: string;
}

/** `ate get actors|workers|atespaces [NAME...]`. */
export async function getRecords(
  ctx: CliContext,
  kind: RecordKind,
  names: readonly string[],
  opts: RecordGetOptions,
): Promise<void> {
  const format = parseOutputFormat(opts.output);
  const api = await ctx.controlApi();
  const single = names.length === 1;
  const wide = format === "wide";
  if (kind === "actor") {
    let actors: Actor[];
    if (names.length) {
      actors = [];
      for (const name of names)
        actors.push(
          (await api.getActor({ actorRef: { atespace: opts.atespace, name } })).actor as Actor,
        );
    } else {
      actors = [];
      let pageToken = "";
      do {
        const page = await api.listActors({
          atespace: opts.allAtespaces ? "" : opts.atespace,
          pageToken,
        });
        actors.push(...page.actors);
        pageToken = page.nextPageToken;
      } while (pageToken);
    }
    if (format === "yaml" || format === "json")
      return ctx.io.out(await formatRecords(recordSchemas.actor, actors, "actors", format, single));
    if (format === "name") return ctx.io.out(actors.map((a) => `actor/${a.actorId}`).join("\n"));
    if (!actors.length)
      return ctx.io.err(
        opts.allAtespaces ? "No actors found." : `No actors found in atespace ${opts.atespace}.`,
      );
    return ctx.io.out(actorTable(actors, wide, ctx.io.now()));
  }
  if (kind === "worker") {
    let workers = (await api.listWorkers({})).workers;
    if (names.length) {
      const missing = names.filter((n) => !workers.some((w) => w.workerPod === n));
      if (missing.length)
        throw new AteError(
          Code.NotFound,
          `worker ${missing.join(", ")} not found: see ate get workers`,
        );
      workers = workers.filter((w) => names.includes(w.workerPod));
    }
    if (format === "yaml" || format === "json")
      return ctx.io.out(
        await formatRecords(recordSchemas.worker, workers, "workers", format, single),
      );
    if (format === "name")
      return ctx.io.out(workers.map((w) => `worker/${w.workerPod}`).join("\n"));
    if (!workers.length)
      return ctx.io.err("No workers found: apply a WorkerPool (see ate get workerpools -A).");
    return ctx.io.out(workerTable(workers, wide));
  }
  const atespaces = names.length
    ? await Promise.all(
        names.map(async (name) => (await api.getAtespace({ name })).atespace ?? { name }),
      )
    : (await api.listAtespaces({})).atespaces;
  if (format === "yaml" || format === "json")
    return ctx.io.out(
      await formatRecords(recordSchemas.atespace, atespaces as never, "atespaces", format, single),
    );
  if (format === "name") return ctx.io.out(atespaces.map((a) => `atespace/${a.name}`).join("\n"));
  if (!atespaces.length) return ctx.io.err("No atespaces found.");
  return ctx.io.out(atespaceTable(atespaces as never));
}

/** Prints an actor a command returned, as -o asks (default: one line saying what happened). */
export async function printActor(
  ctx: CliContext,
  actor: Actor,
  output: string | undefined,
  done: string,
): Promise<void> {
  const format = parseOutputFormat(output);
  if (format === "yaml" || format === "json")
    ctx.io.out(await formatRecords(recordSchemas.actor, [actor], "actors", format, true));
  else if (format === "name") ctx.io.out(`actor/${actor.actorId}`);
  else if (format === "wide") ctx.io.out(actorTable([actor], true, ctx.io.now()));
  else ctx.io.out(`actor/${actor.actorId} ${done}`);
}

/** `NS/TEMPLATE` or `TEMPLATE` (namespace default). */
export function parseTemplate(arg: string): { namespace: string; name: string } {
  const parts = arg.split("/");
  if (parts.length === 1 && parts[0]) return { namespace: "default", name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  throw new AteError(
    Code.InvalidArgument,
    `--template ${JSON.stringify(arg)}: expected NAMESPACE/TEMPLATE or TEMPLATE, e.g. default/counter`,
  );
}

/** `k=v,k2=v2` → labels. */
export function parseLabels(
  arg: string | undefined,
  flag: string,
): Record<string, string> | undefined {
  if (!arg) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of arg.split(",")) {
    const [k, v, ...rest] = pair.split("=");
    if (!k || v === undefined || rest.length)
      throw new AteError(
        Code.InvalidArgument,
        `${flag} ${JSON.stringify(arg)}: expected key=value[,key=value]`,
      );
    labels[k] = v;
  }
  return labels;
}

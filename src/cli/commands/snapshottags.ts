// ate create|get|delete snapshottag: snapshot tags, through the Control API. Loaded only for
// these commands (it brings the API's descriptors).
import { humanAge } from "../../api/schema/index.ts";
import { AteError, Code, isAteError } from "../../errors/index.ts";
import {
  type SnapshotTag,
  SnapshotTag_Policy,
  SnapshotTagSchema,
} from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { parseOutputFormat, renderTable } from "../printers.ts";
import { formatRecords } from "../record-printers.ts";

/** `ATESPACE/NAME` (as `--from-tag` takes it), each part checked by the server. */
export function parseTagRef(arg: string, flag: string): { atespace: string; name: string } {
  const parts = arg.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new AteError(
      Code.InvalidArgument,
      `${flag}: Invalid value: ${JSON.stringify(arg.slice(0, 200))}: give the tag as ATESPACE/NAME`,
    );
  return { atespace: parts[0], name: parts[1] };
}

const uriOf = (t: SnapshotTag) =>
  t.snapshotInfo?.data.case === "external" ? t.snapshotInfo.data.value.snapshotUriPrefix : "";

function table(tags: readonly SnapshotTag[], wide: boolean, now: Date): string {
  return renderTable(
    ["ATESPACE", "NAME", "TEMPLATE", "POLICY", "SOURCE", "AGE", ...(wide ? ["SNAPSHOT"] : [])],
    tags.map((t) => [
      t.tagRef?.atespace ?? "",
      t.tagRef?.name ?? "",
      `${t.actorTemplateNamespace}/${t.actorTemplateName}`,
      SnapshotTag_Policy[t.policy] ?? "UNSPECIFIED",
      t.sourceActor?.name ?? "",
      Number.isNaN(Date.parse(t.createTime))
        ? "<unknown>"
        : humanAge(now.getTime() - Date.parse(t.createTime)),
      ...(wide ? [uriOf(t)] : []),
    ]),
  );
}

async function print(
  ctx: CliContext,
  tags: readonly SnapshotTag[],
  output: string | undefined,
  single: boolean,
  verb?: string,
): Promise<void> {
  const format = parseOutputFormat(output);
  if (format === "yaml" || format === "json")
    ctx.io.out(await formatRecords(SnapshotTagSchema, tags, "snapshotTags", format, single));
  else if (format === "name" || verb)
    ctx.io.out(
      tags
        .map((t) => `snapshottag/${t.tagRef?.name}${format === "name" ? "" : ` ${verb}`}`)
        .join("\n"),
    );
  else if (!tags.length) ctx.io.err("No snapshot tags found");
  else ctx.io.out(table(tags, format === "wide", ctx.io.now()));
}

export async function createSnapshotTag(
  ctx: CliContext,
  name: string,
  o: { actor?: string; atespace?: string; published?: boolean; output?: string },
): Promise<void> {
  if (!o.actor)
    throw new AteError(
      Code.InvalidArgument,
      `ate create snapshottag ${name}: --actor ACTOR is required (the actor whose latest snapshot it copies)`,
    );
  const api = await ctx.controlApi();
  const atespace = await ctx.atespace(o.atespace);
  const { snapshotTag } = await api.createSnapshotTag({
    tagRef: { atespace, name },
    actorRef: { atespace, name: o.actor },
    policy: o.published ? SnapshotTag_Policy.PUBLISHED : SnapshotTag_Policy.ATESPACE,
  });
  if (snapshotTag) await print(ctx, [snapshotTag], o.output, true, "created");
}

export async function getSnapshotTags(
  ctx: CliContext,
  names: string[],
  o: { atespace?: string; allAtespaces?: boolean; output?: string },
): Promise<void> {
  const api = await ctx.controlApi();
  const atespace = o.allAtespaces ? "" : await ctx.atespace(o.atespace);
  const tags = names.length
    ? await Promise.all(
        names.map(
          async (name) =>
            (await api.getSnapshotTag({ tagRef: { atespace, name } })).snapshotTag as SnapshotTag,
        ),
      )
    : (await api.listSnapshotTags({ atespace })).snapshotTags;
  await print(ctx, tags, o.output, names.length === 1);
}

/** Every name is tried; the failures are returned for the caller to report together. */
export async function deleteSnapshotTags(
  ctx: CliContext,
  names: string[],
  o: { atespace?: string; ignoreNotFound?: boolean },
): Promise<AteError[]> {
  if (!names.length)
    throw new AteError(
      Code.InvalidArgument,
      "name the snapshottag to delete: ate delete snapshottag NAME",
    );
  const api = await ctx.controlApi();
  const atespace = await ctx.atespace(o.atespace);
  const failures: AteError[] = [];
  for (const name of names) {
    try {
      await api.deleteSnapshotTag({ tagRef: { atespace, name } });
      ctx.io.out(`snapshottag/${name} deleted`);
    } catch (err) {
      if (o.ignoreNotFound && isAteError(err, Code.NotFound)) continue;
      failures.push(AteError.from(err));
    }
  }
  return failures;
}

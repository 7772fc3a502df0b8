import { create } from "@bufbuild/protobuf";
import { AteError, Code } from "../errors/index.ts";
import {
  SnapshotTag_Policy,
  type SnapshotTag as SnapshotTagMsg,
  SnapshotTagSchema,
  SnapshotType,
} from "../proto/gen/ateapi/control_pb.ts";
import type { SnapshotTag, SnapshotTagPolicy } from "../records/index.ts";

/** A snapshot tag record as the Control API's SnapshotTag message. */
export function snapshotTagToWire(t: SnapshotTag): SnapshotTagMsg {
  return create(SnapshotTagSchema, {
    tagRef: { atespace: t.atespace, name: t.name },
    actorTemplateNamespace: t.template.namespace,
    actorTemplateName: t.template.name,
    policy: t.policy === "PUBLISHED" ? SnapshotTag_Policy.PUBLISHED : SnapshotTag_Policy.ATESPACE,
    snapshotInfo: {
      type: SnapshotType.EXTERNAL,
      data: { case: "external", value: { snapshotUriPrefix: t.snapshot.uri } },
    },
    sourceActor: { atespace: t.sourceActor.atespace, name: t.sourceActor.actorId },
    createTime: t.createdAt,
  });
}

/** A request's policy: unspecified is ATESPACE (the narrower); anything unknown is refused. */
export function policyFromWire(p: SnapshotTag_Policy): SnapshotTagPolicy {
  if (p === SnapshotTag_Policy.PUBLISHED) return "PUBLISHED";
  if (p === SnapshotTag_Policy.ATESPACE || p === SnapshotTag_Policy.UNSPECIFIED) return "ATESPACE";
  throw new AteError(
    Code.InvalidArgument,
    `policy: Unsupported value: ${p}: POLICY_ATESPACE or POLICY_PUBLISHED`,
  );
}

import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type NodeCheckpointRequest,
  type NodeCheckpointRequestSchema,
  type NodeCheckpointResult,
  type NodeCheckpointResultSchema,
  NodeRestoreOrigin,
  type NodeRestoreRequest,
  NodeSnapshotScope,
} from "../../proto/gen/ateapi/node_pb.ts";
import type {
  CheckpointRequest,
  CheckpointResult,
  RestoreOrigin,
  RestoreRequest,
  SnapshotDestination,
  SnapshotScope,
} from "../api.ts";
import { actorTokenFromWire } from "./actor-token-wire.ts";
import { count, invalid, required, subdomain, text } from "./wire-checks.ts";
import { identityFromWire, workerName } from "./worker-convert.ts";
import { secretKey } from "./workload-convert.ts";

export const scopeToWire = (s: SnapshotScope) =>
  s === "Full" ? NodeSnapshotScope.FULL : NodeSnapshotScope.DATA;

function scopeFromWire(s: NodeSnapshotScope, field: string): SnapshotScope {
  if (s === NodeSnapshotScope.FULL) return "Full";
  if (s === NodeSnapshotScope.DATA) return "Data";
  throw invalid(
    field,
    NodeSnapshotScope[s] ?? s,
    "must be NODE_SNAPSHOT_SCOPE_FULL or NODE_SNAPSHOT_SCOPE_DATA",
  );
}

export function destinationToWire(
  d: SnapshotDestination,
): MessageInitShape<typeof NodeCheckpointRequestSchema>["destination"] {
  return d.kind === "local"
    ? { case: "local", value: {} }
    : { case: "external", value: { uriPrefix: d.uriPrefix } };
}

export function checkpointRequestFromWire(m: NodeCheckpointRequest): CheckpointRequest {
  const d = m.destination;
  let destination: SnapshotDestination;
  if (d.case === "local") destination = { kind: "local" };
  else if (d.case === "external")
    destination = { kind: "external", uriPrefix: text("external.uri_prefix", d.value.uriPrefix) };
  else throw required("destination", undefined);
  return {
    worker: workerName("worker", m.worker),
    actor: identityFromWire(m.actor, "actor"),
    scope: scopeFromWire(m.scope, "scope"),
    destination,
  };
}

export const originToWire = (o: RestoreOrigin | undefined) =>
  o === undefined
    ? NodeRestoreOrigin.UNSPECIFIED
    : o === "own"
      ? NodeRestoreOrigin.OWN
      : NodeRestoreOrigin.GOLDEN;

function originFromWire(o: NodeRestoreOrigin): RestoreOrigin | undefined {
  if (o === NodeRestoreOrigin.UNSPECIFIED) return undefined;
  if (o === NodeRestoreOrigin.OWN) return "own";
  if (o === NodeRestoreOrigin.GOLDEN) return "golden";
  throw invalid("origin", o, "must be NODE_RESTORE_ORIGIN_OWN or NODE_RESTORE_ORIGIN_GOLDEN");
}

export function restoreRequestFromWire(m: NodeRestoreRequest): RestoreRequest {
  const origin = originFromWire(m.origin);
  return {
    worker: workerName("worker", m.worker),
    actor: identityFromWire(m.actor, "actor"),
    source: text("source", m.source),
    scope: scopeFromWire(m.scope, "scope"),
    ...(origin ? { origin } : {}),
    ...(m.base !== undefined ? { base: text("base", m.base) } : {}),
    ...(m.actorToken !== undefined ? { actorToken: actorTokenFromWire(m.actorToken) } : {}),
    ...(m.secretValues.length
      ? {
          secretValues: m.secretValues.map((v, i) => ({
            secret: subdomain(`secret_values[${i}].secret`, v.secret),
            key: secretKey(`secret_values[${i}].key`, v.key),
            value: v.value,
          })),
        }
      : {}),
  };
}

export function checkpointResultToWire(
  r: CheckpointResult,
): MessageInitShape<typeof NodeCheckpointResultSchema> {
  return {
    uri: r.uri,
    local: r.local,
    files: r.files.map((f) => ({ name: f.name, size: BigInt(f.size), sha256: f.sha256 })),
    ...(r.uploadError !== undefined ? { uploadError: r.uploadError } : {}),
  };
}

/** A node's answer; a snapshot kept on the node because its upload failed must say it is local. */
export function checkpointResultFromWire(m: NodeCheckpointResult): CheckpointResult {
  if (m.uploadError !== undefined && !m.local)
    throw invalid("upload_error", m.uploadError, "set on a snapshot that is not local");
  return {
    uri: text("uri", m.uri),
    local: m.local,
    files: m.files.map((f, i) => ({
      name: f.name,
      size: count(`files[${i}].size`, f.size),
      sha256: f.sha256,
    })),
    ...(m.uploadError !== undefined ? { uploadError: m.uploadError } : {}),
  };
}

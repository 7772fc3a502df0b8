import { create } from "@bufbuild/protobuf";
import {
  Actor_Status,
  type Actor as ActorMsg,
  ActorSchema,
  type Atespace as AtespaceMsg,
  AtespaceSchema,
  SnapshotType,
  type Worker as WorkerMsg,
  WorkerSchema,
} from "../proto/gen/ateapi/control_pb.ts";
import type { Actor, ActorStatus, Atespace, Worker } from "../records/index.ts";

const statusToWire: Record<ActorStatus, Actor_Status> = {
  RESUMING: Actor_Status.RESUMING,
  RUNNING: Actor_Status.RUNNING,
  SUSPENDING: Actor_Status.SUSPENDING,
  SUSPENDED: Actor_Status.SUSPENDED,
  PAUSING: Actor_Status.PAUSING,
  PAUSED: Actor_Status.PAUSED,
};

/** An actor record as the Control API's Actor message. */
export function actorToWire(a: Actor): ActorMsg {
  const snap = a.latestSnapshot;
  return create(ActorSchema, {
    actorId: a.actorId,
    version: BigInt(a.version),
    actorTemplateNamespace: a.templateNamespace,
    actorTemplateName: a.templateName,
    status: statusToWire[a.status],
    ateomPodNamespace: a.worker?.namespace ?? "",
    ateomPodName: a.worker?.name ?? "",
    ateomPodIp: a.worker?.address ?? "",
    ateomPodUid: a.worker?.uid ?? "",
    inProgressSnapshot: a.inProgressSnapshot ?? "",
    workerPoolName: a.workerPoolName ?? "",
    atespace: a.atespace,
    ...(a.workerSelector ? { workerSelector: { matchLabels: a.workerSelector } } : {}),
    ...(snap
      ? {
          latestSnapshotInfo:
            snap.type === "EXTERNAL"
              ? {
                  type: SnapshotType.EXTERNAL,
                  data: { case: "external", value: { snapshotUriPrefix: snap.uri } },
                }
              : {
                  type: SnapshotType.LOCAL,
                  data: {
                    case: "local",
                    value: {
                      snapshotPrefix: snap.uri,
                      nodeVmsWithLocalSnapshots: snap.nodes ?? [],
                    },
                  },
                },
        }
      : {}),
  });
}

export function workerToWire(w: Worker): WorkerMsg {
  return create(WorkerSchema, {
    workerNamespace: w.namespace,
    workerPool: w.pool,
    workerPod: w.name,
    actorNamespace: w.actor?.templateNamespace ?? "",
    actorTemplate: w.actor?.templateName ?? "",
    actorId: w.actor?.actorId ?? "",
    actorAtespace: w.actor?.atespace ?? "",
    ip: w.address,
    version: BigInt(w.version),
    workerPodUid: w.uid,
    nodeName: w.node,
  });
}

export function atespaceToWire(a: Atespace): AtespaceMsg {
  return create(AtespaceSchema, { name: a.name });
}

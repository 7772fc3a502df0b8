import { create } from "@bufbuild/protobuf";
import {
  Actor_Status,
  Actor_Tier,
  type Actor as ActorMsg,
  ActorSchema,
  type Atespace as AtespaceMsg,
  AtespaceSchema,
  SnapshotType,
  WorkerLimitsSchema,
  type Worker as WorkerMsg,
  WorkerSchema,
} from "../proto/gen/ateapi/control_pb.ts";
import type { Actor, ActorStatus, Atespace, Worker } from "../records/index.ts";
import type { WorkerSettings } from "../sandbox/index.ts";
import type { NodeEntry } from "./node-entries.ts";

const statusToWire: Record<ActorStatus, Actor_Status> = {
  RESUMING: Actor_Status.RESUMING,
  RUNNING: Actor_Status.RUNNING,
  SUSPENDING: Actor_Status.SUSPENDING,
  SUSPENDED: Actor_Status.SUSPENDED,
  PAUSING: Actor_Status.PAUSING,
  PAUSED: Actor_Status.PAUSED,
};

/** Limits as the wire's WorkerLimits (0: none); absent when there are none. */
function limitsToWire(settings: WorkerSettings | undefined) {
  const l = settings?.limits;
  if (!l?.memoryBytes && !l?.cpuMillis) return undefined;
  return create(WorkerLimitsSchema, {
    memoryBytes: BigInt(l.memoryBytes ?? 0),
    cpuMillicores: BigInt(l.cpuMillis ?? 0),
  });
}

/**
 * An actor record as the Control API's Actor message; `worker` is the Worker record it runs
 * on, if known (for its limits). `entry`, for routers only: its node's entry point now and
 * the token it takes (worker_entry_token), when its worker is reached through one.
 */
export function actorToWire(a: Actor, worker?: Worker, entry?: NodeEntry): ActorMsg {
  const snap = a.latestSnapshot;
  const limits =
    a.worker && worker?.name === a.worker.name ? limitsToWire(worker.settings) : undefined;
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
    workerEntry: a.worker?.entry ? (entry?.entry ?? a.worker.entry) : "",
    workerEntryToken: a.worker?.entry ? (entry?.token ?? "") : "",
    inProgressSnapshot: a.inProgressSnapshot ?? "",
    workerPoolName: a.workerPoolName ?? "",
    atespace: a.atespace,
    // Only when frozen: a running actor's bytes stay as older clients know them.
    ...(a.status === "RUNNING" && a.tier === "frozen" ? { tier: Actor_Tier.FROZEN } : {}),
    ...(a.workerSelector ? { workerSelector: { matchLabels: a.workerSelector } } : {}),
    ...(a.lastExit
      ? {
          lastExit: {
            reason: a.lastExit.reason,
            message: a.lastExit.message,
            time: a.lastExit.at,
            ...(a.lastExit.exitCode !== undefined ? { exitCode: a.lastExit.exitCode } : {}),
          },
        }
      : {}),
    ...(limits ? { workerLimits: limits } : {}),
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
  const limits = limitsToWire(w.settings);
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
    egress: w.settings?.egress ?? "default",
    ...(limits ? { limits } : {}),
  });
}

export function atespaceToWire(a: Atespace): AtespaceMsg {
  return create(AtespaceSchema, { name: a.name });
}

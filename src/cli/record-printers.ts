import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import { formatCpu, formatMemory } from "../api/quantity/index.ts";
import { humanAge } from "../api/schema/index.ts";
import {
  type Actor,
  Actor_Status,
  Actor_Tier,
  ActorSchema,
  type Atespace,
  AtespaceSchema,
  type Worker,
  WorkerSchema,
} from "../proto/gen/ateapi/control_pb.ts";
import { renderTable, yamlText } from "./printers.ts";

/** RUNNING, SUSPENDED, … as Agent Substrate's tools print them. */
export function actorStatus(a: Actor): string {
  return Actor_Status[a.status] ?? "UNSPECIFIED";
}

const dash = (s: string) => s || "<none>";

/** How a RUNNING actor is held: `frozen` (paused in place) or `running`; `<none>` otherwise. */
export function actorTier(a: Actor): string {
  if (a.status !== Actor_Status.RUNNING) return "<none>";
  return a.tier === Actor_Tier.FROZEN ? "frozen" : "running";
}

/** Where the actor's latest snapshot is (wide output). */
function snapshotOf(a: Actor): string {
  const data = a.latestSnapshotInfo?.data;
  if (data?.case === "external") return data.value.snapshotUriPrefix;
  if (data?.case === "local")
    return `${data.value.snapshotPrefix} (on ${data.value.nodeVmsWithLocalSnapshots.join(",")})`;
  return "";
}

/** A worker's limit as a quantity; `-` when it has none. */
function limit(value: bigint | undefined, format: (n: number) => string): string {
  return value ? format(Number(value)) : "-";
}

/** Why the actor's sandbox last stopped on its own, and how long ago: `OOMKilled 2m`. */
function lastExitOf(a: Actor, now: Date): string {
  const exit = a.lastExit;
  if (!exit?.reason) return "<none>";
  const at = Date.parse(exit.time);
  return Number.isNaN(at) ? exit.reason : `${exit.reason} ${humanAge(now.getTime() - at)}`;
}

export function actorTable(actors: readonly Actor[], wide: boolean, now = new Date()): string {
  const header = [
    "ATESPACE",
    "TEMPLATE NS",
    "TEMPLATE",
    "ID",
    "STATUS",
    "WORKER",
    "ADDRESS",
    "VERSION",
  ];
  if (wide) header.push("TIER", "POOL", "MEMORY", "CPU", "LAST EXIT", "SNAPSHOT");
  return renderTable(
    header,
    actors.map((a) => [
      a.atespace,
      a.actorTemplateNamespace,
      a.actorTemplateName,
      a.actorId,
      actorStatus(a),
      dash(a.ateomPodName),
      dash(a.ateomPodIp),
      String(a.version),
      ...(wide
        ? [
            actorTier(a),
            dash(a.workerPoolName),
            // The limits of the worker it runs on.
            a.ateomPodName ? limit(a.workerLimits?.memoryBytes, formatMemory) : "<none>",
            a.ateomPodName ? limit(a.workerLimits?.cpuMillicores, formatCpu) : "<none>",
            lastExitOf(a, now),
            dash(snapshotOf(a)),
          ]
        : []),
    ]),
  );
}

export function workerTable(workers: readonly Worker[], wide: boolean): string {
  const header = ["NAMESPACE", "POOL", "WORKER", "STATUS", "ACTOR"];
  if (wide) header.push("TEMPLATE", "ADDRESS", "NODE", "MEMORY", "CPU", "EGRESS", "VERSION");
  return renderTable(
    header,
    workers.map((w) => [
      w.workerNamespace,
      w.workerPool,
      w.workerPod,
      w.actorId ? "ASSIGNED" : "FREE",
      w.actorId ? `${w.actorAtespace}/${w.actorId}` : "<none>",
      ...(wide
        ? [
            w.actorId ? `${w.actorNamespace}/${w.actorTemplate}` : "<none>",
            w.ip,
            w.nodeName,
            limit(w.limits?.memoryBytes, formatMemory),
            limit(w.limits?.cpuMillicores, formatCpu),
            w.egress || "default",
            String(w.version),
          ]
        : []),
    ]),
  );
}

export function atespaceTable(atespaces: readonly Atespace[]): string {
  return renderTable(
    ["NAME"],
    atespaces.map((a) => [a.name]),
  );
}

/**
 * Records as the Control API's JSON (proto3 JSON, camelCase): one object when one was asked
 * for by name, else the list response's shape (`{"actors": [...]}`).
 */
export async function formatRecords<D extends DescMessage>(
  schema: D,
  items: readonly MessageShape<D>[],
  listField: string,
  format: "yaml" | "json",
  single: boolean,
): Promise<string> {
  const json = items.map((m) => toJson(schema, m, { alwaysEmitImplicit: true }));
  const value = single ? json[0] : { [listField]: json };
  return format === "json" ? JSON.stringify(value, null, 2) : yamlText(value, { lineWidth: 0 });
}

export const recordSchemas = { actor: ActorSchema, worker: WorkerSchema, atespace: AtespaceSchema };

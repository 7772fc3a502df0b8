import { isIPv4 } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  NodeActorIdentity,
  NodeActorIdentitySchema,
  NodeWorkerInfo,
  NodeWorkerInfoSchema,
  NodeWorkerSettings,
  NodeWorkerSettingsSchema,
} from "../../proto/gen/ateapi/node_pb.ts";
import type { WorkerSettings } from "../../sandbox/index.ts";
import type { ActorIdentity, WorkerInfo } from "../api.ts";
import { count, invalid, label, oneOf, required, subdomain, text } from "./wire-checks.ts";

export const identityToWire = (
  a: ActorIdentity,
): MessageInitShape<typeof NodeActorIdentitySchema> => ({
  ...a,
});

/** Whose actor: every part becomes a path or a hostname on the node, so each is a DNS name. */
export function identityFromWire(m: NodeActorIdentity | undefined, field: string): ActorIdentity {
  const a = required(field, m);
  return {
    atespace: label(`${field}.atespace`, a.atespace),
    templateNamespace: label(`${field}.template_namespace`, a.templateNamespace),
    templateName: subdomain(`${field}.template_name`, a.templateName),
    actorId: label(`${field}.actor_id`, a.actorId),
  };
}

/** A worker's name: a DNS label (it names directories and network devices on the node). */
export const workerName = (field: string, name: string) => label(field, name);

/**
 * A worker's address: an IPv4 literal (no names, which would resolve elsewhere). Where it may
 * be (ate's worker range) is for whoever records it to decide (see checkWorkerAddress).
 */
export function workerAddress(field: string, address: string): string {
  if (!isIPv4(address))
    throw invalid(
      field,
      address.slice(0, 64),
      "must be the worker's IPv4 address, e.g. 169.254.64.2",
    );
  return address;
}

export function settingsToWire(
  s: WorkerSettings,
): MessageInitShape<typeof NodeWorkerSettingsSchema> {
  const l = s.limits;
  return {
    ...(l
      ? {
          limits: {
            ...(l.memoryBytes !== undefined ? { memoryBytes: BigInt(l.memoryBytes) } : {}),
            ...(l.cpuMillis !== undefined ? { cpuMillis: BigInt(l.cpuMillis) } : {}),
          },
        }
      : {}),
    ...(s.egress !== undefined ? { egress: s.egress } : {}),
  };
}

export function settingsFromWire(m: NodeWorkerSettings, field: string): WorkerSettings {
  const l = m.limits;
  return {
    ...(l
      ? {
          limits: {
            ...(l.memoryBytes !== undefined
              ? { memoryBytes: count(`${field}.limits.memory_bytes`, l.memoryBytes) }
              : {}),
            ...(l.cpuMillis !== undefined
              ? { cpuMillis: count(`${field}.limits.cpu_millis`, l.cpuMillis) }
              : {}),
          },
        }
      : {}),
    ...(m.egress !== undefined
      ? { egress: oneOf(`${field}.egress`, m.egress, ["default", "none"] as const) }
      : {}),
  };
}

export function workerInfoToWire(w: WorkerInfo): MessageInitShape<typeof NodeWorkerInfoSchema> {
  const e = w.lastExit;
  return {
    name: w.name,
    address: w.address,
    ...(w.actor ? { actor: identityToWire(w.actor) } : {}),
    ...(w.settings ? { settings: settingsToWire(w.settings) } : {}),
    ...(e
      ? {
          lastExit: {
            reason: e.reason,
            message: e.message,
            ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
            at: e.at,
            actor: identityToWire(e.actor),
          },
        }
      : {}),
  };
}

export function workerInfoFromWire(m: NodeWorkerInfo, field: string): WorkerInfo {
  const e = m.lastExit;
  return {
    name: workerName(`${field}.name`, m.name),
    address: workerAddress(`${field}.address`, m.address),
    ...(m.actor ? { actor: identityFromWire(m.actor, `${field}.actor`) } : {}),
    ...(m.settings ? { settings: settingsFromWire(m.settings, `${field}.settings`) } : {}),
    ...(e
      ? {
          lastExit: {
            reason: oneOf(`${field}.last_exit.reason`, e.reason, [
              "OOMKilled",
              "Exited",
              "Killed",
            ] as const),
            message: e.message,
            ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
            at: text(`${field}.last_exit.at`, e.at, 64),
            actor: identityFromWire(e.actor, `${field}.last_exit.actor`),
          },
        }
      : {}),
  };
}

import { formatCpu, formatMemory, parseCpu, parseMemory, shown } from "../api/quantity/index.ts";
import type { WorkerPool } from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { WorkerSettings } from "../sandbox/index.ts";

/** WorkerPool annotation: `none` cuts the pool's actors off from everything outside their sandbox. */
export const egressAnnotation = "ate.dev/egress";

/** Below these a sandbox cannot even start (gVisor's own kernel lives within the limit). */
export const minMemoryBytes = 32 * 1024 * 1024;
export const minCpuMillis = 10;

/** What each of a pool's workers reserves on its node (requests; limits where absent). */
export interface WorkerRequests {
  memoryBytes: number;
  cpuMillis: number;
  /** The fields the values came from, for messages. */
  memoryField: string;
  cpuField: string;
}

export type PoolSettings =
  | { ok: true; settings: WorkerSettings; requests: WorkerRequests }
  /** The pool cannot have workers as it is: `reason` and `message` go into its status. */
  | { ok: false; reason: string; message: string };

const path = "spec.template.resources";

/**
 * A pool's worker settings from `spec.template.resources` (memory and cpu; other resource
 * names are not enforced on one machine) and its `ate.dev/egress` annotation, or why none can be
 * made from them.
 */
export function poolSettings(pool: WorkerPool): PoolSettings {
  const egress = pool.metadata.annotations?.[egressAnnotation];
  if (egress !== undefined && egress !== "default" && egress !== "none")
    return {
      ok: false,
      reason: "InvalidAnnotation",
      message: `metadata.annotations["${egressAnnotation}"]: Unsupported value: ${shown(egress)}: supported values: "default", "none"`,
    };
  try {
    const limits = pool.spec.template?.resources?.limits ?? {};
    const requests = pool.spec.template?.resources?.requests ?? {};
    const quantity = <T>(
      parse: (field: string, value: unknown) => T,
      field: string,
      value: unknown,
    ): T | undefined => (value === undefined ? undefined : parse(`${path}.${field}`, value));
    const memoryLimit = quantity(parseMemory, "limits.memory", limits.memory);
    const cpuLimit = quantity(parseCpu, "limits.cpu", limits.cpu);
    const memoryRequest = quantity(parseMemory, "requests.memory", requests.memory);
    const cpuRequest = quantity(parseCpu, "requests.cpu", requests.cpu);
    if (memoryLimit !== undefined && memoryLimit < minMemoryBytes)
      throw below("limits.memory", limits.memory, formatMemory(minMemoryBytes));
    if (cpuLimit !== undefined && cpuLimit < minCpuMillis)
      throw below("limits.cpu", limits.cpu, formatCpu(minCpuMillis));
    if (memoryRequest !== undefined && memoryLimit !== undefined && memoryRequest > memoryLimit)
      throw overLimit("memory", requests.memory, limits.memory);
    if (cpuRequest !== undefined && cpuLimit !== undefined && cpuRequest > cpuLimit)
      throw overLimit("cpu", requests.cpu, limits.cpu);
    const workerLimits = {
      ...(memoryLimit !== undefined ? { memoryBytes: memoryLimit } : {}),
      ...(cpuLimit !== undefined ? { cpuMillis: cpuLimit } : {}),
    };
    return {
      ok: true,
      settings: {
        ...(Object.keys(workerLimits).length ? { limits: workerLimits } : {}),
        ...(egress === "none" ? { egress: "none" as const } : {}),
      },
      // As Kubernetes does: a limit stands in for a missing request.
      requests: {
        memoryBytes: memoryRequest ?? memoryLimit ?? 0,
        cpuMillis: cpuRequest ?? cpuLimit ?? 0,
        memoryField: `${path}.${memoryRequest === undefined && memoryLimit !== undefined ? "limits" : "requests"}.memory`,
        cpuField: `${path}.${cpuRequest === undefined && cpuLimit !== undefined ? "limits" : "requests"}.cpu`,
      },
    };
  } catch (err) {
    if (!isAteError(err, Code.InvalidArgument)) throw err;
    return { ok: false, reason: "InvalidResources", message: err.message };
  }
}

function below(field: string, value: unknown, min: string): AteError {
  return new AteError(
    Code.InvalidArgument,
    `${path}.${field}: Invalid value: ${JSON.stringify(value)}: must be at least ${min}, the least a sandbox runs in`,
  );
}

function overLimit(resource: string, request: unknown, limit: unknown): AteError {
  return new AteError(
    Code.InvalidArgument,
    `${path}.requests.${resource}: Invalid value: ${JSON.stringify(request)}: must be less than or equal to ${resource} limit of ${limit}`,
  );
}

/** Whether two workers are set up alike (absent settings: no limits, default egress). */
export function sameSettings(a: WorkerSettings | undefined, b: WorkerSettings | undefined) {
  const key = (s: WorkerSettings | undefined) =>
    JSON.stringify([
      s?.limits?.memoryBytes ?? null,
      s?.limits?.cpuMillis ?? null,
      s?.egress ?? "default",
    ]);
  return key(a) === key(b);
}

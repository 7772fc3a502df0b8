import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  NodeRegistration as NodeRegistrationMsg,
  NodeRegistrationResult as NodeRegistrationResultMsg,
  NodeRegistrationResultSchema,
  NodeRegistrationSchema,
} from "../../proto/gen/ateapi/node_pb.ts";
import type { NodeRegistration, NodeRegistrationResult } from "../api.ts";
import { count, invalid, required } from "./wire-checks.ts";

/**
 * Registrations as they cross the wire. Only shapes and number ranges are checked here; what
 * a valid registration is (names, urls, bounds) is the registry's call, made in one place.
 */
export function registrationToWire(
  r: NodeRegistration,
): MessageInitShape<typeof NodeRegistrationSchema> {
  return {
    ...r,
    capacity: {
      ...r.capacity,
      memoryBytes: BigInt(r.capacity.memoryBytes),
      cpuMillis: BigInt(r.capacity.cpuMillis),
    },
  };
}

export function registrationFromWire(
  m: NodeRegistrationMsg | undefined,
  field: string,
): NodeRegistration {
  const r = required(field, m);
  const c = required(`${field}.capacity`, r.capacity);
  if (c.workers < 0) throw invalid(`${field}.capacity.workers`, c.workers, "must not be negative");
  return {
    name: r.name,
    url: r.url,
    ...(r.entry !== undefined ? { entry: r.entry } : {}),
    address: r.address,
    arch: r.arch,
    sandboxClasses: [...r.sandboxClasses],
    capacity: {
      workers: c.workers,
      source: c.source,
      memoryBytes: count(`${field}.capacity.memory_bytes`, c.memoryBytes),
      cpuMillis: count(`${field}.capacity.cpu_millis`, c.cpuMillis),
    },
    cachedAssets: [...r.cachedAssets],
    cachedImages: [...r.cachedImages],
  };
}

export function registrationResultToWire(
  r: NodeRegistrationResult,
): MessageInitShape<typeof NodeRegistrationResultSchema> {
  return {
    heartbeatMs: BigInt(r.heartbeatMs),
    lostAfterMs: BigInt(r.lostAfterMs),
    staleWorkers: r.staleWorkers,
  };
}

export function registrationResultFromWire(m: NodeRegistrationResultMsg): NodeRegistrationResult {
  return {
    heartbeatMs: count("heartbeat_ms", m.heartbeatMs),
    lostAfterMs: count("lost_after_ms", m.lostAfterMs),
    staleWorkers: [...m.staleWorkers],
  };
}

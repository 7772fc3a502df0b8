import type { MessageInitShape } from "@bufbuild/protobuf";
import { type SandboxAsset, sandboxClasses } from "../../api/v1alpha1/index.ts";
import type {
  NodeEnvVar,
  NodeEnvVarSchema,
  NodeSandboxAssets,
  NodeSandboxAssetsSchema,
  NodeWorkload,
  NodeWorkloadSchema,
} from "../../proto/gen/ateapi/node_pb.ts";
import type { SandboxAssets, Workload, WorkloadContainer, WorkloadEnvVar } from "../api.ts";
import { invalid, label, oneOf, required, subdomain, text } from "./wire-checks.ts";

/** What runs, as the wire's NodeWorkload: every optional list keeps its presence. */
export function workloadToWire(w: Workload): MessageInitShape<typeof NodeWorkloadSchema> {
  return {
    containers: w.containers.map((c) => ({
      name: c.name,
      image: c.image,
      ...(c.command ? { command: { values: c.command } } : {}),
      ...(c.args ? { args: { values: c.args } } : {}),
      ...(c.env ? { env: { vars: c.env.map(envVarToWire) } } : {}),
      ...(c.readyz ? { readyz: c.readyz } : {}),
      ...(c.volumeMounts ? { volumeMounts: { mounts: c.volumeMounts } } : {}),
    })),
    ...(w.volumes
      ? {
          volumes: {
            volumes: w.volumes.map((v) => ({
              name: v.name,
              ...(v.durableDir ? { durableDir: {} } : {}),
            })),
          },
        }
      : {}),
  };
}

export function workloadFromWire(m: NodeWorkload | undefined, field: string): Workload {
  const w = required(field, m);
  const containers = w.containers.map((c, i): WorkloadContainer => {
    const f = `${field}.containers[${i}]`;
    const readyz = c.readyz;
    if (readyz && (readyz.port < 1 || readyz.port > 65535))
      throw invalid(`${f}.readyz.port`, readyz.port, "must be between 1 and 65535");
    if (readyz?.timeoutSeconds !== undefined && readyz.timeoutSeconds < 0)
      throw invalid(`${f}.readyz.timeout_seconds`, readyz.timeoutSeconds, "must not be negative");
    return {
      name: label(`${f}.name`, c.name),
      image: text(`${f}.image`, c.image),
      ...(c.command ? { command: [...c.command.values] } : {}),
      ...(c.args ? { args: [...c.args.values] } : {}),
      ...(c.env ? { env: c.env.vars.map((e, j) => envVarFromWire(e, `${f}.env.vars[${j}]`)) } : {}),
      ...(readyz
        ? {
            readyz: {
              path: text(`${f}.readyz.path`, readyz.path),
              port: readyz.port,
              ...(readyz.timeoutSeconds !== undefined
                ? { timeoutSeconds: readyz.timeoutSeconds }
                : {}),
            },
          }
        : {}),
      ...(c.volumeMounts
        ? {
            volumeMounts: c.volumeMounts.mounts.map((m, j) => ({
              name: label(`${f}.volume_mounts[${j}].name`, m.name),
              mountPath: text(`${f}.volume_mounts[${j}].mount_path`, m.mountPath),
            })),
          }
        : {}),
    };
  });
  if (containers.length === 0)
    throw invalid(`${field}.containers`, [], "a workload runs at least one container");
  return {
    containers,
    ...(w.volumes
      ? {
          volumes: w.volumes.volumes.map((v, i) => ({
            name: label(`${field}.volumes[${i}].name`, v.name),
            ...(v.durableDir ? { durableDir: {} } : {}),
          })),
        }
      : {}),
  };
}

function envVarToWire(e: WorkloadEnvVar): MessageInitShape<typeof NodeEnvVarSchema> {
  return {
    name: e.name,
    ...(e.value !== undefined ? { value: e.value } : {}),
    ...(e.secretKeyRef ? { secretKeyRef: e.secretKeyRef } : {}),
  };
}

/** Names checked (they reach config.json and error messages); a value is never quoted back. */
function envVarFromWire(e: NodeEnvVar, field: string): WorkloadEnvVar {
  const name = text(`${field}.name`, e.name);
  if (name.includes("=")) throw invalid(`${field}.name`, name, "must not contain '='");
  const ref = e.secretKeyRef;
  // Neither: the empty literal, as a control plane from before `optional value` encodes it.
  const value = e.value ?? (ref ? undefined : "");
  return {
    name,
    ...(value !== undefined ? { value } : {}),
    ...(ref
      ? {
          secretKeyRef: {
            name: subdomain(`${field}.secret_key_ref.name`, ref.name),
            key: secretKey(`${field}.secret_key_ref.key`, ref.key),
            ...(ref.optional ? { optional: true } : {}),
          },
        }
      : {}),
  };
}

/** A Secret's key as Kubernetes allows it: letters, digits, '-', '_' and '.'. */
export function secretKey(field: string, key: string): string {
  if (!/^[-._a-zA-Z0-9]{1,253}$/.test(key))
    throw invalid(field, key, "must consist of alphanumeric characters, '-', '_' or '.'");
  return key;
}

export function sandboxAssetsToWire(
  a: SandboxAssets,
): MessageInitShape<typeof NodeSandboxAssetsSchema> {
  return {
    sandboxClass: a.sandboxClass,
    assets: Object.fromEntries(
      Object.entries(a.assets).map(([arch, byName]) => [arch, { assets: byName }]),
    ),
  };
}

export function sandboxAssetsFromWire(
  m: NodeSandboxAssets | undefined,
  field: string,
): SandboxAssets {
  const a = required(field, m);
  const assets: Record<string, Record<string, SandboxAsset>> = {};
  for (const [arch, byName] of Object.entries(a.assets)) {
    const forArch: Record<string, SandboxAsset> = {};
    for (const [name, asset] of Object.entries(byName.assets)) {
      const f = `${field}.assets[${arch}][${name}]`;
      label(`${field}.assets[${arch}] key`, name);
      if (!/^[a-f0-9]{64}$/.test(asset.sha256))
        throw invalid(`${f}.sha256`, asset.sha256, "must be 64 lower-case hex digits");
      forArch[name] = { url: text(`${f}.url`, asset.url), sha256: asset.sha256 };
    }
    assets[label(`${field}.assets key`, arch)] = forArch;
  }
  return {
    sandboxClass: oneOf(`${field}.sandbox_class`, a.sandboxClass, sandboxClasses),
    assets,
  };
}

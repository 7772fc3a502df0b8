import { isDNS1123Label } from "../api/names/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { SandboxContainer, SandboxSpec } from "../sandbox/index.ts";
import { maxContainers } from "../sandbox/index.ts";
import type { Workload, WorkloadContainer } from "./api.ts";
import type { PulledImage } from "./images/index.ts";

/** argv as Kubernetes builds it: command replaces ENTRYPOINT (and drops CMD); args replace CMD. */
export function argv(c: WorkloadContainer, image: PulledImage): string[] {
  const entrypoint = c.command?.length ? c.command : (image.config.config?.Entrypoint ?? []);
  const cmd = c.args?.length ? c.args : c.command?.length ? [] : (image.config.config?.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0)
    throw new AteError(
      Code.InvalidArgument,
      `container ${c.name}: neither the template nor image ${c.image} says what to run (set command)`,
    );
  return args;
}

/**
 * Image env first, the template's env over it by name. A variable without a value (an optional
 * Secret reference that found nothing) is not set, as Kubernetes leaves it.
 */
export function environment(c: WorkloadContainer, image: PulledImage): string[] {
  const env = new Map<string, string>();
  for (const kv of image.config.config?.Env ?? [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]) {
    const i = kv.indexOf("=");
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  for (const { name, value } of c.env ?? []) if (value !== undefined) env.set(name, value);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function userOf(image: PulledImage): { uid: number; gid: number } {
  const user = image.config.config?.User ?? "";
  if (user === "") return { uid: 0, gid: 0 };
  const [u = "", g] = user.split(":");
  if (!/^\d+$/.test(u) || (g !== undefined && !/^\d+$/.test(g))) {
    throw new AteError(
      Code.InvalidArgument,
      `image ${image.reference}: USER "${user}" must be numeric (uid[:gid]) for ate`,
    );
  }
  return { uid: Number(u), gid: Number(g ?? u) };
}

export interface SpecInputs {
  workload: Workload;
  images: Record<string, PulledImage>;
  /** volume name → host directory */
  volumes: Record<string, string>;
  /** Host directory mounted read-only at /run/ate (holds actor-id). */
  identityDir: string;
  hostname: string;
  logPath: string;
}

/**
 * The containers all run in one sandbox (see src/sandbox/gvisor/subcontainers.ts): 1 to 10 of
 * them (the ActorTemplate CRD's limit), each name a DNS label, as the CRD requires (they name
 * files too), and each name once (images, bundles, logs and a checkpoint's container set are
 * keyed by it).
 */
export function checkContainers(workload: Workload): void {
  const names = workload.containers.map((c) => c.name);
  if (names.length < 1 || names.length > maxContainers)
    throw new AteError(
      Code.InvalidArgument,
      `containers: Invalid value: ${names.length}: an actor runs 1 to ${maxContainers} containers`,
    );
  const bad = names.find((n) => isDNS1123Label(n).length > 0);
  if (bad !== undefined)
    throw new AteError(
      Code.InvalidArgument,
      `containers: Invalid value: ${JSON.stringify(bad.slice(0, 80))}: a container name is a DNS label (lower-case letters, digits, '-'; at most 63)`,
    );
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw new AteError(
      Code.InvalidArgument,
      `containers: Duplicate value: "${twice}": each container needs a name of its own`,
    );
}

export function sandboxSpec(inputs: SpecInputs): SandboxSpec {
  checkContainers(inputs.workload);
  const containers: SandboxContainer[] = inputs.workload.containers.map((c) => {
    const image = inputs.images[c.name] as PulledImage;
    return {
      name: c.name,
      rootfs: image.rootfs,
      args: argv(c, image),
      env: environment(c, image),
      cwd: image.config.config?.WorkingDir || "/",
      ...userOf(image),
      mounts: [
        { destination: "/run/ate", source: inputs.identityDir, readonly: true },
        ...(c.volumeMounts ?? []).map((m) => {
          const source = inputs.volumes[m.name];
          if (!source)
            throw new AteError(
              Code.InvalidArgument,
              `container ${c.name} mounts volume "${m.name}", which the workload does not define`,
            );
          return { destination: m.mountPath, source };
        }),
      ],
    };
  });
  return { hostname: inputs.hostname, containers, logPath: inputs.logPath };
}

import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isDNS1123Label } from "../../api/names/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import { privateDir, privateDirSync, privateFileMode } from "../../private-files/index.ts";
import type { SandboxMount, SandboxSpec } from "../driver.ts";
import type { LimitedCgroup } from "./cgroups.ts";
import { sandboxOf } from "./former-sandboxes.ts";
import { ociSpec } from "./oci-spec.ts";
import {
  type Bundles,
  containerSetFile,
  maxContainers,
  podAnnotations,
  readContainerSet,
  subcontainerIds,
  writeContainerSet,
} from "./subcontainers.ts";

/**
 * The gvisor driver's state dir: runsc's state root (`runsc`), each worker's sandbox bundle
 * (`bundles/<worker>`) and pid file (`pids/<worker>`, by which an agent that restarts finds
 * the sandbox again; the other records of sandboxes live under `pids` too).
 */
export class StateDir {
  /** runsc's `--root`. */
  readonly runsc: string;
  readonly pids: string;

  constructor(private readonly dir: string) {
    // runsc's state and the bundles hold each sandbox's spec, resolved secrets included: root's.
    for (const d of ["runsc", "bundles", "pids"]) privateDirSync(join(dir, d));
    this.runsc = join(dir, "runsc");
    this.pids = join(dir, "pids");
  }

  bundleDir(worker: string): string {
    return join(this.dir, "bundles", worker);
  }

  async removeBundle(worker: string): Promise<void> {
    await rm(this.bundleDir(worker), { recursive: true, force: true });
  }

  /**
   * Writes the bundles of the worker's next sandbox `id`: the first container's (the root) in
   * the bundle dir, each further one's in `containers/<name>` (see subcontainers.ts), every
   * one with `mount` added. Several containers also leave their names, in order, in the bundle
   * dir: what a checkpoint of this sandbox holds (and an agent that restarts finds again).
   */
  async writeBundle(
    worker: string,
    spec: SandboxSpec,
    netnsPath: string,
    mount: SandboxMount,
    id: string,
    cgroup?: LimitedCgroup,
  ): Promise<Bundles> {
    const count = spec.containers.length;
    if (count < 1 || count > maxContainers) {
      throw new AteError(
        Code.InvalidArgument,
        `containers: a sandbox runs 1 to ${maxContainers} containers; this actor has ${count}`,
      );
    }
    // Names become paths (and log labels): DNS labels only, as the CRD has them.
    const odd = spec.containers.find((c) => isDNS1123Label(c.name).length > 0);
    if (odd)
      throw new AteError(
        Code.InvalidArgument,
        `containers: Invalid value: ${JSON.stringify(odd.name.slice(0, 80))}: not a DNS label`,
      );
    const dir = this.bundleDir(worker);
    await privateDir(dir);
    // What a former sandbox of several containers left must not describe this one.
    await rm(join(dir, "containers"), { recursive: true, force: true });
    await rm(join(dir, containerSetFile), { force: true });
    const pod = count > 1;
    const ids = [id, ...subcontainerIds(id, count)];
    const bundles: Bundles = { root: dir, subs: [] };
    for (const [i, c] of spec.containers.entries()) {
      const into = i === 0 ? dir : join(dir, "containers", c.name);
      const container = { ...c, mounts: [...c.mounts, mount] };
      const annotations = pod ? podAnnotations(id, c.name, i === 0) : undefined;
      const config = ociSpec(
        container,
        spec.hostname,
        netnsPath,
        i === 0 ? cgroup : undefined,
        annotations,
      );
      await privateDir(into);
      await writeFile(join(into, "config.json"), JSON.stringify(config, null, 2), {
        mode: privateFileMode,
      });
      if (i > 0) bundles.subs.push({ id: ids[i] as string, name: c.name, dir: into });
    }
    if (pod)
      await writeContainerSet(
        dir,
        spec.containers.map((c) => c.name),
      );
    return bundles;
  }

  /** The further containers of the worker's sandbox `id`, as its bundle recorded them. */
  async subcontainersOf(worker: string, id: string): Promise<{ id: string; name: string }[]> {
    const names = (await readContainerSet(this.bundleDir(worker))) ?? [];
    const ids = subcontainerIds(id, names.length);
    return names.slice(1).map((name, i) => ({ id: ids[i] as string, name }));
  }

  /** The foreground runsc's pid and the sandbox id, for an agent that restarts meanwhile. */
  async writePid(worker: string, pid: number, id: string): Promise<void> {
    await privateDir(dirname(this.pidFile(worker)));
    await writeFile(this.pidFile(worker), `${pid} ${id}`, { mode: privateFileMode });
  }

  /** The pid file: `<pid> <sandbox id>` (an older agent wrote the pid alone: id = worker). */
  async readPid(worker: string): Promise<{ pid: number; id: string }> {
    const text = await readFile(this.pidFile(worker), "utf8").catch(() => "");
    const [pid = "0", id = worker] = text.trim().split(" ");
    return { pid: Number(pid) || 0, id: sandboxOf(id, worker) ? id : worker };
  }

  async removePid(worker: string): Promise<void> {
    await rm(this.pidFile(worker), { force: true });
  }

  private pidFile(worker: string): string {
    return join(this.pids, worker);
  }
}

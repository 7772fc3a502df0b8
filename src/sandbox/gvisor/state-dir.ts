import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import { privateDir, privateDirSync, privateFileMode } from "../../private-files/index.ts";
import type { SandboxMount, SandboxSpec } from "../driver.ts";
import type { LimitedCgroup } from "./cgroups-exits.ts";
import { sandboxOf } from "./former-sandboxes.ts";
import { ociSpec } from "./oci-spec.ts";

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

  /** Writes the bundle of the worker's next sandbox (one container, plus `mount`). */
  async writeBundle(
    worker: string,
    spec: SandboxSpec,
    netnsPath: string,
    mount: SandboxMount,
    cgroup?: LimitedCgroup,
  ): Promise<string> {
    if (spec.containers.length !== 1) {
      throw new AteError(
        Code.Unimplemented,
        `the gvisor driver runs one container per actor; this actor has ${spec.containers.length} (${spec.containers.map((c) => c.name).join(", ")})`,
      );
    }
    const dir = this.bundleDir(worker);
    await privateDir(dir);
    const first = spec.containers[0] as (typeof spec.containers)[0];
    const container = { ...first, mounts: [...first.mounts, mount] };
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify(ociSpec(container, spec.hostname, netnsPath, cgroup), null, 2),
      { mode: privateFileMode },
    );
    return dir;
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

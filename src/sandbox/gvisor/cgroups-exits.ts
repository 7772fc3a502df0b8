import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { privateFileMode } from "../../private-files/index.ts";
import type { SandboxExit, WorkerRef } from "../driver.ts";
import { formatBytes, type LimitedCgroup, type WorkerCgroups } from "./cgroups.ts";
import type { ContainerEnd } from "./container-waits.ts";
import { type Runsc, runsIn } from "./runsc.ts";

/** A running sandbox the driver started or adopted, watched until it stops. */
interface Watched {
  worker: WorkerRef;
  /** Settles once the sandbox ran; rejects if it never did (a failed start is no exit). */
  started: Promise<void>;
  /** The foreground runsc's exit code; undefined when not known (adopted after a restart). */
  exited: Promise<number | undefined>;
  cgroup?: LimitedCgroup | undefined;
  /** A checkpoint, stop or release is under way: the sandbox's end is theirs, no exit. */
  quiet: boolean;
  /** The OOM watch found a process of it killed at its memory limit and killed the rest. */
  oomKilled: boolean;
  /** The waits on its further containers (container-waits.ts), and how to start them again. */
  containers?: { cancel(): void };
  rewatch?: () => void;
  /** Why it was stopped from here: a further container of it ended. */
  because?: ContainerEnd;
}

/** How often running sandboxes with a memory limit are checked for OOM kills. */
const oomPollMs = 250;

/**
 * Tells when a sandbox stops that nobody stopped, and why. Which driver instance may report a
 * worker's sandbox is in `<dir>/<worker>.owner`: its id while it runs the sandbox, `quiet`
 * while a checkpoint, stop or release ends it, so neither those nor a second agent over the
 * same state (a restart inside one process, as tests do) reports it.
 *
 * A gVisor sandbox with one process OOM-killed at its cgroup's limit hangs rather than exits,
 * so sandboxes with a memory limit are polled for OOM kills and then killed whole.
 */
export class SandboxExits {
  private readonly id = randomBytes(6).toString("hex");
  private readonly live = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Aborted by close(): nothing is watched from this process any more. */
  private readonly closed = new AbortController();

  constructor(
    private readonly cgroups: WorkerCgroups,
    private readonly dir: string,
    /** Called once a watched sandbox stopped on its own; `stillReport` is false once quieted. */
    private readonly stopped: (
      worker: WorkerRef,
      exit: SandboxExit,
      stillReport: () => boolean,
    ) => void,
  ) {}

  /** Before a start: the next sandbox on the worker is this instance's to report. */
  async claim(worker: string): Promise<void> {
    this.live.delete(worker);
    await writeFile(this.ownerFile(worker), this.id, { mode: privateFileMode });
  }

  /** Watches a sandbox just launched (after claim). */
  watch(
    worker: WorkerRef,
    started: Promise<void>,
    exited: Promise<number | undefined>,
    cgroup?: LimitedCgroup,
  ): void {
    if (this.closed.signal.aborted) return;
    const w: Watched = { worker, started, exited, cgroup, quiet: false, oomKilled: false };
    this.live.set(worker.name, w);
    if (cgroup?.limits.memoryBytes && !this.timer)
      this.timer = setInterval(() => void this.pollOom(), oomPollMs);
    void exited.then((code) => this.ended(w, code));
  }

  /**
   * Watches the further containers of the worker's watched sandbox too: the first to end on
   * its own has the sandbox killed (`kill`), and that is the exit reported, naming it.
   */
  watchContainers(
    worker: string,
    runsc: Runsc,
    id: string,
    subs: { id: string; name: string }[],
  ): void {
    const w = this.live.get(worker);
    if (!w || !subs.length || this.closed.signal.aborted) return;
    w.rewatch = () => {
      w.containers = runsc.waitFor(subs, async (end) => {
        if (!(await this.mine(w))) return;
        w.because = end;
        await runsc.kill(id);
      });
    };
    w.rewatch();
  }

  /** Takes over a sandbox that runs since before a restart: its runsc is no child of ours. */
  async adopt(worker: WorkerRef, pid: number, id: string, bundleConfig: string): Promise<void> {
    await this.claim(worker.name);
    const spec = await readFile(bundleConfig, "utf8").then(JSON.parse, () => ({}));
    const path = (spec as { linux?: { cgroupsPath?: string } }).linux?.cgroupsPath;
    const limits = worker.settings?.limits;
    const baseline = await this.cgroups.oomBaseline(worker.index);
    const closed = this.closed.signal;
    const exited = (async () => {
      while (!closed.aborted && pid > 0 && runsIn(pid, id))
        await sleep(500, undefined, { signal: closed }).catch(() => {});
      return undefined;
    })();
    this.watch(
      worker,
      Promise.resolve(),
      exited,
      path && limits ? { path, limits, baseline } : undefined,
    );
  }

  /** A checkpoint, stop or release is about to end the worker's sandbox. */
  async quiet(worker: string): Promise<void> {
    const w = this.live.get(worker);
    if (w) w.quiet = true;
    w?.containers?.cancel(); // a checkpoint or stop ends them too: no exit of theirs
    await writeFile(this.ownerFile(worker), "quiet", { mode: privateFileMode });
  }

  /**
   * A checkpoint failed and the sandbox is (as far as anyone knows) still there: watched
   * again. If it stopped meanwhile the failure says so; its stop is not reported twice.
   */
  async unquiet(worker: string): Promise<void> {
    const w = this.live.get(worker);
    if (!w) return;
    w.quiet = false;
    w.rewatch?.(); // quiet ended the waits on its further containers
    await writeFile(this.ownerFile(worker), this.id, { mode: privateFileMode });
  }

  /** The worker's sandbox is gone; nothing left to watch. */
  forget(worker: string): void {
    this.live.get(worker)?.containers?.cancel();
    this.live.delete(worker);
    if (![...this.live.values()].some((w) => w.cgroup?.limits.memoryBytes)) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * This process lets go of the sandboxes, which keep running (an agent on the same state
   * adopts them): none is watched or reported from here any more, the OOM poll ends.
   */
  close(): void {
    this.closed.abort();
    for (const w of this.live.values()) w.containers?.cancel();
    this.live.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The worker is released: no watch, no owner file. */
  async release(worker: string): Promise<void> {
    this.forget(worker);
    await rm(this.ownerFile(worker), { force: true });
  }

  /** The cgroup of the worker's running sandbox, if it has limits. */
  cgroupOf(worker: string): LimitedCgroup | undefined {
    return this.live.get(worker)?.cgroup;
  }

  private ownerFile(worker: string): string {
    return join(this.dir, `${worker}.owner`);
  }

  private async mine(w: Watched): Promise<boolean> {
    if (w.quiet || this.live.get(w.worker.name) !== w) return false;
    return (await readFile(this.ownerFile(w.worker.name), "utf8").catch(() => "")) === this.id;
  }

  private async ended(w: Watched, code: number | undefined): Promise<void> {
    if (
      !(await w.started.then(
        () => true,
        () => false,
      ))
    )
      return;
    if (!(await this.mine(w))) return;
    const exit = await this.describe(w, code);
    if (!(await this.mine(w))) return;
    this.stopped(w.worker, exit, () => !w.quiet);
  }

  private async describe(w: Watched, code: number | undefined): Promise<SandboxExit> {
    const at = new Date().toISOString();
    const memory = w.cgroup?.limits.memoryBytes;
    const oom =
      memory &&
      w.cgroup &&
      (w.oomKilled ||
        (await this.cgroups
          .exitedOnOom(w.worker.index, w.cgroup.path, w.cgroup.baseline, memory)
          .catch(() => false)));
    const exitCode = code === undefined ? {} : { exitCode: code };
    const ended = w.because;
    if (ended && !oom)
      return {
        reason: "Exited",
        message: `container ${ended.name} exited${ended.exitStatus === undefined ? "" : ` with code ${ended.exitStatus}`}; the actor's sandbox, every container of it, was stopped`,
        ...(ended.exitStatus === undefined ? {} : { exitCode: ended.exitStatus }),
        at,
      };
    if (oom)
      return {
        reason: "OOMKilled",
        message: `the sandbox went past its memory limit of ${formatBytes(memory)} and was killed`,
        ...exitCode,
        at,
      };
    if (code === undefined)
      return {
        reason: "Killed",
        message:
          "the sandbox stopped (it was started before the node agent restarted: no exit status)",
        at,
      };
    if (code > 128) {
      const name = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
      return {
        reason: "Killed",
        message: `the sandbox was killed by signal ${code - 128}${name ? ` (${name})` : ""}`,
        exitCode: code,
        at,
      };
    }
    return {
      reason: "Exited",
      message: `the actor's process exited with code ${code}`,
      exitCode: code,
      at,
    };
  }

  private async pollOom(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const w of this.live.values()) {
        if (w.quiet || w.oomKilled || !w.cgroup?.limits.memoryBytes) continue;
        if ((await this.cgroups.oomKills(w.cgroup.path)) === 0 || !(await this.mine(w))) continue;
        w.oomKilled = true;
        await this.cgroups.killAll(w.cgroup.path);
      }
    } catch {
      // Next round.
    } finally {
      this.polling = false;
    }
  }
}

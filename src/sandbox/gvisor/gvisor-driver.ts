import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  CheckpointOptions,
  SandboxDriver,
  SandboxExit,
  SandboxRuntime,
  SandboxSpec,
  WorkerRef,
} from "../driver.ts";
import { hasLimits, WorkerCgroups } from "./cgroups.ts";
import { SandboxExits } from "./cgroups-exits.ts";
import { type EgressOptions, sandboxApiUrl, WorkerEgress } from "./egress-worker.ts";
import { FormerSandboxes, newSandboxId, waitForExit } from "./former-sandboxes.ts";
import type { Gated } from "./gated.ts";
import { defaultNetwork, type NetworkOptions, WorkerNetworks } from "./network.ts";
import { type Foreground, Runsc, runscFor } from "./runsc.ts";
import { StateDir } from "./state-dir.ts";
import { checkContainerSet, keepContainerSet } from "./subcontainers.ts";

/** A checkpointed sandbox's clean-up commands, prepared with the checkpoint (see gated.ts). */
interface Prepared {
  reset: Gated;
  remove: Gated;
}

export interface GvisorDriverOptions {
  /** runsc's state root and the bundles live here. */
  stateDir: string;
  network?: NetworkOptions;
  /** What actors may reach besides the outside world's public addresses, and their DNS. */
  egress?: EgressOptions;
}

/**
 * gVisor sandboxes via runsc: one sandbox per worker, in the worker's own network namespace,
 * rootfs writes kept in sandbox memory (`--overlay2=root:memory`) so a checkpoint holds memory
 * and rootfs changes together and restores onto a fresh copy of the image.
 */
export class GvisorDriver implements SandboxDriver {
  readonly sandboxClass = "gvisor" as const;
  readonly requiredAssets = ["runsc"] as const;
  readonly networks: WorkerNetworks;
  private readonly egress: WorkerEgress;
  /** The runsc binary each worker's sandbox was started with, for stopping it. */
  private readonly running = new Map<string, Runsc>();
  /** The foreground runsc (the sandbox's parent) of each worker's sandbox. */
  private readonly foreground = new Map<string, Foreground>();
  /** Background tear-downs (after a checkpoint, or a sandbox that stopped on its own). */
  private readonly cleanups = new Map<string, Promise<void>>();
  /** Workers whose sandbox this driver paused (the frozen tier), or found paused on adopt. */
  private readonly paused = new Set<string>();
  /** Each worker's current sandbox id: a fresh one per start (see newSandboxId). */
  private readonly ids = new Map<string, string>();
  /** Workers' former sandboxes, deleted in the background. */
  private readonly former: FormerSandboxes;
  /** runsc's root, each worker's bundle and pid file. */
  private readonly files: StateDir;
  /** The workers' cgroups, for their limits. */
  readonly cgroups: WorkerCgroups;
  private readonly exits: SandboxExits;
  private exitListener: ((worker: WorkerRef, exit: SandboxExit) => void) | undefined;

  constructor(options: GvisorDriverOptions) {
    this.networks = new WorkerNetworks(options.network);
    this.files = new StateDir(options.stateDir);
    const root = this.files.runsc;
    this.former = new FormerSandboxes(
      (worker) => this.ids.get(worker),
      join(this.files.pids, "former"),
      (binary) => new Runsc(binary, root),
    );
    this.cgroups = new WorkerCgroups(options.network?.prefix ?? defaultNetwork.prefix);
    this.exits = new SandboxExits(this.cgroups, this.files.pids, (w, e, still) =>
      this.stoppedOnItsOwn(w, e, still),
    );
    this.egress = new WorkerEgress(this.networks, options.stateDir, options.egress);
  }

  /** Where a sandbox reaches the Control API for its actor: default egress only, if served. */
  controlApiUrl(worker: WorkerRef): string | undefined {
    return this.egress.apiPort && worker.settings?.egress !== "none" ? sandboxApiUrl : undefined;
  }

  async prepareWorker(worker: WorkerRef): Promise<{ address: string }> {
    const limits = worker.settings?.limits;
    if (hasLimits(worker.name, limits)) await this.cgroups.prepare(worker.index, limits);
    const egress = worker.settings?.egress;
    const address = await this.networks.create(worker.index, egress, this.egress.apiPort);
    await this.egress.open(worker, true);
    return { address };
  }

  /**
   * Lets go of this driver's sandboxes without stopping them (an agent on the same state dir
   * takes them up again): the tear-downs under way finish, then none is watched, no DNS relay
   * of theirs serves and the host rules are not checked from this process any more.
   */
  async close(): Promise<void> {
    while (this.cleanups.size) await Promise.allSettled([...this.cleanups.values()]);
    await this.former.allDeleted();
    this.exits.close();
    await this.egress.detach();
  }

  async releaseWorker(worker: WorkerRef): Promise<void> {
    await this.stop(worker);
    // Its namespaces and cgroups go next: no former sandbox of it may be left.
    await this.former.deleted(worker.name);
    await this.former.deleteStrays(worker.name);
    await this.exits.release(worker.name);
    await this.cgroups.release(worker.index);
    await this.networks.destroy(worker.index);
    await this.egress.close(worker);
    await this.files.removeBundle(worker.name);
  }

  run(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.start(worker, runtime, spec, undefined, signal);
  }

  restore(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    imageDir: string,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.start(worker, runtime, spec, imageDir, signal);
  }

  /** Both ways a sandbox starts: on a settled worker, from a fresh bundle, remembering its runsc. */
  private async start(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    imageDir: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const names = spec.containers.map((c) => c.name);
    if (imageDir) await checkContainerSet(imageDir, names);
    await this.settled(worker);
    // After an agent restart an emptied worker has no relay yet.
    await this.egress.open(worker);
    const runsc = this.runsc(runtime);
    const cgroup = await this.cgroups.forSandbox(worker);
    const netns = this.networks.sandboxNsPath(worker.index);
    const dns = this.egress.resolvConfMount;
    const id = newSandboxId(worker.name, this.ids.get(worker.name));
    const bundles = await this.files.writeBundle(worker.name, spec, netns, dns, id, cgroup);
    this.running.set(worker.name, runsc);
    this.former.ranWith(worker.name, runsc);
    await this.exits.claim(worker.name);
    this.ids.set(worker.name, id);
    // Several containers: each one's output labelled with its name (labelled-output.ts).
    const label = bundles.subs.length ? names[0] : undefined;
    const fg = runsc.launch(id, { bundle: bundles.root, imageDir, label }, spec.logPath, signal);
    this.foreground.set(worker.name, fg);
    this.exits.watch(worker, fg.started, fg.exited, cgroup);
    // The foreground runsc's pid and the sandbox id, for an agent that restarts meanwhile.
    await this.files.writePid(worker.name, fg.pid, id);
    await fg.started;
    // The further containers join the running root (restored, the sandbox runs only once
    // every one of them is: subcontainers.ts), and are watched from then on.
    await runsc.startSubcontainers(bundles.subs, imageDir, spec.logPath, signal);
    this.exits.watchContainers(worker.name, runsc, id, bundles.subs);
  }

  /**
   * Closes every connection into the sandbox first (gVisor restores an endpoint that was open
   * at checkpoint into a spinning, dead process): in-flight ones get drainTimeoutMs to finish,
   * the rest are reset from the node's side, and none may remain (WorkerDrain.closeAll). So
   * are its connections to its Control API gateway (api-drain.ts).
   */
  async checkpoint(
    worker: WorkerRef,
    runtime: SandboxRuntime,
    imageDir: string,
    options: CheckpointOptions = {},
  ): Promise<void> {
    const runsc = this.runsc(runtime);
    const id = this.sandboxId(worker);
    const net = this.networks;
    await this.settled(worker);
    // A frozen sandbox runs again first, whoever asked: paused, it cannot close its
    // connections for the drain (and a late freeze must never be checkpointed paused).
    if (this.paused.has(worker.name)) await this.resume(worker, runtime);
    await this.exits.quiet(worker.name); // the sandbox stops once its image is saved
    let pre: Prepared | undefined;
    try {
      const deadline = Date.now() + (options.drainTimeoutMs ?? 5000);
      await mkdir(imageDir, { recursive: true });
      await keepContainerSet(this.files.bundleDir(worker.name), imageDir);
      await net.drain.closeAll(worker.index, worker.name, deadline, options.signal);
      // The sandbox's own connections to its Control API gateway too (its own suspend's).
      await this.egress.closeApiConnections(worker, deadline, options.signal);
      // The clean-up's commands, run through the launcher once the image is taken (gated.ts).
      pre = { reset: net.gatedReset(worker.index), remove: runsc.gatedDelete(id) };
      await runsc.checkpoint(id, imageDir, options.compress ?? true, options.signal);
    } catch (err) {
      pre?.reset.cancel();
      pre?.remove.cancel();
      await net.drain.unblock(worker.index);
      await this.exits.unquiet(worker.name);
      throw err;
    }
    // The image is complete; emptying the worker (a fresh network namespace, ≈0.1 s) happens
    // in the background, and the worker's next use waits for it; `runsc delete` of the
    // stopped sandbox (1–2 s) waits for nothing (see teardown).
    const cleanup = this.teardown(worker, runtime, true, options.busyUntil, pre).finally(() =>
      this.cleanups.delete(worker.name),
    );
    this.cleanups.set(worker.name, cleanup);
    cleanup.catch(() => {});
  }

  /** Waits for a background clean-up of the worker, if one is running. */
  async settled(worker: WorkerRef): Promise<void> {
    await this.cleanups.get(worker.name)?.catch(() => {});
  }

  async adopt(worker: WorkerRef, runtime: SandboxRuntime): Promise<boolean> {
    const runsc = this.runsc(runtime);
    const recorded = await this.files.readPid(worker.name);
    this.ids.set(worker.name, recorded.id);
    await this.former.recover(worker.name);
    this.former.ranWith(worker.name, runsc);
    // A paused (frozen) sandbox is alive too: it stays paused, its actor's record says frozen.
    const state = await runsc.state(this.sandboxId(worker));
    const alive = state === "running" || state === "paused";
    if (state === "paused") this.paused.add(worker.name);
    if (alive) {
      this.running.set(worker.name, runsc);
      const config = join(this.files.bundleDir(worker.name), "config.json");
      await this.exits.adopt(worker, recorded.pid, recorded.id, config);
      const subs = await this.files.subcontainersOf(worker.name, recorded.id);
      this.exits.watchContainers(worker.name, runsc, recorded.id, subs);
      await this.networks.drain.unblock(worker.index);
      await this.networks.drain.unblockLegacy(worker.index);
      await this.egress.open(worker, true);
    }
    return alive;
  }

  /** `runsc pause` of the worker's sandbox; already paused counts as done. */
  async pause(worker: WorkerRef, runtime: SandboxRuntime): Promise<void> {
    const runsc = this.running.get(worker.name) ?? this.runsc(runtime);
    const id = this.sandboxId(worker);
    // `runsc state` costs ≈25 ms: asked only when the pause failed.
    await runsc.pause(id).catch(async (err) => {
      if ((await runsc.state(id)) !== "paused") throw err;
    });
    this.paused.add(worker.name);
  }

  /** `runsc resume` of the worker's sandbox; already running counts as done. */
  async resume(worker: WorkerRef, runtime: SandboxRuntime): Promise<void> {
    const runsc = this.running.get(worker.name) ?? this.runsc(runtime);
    const id = this.sandboxId(worker);
    await runsc.resume(id).catch(async (err) => {
      if ((await runsc.state(id)) !== "running") throw err;
    });
    this.paused.delete(worker.name);
  }

  async stop(worker: WorkerRef, runtime?: SandboxRuntime): Promise<void> {
    // runsc's kill leaves a paused sandbox standing (delete --force then takes seconds).
    if (this.paused.has(worker.name) && runtime) await this.resume(worker, runtime).catch(() => {});
    await this.exits.quiet(worker.name);
    if (this.cleanups.has(worker.name)) return this.settled(worker);
    await this.former.recover(worker.name);
    await this.teardown(worker, runtime);
  }

  onExit(listener: (worker: WorkerRef, exit: SandboxExit) => void): void {
    this.exitListener = listener;
  }

  /** The cgroup of the worker's running sandbox when the worker has limits (path from a root). */
  cgroupOf(worker: string): string | undefined {
    return this.exits.cgroupOf(worker)?.path;
  }

  /** A sandbox stopped that nobody stopped: the worker is emptied, then the exit reported. */
  private stoppedOnItsOwn(worker: WorkerRef, exit: SandboxExit, stillReport: () => boolean) {
    const report = () => {
      if (stillReport()) this.exitListener?.(worker, exit);
    };
    const cleanup = this.teardown(worker, undefined, true).finally(() =>
      this.cleanups.delete(worker.name),
    );
    this.cleanups.set(worker.name, cleanup);
    cleanup.then(report, report); // the actor is gone either way
  }

  /**
   * Kills the sandbox (if it still runs: not `stopped`, as after a checkpoint) and empties the
   * worker for the next one. Each sandbox has an id (and so runsc state, sockets and default
   * cgroups) of its own, so once it stopped and the worker has a fresh network namespace the
   * next one may start: `runsc delete` goes on in the background (it takes 1–2 s even for a
   * stopped sandbox, polling every 100 ms for its gofer to be reaped, which is an orphan once
   * the foreground runsc exited and waits for the machine's init).
   */
  private async teardown(
    worker: WorkerRef,
    runtime?: SandboxRuntime,
    stopped = false,
    after?: Promise<unknown>,
    pre?: Prepared,
  ): Promise<void> {
    try {
      await this.emptyWorker(worker, runtime, stopped, after, pre);
    } catch (err) {
      pre?.reset.cancel(); // nothing once used
      pre?.remove.cancel();
      throw err;
    }
  }

  /**
   * teardown's work. After a checkpoint (`pre`, `after`), no process is started from here (each
   * start blocks the agent's event loop ≈10–30 ms on a busy 2-core machine, which had the
   * image's hashing take 2–3× longer): the reset and the delete run through the launcher
   * (gated.ts), once the caller is done with the image (`after`).
   */
  private async emptyWorker(
    worker: WorkerRef,
    runtime: SandboxRuntime | undefined,
    stopped: boolean,
    after: Promise<unknown> | undefined,
    pre: Prepared | undefined,
  ): Promise<void> {
    const runsc = this.running.get(worker.name) ?? (runtime ? this.runsc(runtime) : undefined);
    const id = this.sandboxId(worker);
    const pid = await this.foregroundPid(worker);
    const fg = this.foreground.get(worker.name);
    // `delete --force` of a running sandbox takes ≈5 s, of a stopped one 1–2 s; once its
    // foreground runsc, which reaps the sandbox, is done (≈0.1 s after a kill), the sandbox is.
    if (runsc && !stopped) await runsc.kill(id);
    const gone = !!runsc && pid > 0 && (await this.foregroundGone(worker, 2000));
    this.foreground.delete(worker.name);
    this.running.delete(worker.name);
    this.paused.delete(worker.name);
    this.ids.delete(worker.name);
    // Recorded before the pid file goes: an agent that dies during the delete deletes it on
    // its restart (FormerSandboxes.recover).
    if (runsc) await this.former.record(worker.name, id, runsc);
    await this.files.removePid(worker.name);
    // A sandbox that may still run (its kill failed or its runsc hangs) is deleted before the
    // worker is used again: it could still write to the actor's volumes. One that is gone is
    // deleted once the worker is ready again (the delete's processes would slow the reset).
    if (!gone) {
      pre?.remove.cancel();
      await this.former.remove(runsc, id, pid, fg);
    }
    try {
      // After a checkpoint, the reset's processes wait until the caller is done with the image
      // too: run at once they took the machine's other core from its hashing.
      await after?.catch(() => {});
      await this.networks.resetAfterSandbox(worker.index, gone, pre?.reset);
    } finally {
      const remove = async () => {
        await after?.catch(() => {});
        await this.former.remove(runsc, id, pid, fg, pre?.remove);
      };
      if (gone) this.former.inBackground(worker.name, remove());
    }
    this.exits.forget(worker.name);
  }

  private runsc(runtime: SandboxRuntime): Runsc {
    return runscFor(runtime, this.files.runsc);
  }

  /** The worker's current sandbox id (the worker's name for one an older agent started). */
  private sandboxId(worker: WorkerRef): string {
    return this.ids.get(worker.name) ?? worker.name;
  }

  private async foregroundPid(worker: WorkerRef): Promise<number> {
    const fg = this.foreground.get(worker.name);
    return fg?.pid ?? (await this.files.readPid(worker.name)).pid;
  }

  /** Whether the foreground runsc of the worker's last sandbox exited within ms. */
  private async foregroundGone(worker: WorkerRef, ms: number): Promise<boolean> {
    const fg = this.foreground.get(worker.name);
    if (fg)
      return Promise.race([
        fg.exited.then(() => true),
        sleep(ms, false, { ref: false }), // never holds the process open
      ]);
    return waitForExit(await this.foregroundPid(worker), this.sandboxId(worker), ms);
  }
}

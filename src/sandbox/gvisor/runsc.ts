import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code } from "../../errors/index.ts";
import type { SandboxRuntime } from "../driver.ts";
import { exec, execQuiet } from "../exec.ts";
import { type ContainerEnd, waitForContainers } from "./container-waits.ts";
import { type Gated, gated } from "./gated.ts";
import { labelledOutput } from "./labelled-output.ts";
import { type Bundles, subcontainersIn } from "./subcontainers.ts";

/**
 * A shell prelude, run in a fresh private mount namespace, that replaces /proc/sys with a
 * tmpfs holding bind mounts of every entry except `net`, then execs its arguments.
 */
export const withoutNetSysctls = [
  "t=$(mktemp -d /tmp/ate-procsys.XXXXXX)",
  'mount -t tmpfs -o mode=0555 tmpfs "$t"',
  'for e in /proc/sys/*; do n=$(basename "$e"); [ "$n" = net ] && continue; if [ -d "$e" ]; then mkdir "$t/$n"; else : > "$t/$n"; fi; mount --bind "$e" "$t/$n"; done',
  'if mount --move "$t" /proc/sys; then rmdir "$t"; else mount --rbind "$t" /proc/sys; fi',
  'exec "$@"',
].join("\n");

/** A runsc that runs a sandbox in the foreground: its pid, and its exit. */
export interface Foreground {
  pid: number;
  /** Settles once the container runs; rejects if runsc exits first. */
  started: Promise<void>;
  /** runsc's exit code, once the sandbox stopped and runsc cleaned up. */
  exited: Promise<number>;
}

/**
 * Invokes one runsc binary (the one the actor's runtime names) against the node's state root.
 * run and restore happen in a private mount namespace whose /proc/sys lacks `net`: runsc
 * otherwise believes it is in the root network namespace and refuses sandbox networking
 * (gVisor issue 10704).
 */
export class Runsc {
  constructor(
    readonly binary: string,
    private readonly root: string,
  ) {}

  private flags(): string[] {
    return [
      `--root=${this.root}`,
      "--network=sandbox",
      "--overlay2=root:memory",
      "--net-disconnect-ok",
    ];
  }

  /** `runsc restore --detach`, exactly as a user runs it (the benchmarks' baseline). */
  async restore(
    id: string,
    bundle: string,
    imageDir: string,
    logPath: string,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.detached(
      ["restore", "--image-path", imageDir, "--bundle", bundle, "--detach", id],
      logPath,
      signal,
    );
  }

  async checkpoint(
    id: string,
    imageDir: string,
    compress: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    await exec(
      this.binary,
      [
        ...this.flags(),
        "checkpoint",
        `--compression=${compress ? "flate-best-speed" : "none"}`,
        "--image-path",
        imageDir,
        id,
      ],
      {
        code: Code.Internal,
        ...(signal ? { signal } : {}),
      },
    );
  }

  /**
   * Starts `runsc run` or `runsc restore` in the foreground, in a session of its own (so a
   * Ctrl-C at the agent's terminal does not reach it); `started` settles once the container
   * runs. That runsc stays the sandbox's parent: when the sandbox stops (a checkpoint, a kill)
   * it reaps it and cleans up at once, instead of `runsc delete` waiting for PID 1 to reap an
   * orphan (about a second under some inits, never when the agent itself is PID 1).
   */
  launch(
    id: string,
    args: { bundle: string; imageDir?: string | undefined; label?: string | undefined },
    logPath: string,
    signal?: AbortSignal,
  ): Foreground {
    const command = args.imageDir
      ? ["restore", "--image-path", args.imageDir, "--bundle", args.bundle, id]
      : ["run", "--bundle", args.bundle, id];
    const child = this.spawnWithoutNetSysctls(command, logPath, {
      detached: true,
      ...(args.label ? { label: args.label } : {}),
    });
    child.unref();
    let code: number | undefined;
    const exited = new Promise<number>((resolve) => {
      const exit = (c: number) => {
        code = c;
        resolve(c);
      };
      child.once("close", (c) => exit(c ?? 1));
      child.once("error", () => exit(1));
    });
    const started = (async () => {
      for (let i = 1; ; i++) {
        if (signal?.aborted)
          throw new AteError(Code.Canceled, `runsc ${command[0]} of ${id}: canceled`);
        // The state file runsc keeps is read every few ms (≈0.1 ms each, where `runsc state`
        // costs ≈25 ms and waits on the container's lock); `runsc state` itself is asked now
        // and then, in case this runsc keeps its state where or as we do not expect.
        const status = (await this.stateFile(id)) ?? (i % 40 === 0 ? await this.state(id) : "");
        if (status === "running") return;
        if (code !== undefined)
          throw new AteError(
            Code.Internal,
            `runsc ${command[0]} failed (exit ${code}); see ${logPath}`,
          );
        await sleep(5);
      }
    })();
    // The caller awaits `started` after a few steps of its own: a failure meanwhile (an abort)
    // must not count as an unhandled rejection.
    started.catch(() => {});
    return { pid: child.pid ?? 0, exited, started };
  }

  /** Waits on a sandbox's further containers until one ends (container-waits.ts). */
  waitFor(
    subs: { id: string; name: string }[],
    ended: (end: ContainerEnd) => void,
  ): { cancel(): void } {
    // A container still there (paused too: a frozen actor's) has not ended.
    const running = async (id: string) =>
      ["running", "paused", "created"].includes((await this.state(id)) ?? "");
    return waitForContainers(this.binary, this.root, subs, ended, running);
  }

  /** Sends the container a signal (`runsc kill`); false when that failed (it runs no more). */
  async kill(id: string, signal = "KILL"): Promise<boolean> {
    return (
      (await execQuiet(this.binary, [`--root=${this.root}`, "kill", id, signal])) !== undefined
    );
  }

  /**
   * Starts a further container in the running sandbox of its bundle's annotations (`runsc run
   * --detach`), or restores it from the sandbox's checkpoint (`runsc restore --detach`): see
   * subcontainers.ts. Its output goes to the log, each line labelled with `label`.
   */
  private async startSubcontainer(
    id: string,
    args: { bundle: string; imageDir?: string | undefined; label: string },
    logPath: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const command = args.imageDir
      ? ["restore", "--image-path", args.imageDir, "--bundle", args.bundle, "--detach", id]
      : ["run", "--bundle", args.bundle, "--detach", id];
    await this.detached(command, logPath, signal, args.label);
  }

  /**
   * Starts (or, with imageDir, restores) the sandbox's further containers once its root runs,
   * one after another (each `runsc` takes the sandbox's lock), each one's output labelled.
   */
  async startSubcontainers(
    subs: Bundles["subs"],
    imageDir: string | undefined,
    logPath: string,
    signal?: AbortSignal,
  ): Promise<void> {
    for (const sub of subs) {
      signal?.throwIfAborted();
      const args = { bundle: sub.dir, imageDir, label: sub.name };
      await this.startSubcontainer(sub.id, args, logPath, signal);
    }
  }

  /**
   * Removes the sandbox, killing it first if it still runs (`delete --force`), and its further
   * containers, which runsc keeps apart (a checkpoint or kill of the sandbox leaves them
   * stopped, not gone): those first, at once (each waits 1–2 s for its gofer to be reaped),
   * each by a runsc of its own (this runsc stops at the first id it does not find).
   */
  async delete(id: string): Promise<void> {
    const del = (c: string) =>
      execQuiet(this.binary, [`--root=${this.root}`, "delete", "--force", c]);
    await Promise.all(subcontainersIn(this.root, id).map(del));
    await del(id);
  }

  /** delete, run (through the launcher) when told to (gated.ts). */
  gatedDelete(id: string): Gated {
    const subs = subcontainersIn(this.root, id);
    if (!subs.length) return gated([this.binary, `--root=${this.root}`, "delete", "--force", id]);
    const script =
      'b=$1; r=$2; id=$3; shift 3; for c; do "$b" "--root=$r" delete --force "$c" & done; wait; exec "$b" "--root=$r" delete --force "$id"';
    return gated(["/bin/sh", "-c", script, "sh", this.binary, this.root, id, ...subs]);
  }

  /** `runsc pause`: stops every process of the sandbox in place (the frozen tier). */
  async pause(id: string): Promise<void> {
    await exec(this.binary, [`--root=${this.root}`, "pause", id], { code: Code.Internal });
  }

  /** `runsc resume` of a paused sandbox. */
  async resume(id: string): Promise<void> {
    await exec(this.binary, [`--root=${this.root}`, "resume", id], { code: Code.Internal });
  }

  /**
   * The status runsc recorded in its state file for a single-container sandbox, read without
   * running runsc; undefined when the file is missing, half written or not as expected.
   */
  async stateFile(id: string): Promise<string | undefined> {
    try {
      const text = await readFile(join(this.root, `${id}_sandbox:${id}.state`), "utf8");
      const status = (JSON.parse(text) as { status?: unknown }).status;
      return typeof status === "string" ? status : undefined;
    } catch {
      return undefined;
    }
  }

  /** The ids of the sandboxes under this state root (`runsc list`). */
  async list(): Promise<string[]> {
    const out = await execQuiet(this.binary, [`--root=${this.root}`, "list", "-quiet"]);
    return (out?.stdout ?? "").split("\n").filter(Boolean);
  }

  async state(id: string): Promise<string | undefined> {
    const out = await execQuiet(this.binary, [`--root=${this.root}`, "state", id]);
    return out ? (JSON.parse(out.stdout) as { status: string }).status : undefined;
  }

  /** runsc, in a private mount namespace without /proc/sys/net, its stdio to the actor's log. */
  private spawnWithoutNetSysctls(
    args: string[],
    logPath: string,
    o: { signal?: AbortSignal; detached?: boolean; label?: string } = {},
  ): ChildProcess {
    // The actor's output is its own business: root only.
    mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
    const log = openSync(logPath, "a", 0o600);
    let labelled: number | undefined;
    try {
      labelled = o.label ? labelledOutput(dirname(logPath), log, o.label) : undefined;
      const out = labelled ?? log;
      return spawn(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          "/bin/sh",
          "-c",
          withoutNetSysctls,
          "sh",
          this.binary,
          ...this.flags(),
          ...args,
        ],
        {
          stdio: ["ignore", out, out],
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.detached ? { detached: true } : {}),
        },
      );
    } finally {
      closeSync(log);
      if (labelled !== undefined) closeSync(labelled); // runsc has its own copy
    }
  }

  /** runsc run|restore --detach: returns once the container started. */
  private detached(
    args: string[],
    logPath: string,
    signal?: AbortSignal,
    label?: string,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = this.spawnWithoutNetSysctls(args, logPath, {
        ...(signal ? { signal } : {}),
        ...(label ? { label } : {}),
      });
      let failed: Error | undefined;
      child.on("error", (err) => {
        failed = err;
      });
      child.on("close", (code) => {
        if (code === 0 && !failed) resolve();
        else
          reject(
            new AteError(
              Code.Internal,
              `runsc ${args[0]} failed (exit ${code}${failed ? `: ${failed.message}` : ""}); see ${logPath}`,
            ),
          );
      });
    });
  }
}

/** The runsc of a gvisor runtime (its `runsc` asset) against the state root `root`. */
export function runscFor(runtime: SandboxRuntime, root: string): Runsc {
  const binary = runtime.assets.runsc;
  if (runtime.sandboxClass !== "gvisor" || !binary) {
    throw new AteError(
      Code.FailedPrecondition,
      `the gvisor driver needs a gvisor runtime with a runsc asset (got class ${runtime.sandboxClass}, assets ${Object.keys(runtime.assets).join(", ") || "none"})`,
    );
  }
  return new Runsc(binary, root);
}

/** Whether pid is a live (not zombie) process whose command line names the sandbox id. */
export function runsIn(pid: number, id: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(id);
  } catch {
    return false;
  }
}

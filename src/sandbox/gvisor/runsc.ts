import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";
import { type Gated, gated } from "./gated.ts";

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
    args: { bundle: string; imageDir?: string },
    logPath: string,
    signal?: AbortSignal,
  ): Foreground {
    const command = args.imageDir
      ? ["restore", "--image-path", args.imageDir, "--bundle", args.bundle, id]
      : ["run", "--bundle", args.bundle, id];
    const child = this.spawnWithoutNetSysctls(command, logPath, { detached: true });
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

  /** Sends the container a signal (`runsc kill`); false when that failed (it runs no more). */
  async kill(id: string, signal = "KILL"): Promise<boolean> {
    return (
      (await execQuiet(this.binary, [`--root=${this.root}`, "kill", id, signal])) !== undefined
    );
  }

  /** Removes the sandbox, killing it first if it still runs (`delete --force`). */
  async delete(id: string): Promise<void> {
    await execQuiet(this.binary, [`--root=${this.root}`, "delete", "--force", id]);
  }

  /** `runsc delete --force`, run (through the launcher) when told to (gated.ts). */
  gatedDelete(id: string): Gated {
    return gated([this.binary, `--root=${this.root}`, "delete", "--force", id]);
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
    o: { signal?: AbortSignal; detached?: boolean } = {},
  ): ChildProcess {
    // The actor's output is its own business: root only.
    mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
    const log = openSync(logPath, "a", 0o600);
    try {
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
          stdio: ["ignore", log, log],
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.detached ? { detached: true } : {}),
        },
      );
    } finally {
      closeSync(log);
    }
  }

  /** runsc run|restore --detach: returns once the container started. */
  private detached(args: string[], logPath: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = this.spawnWithoutNetSysctls(args, logPath, signal ? { signal } : {});
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

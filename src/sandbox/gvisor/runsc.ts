import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";

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

  async run(id: string, bundle: string, logPath: string, signal?: AbortSignal): Promise<void> {
    await this.detached(["run", "--bundle", bundle, "--detach", id], logPath, signal);
  }

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

  /** Removes the sandbox, killing it first if it still runs (`delete --force`). */
  async delete(id: string): Promise<void> {
    await execQuiet(this.binary, [`--root=${this.root}`, "delete", "--force", id]);
  }

  async state(id: string): Promise<string | undefined> {
    const out = await execQuiet(this.binary, [`--root=${this.root}`, "state", id]);
    return out ? (JSON.parse(out.stdout) as { status: string }).status : undefined;
  }

  /** runs runsc with the container's stdio going to the actor's log. */
  private detached(args: string[], logPath: string, signal?: AbortSignal): Promise<void> {
    mkdirSync(dirname(logPath), { recursive: true });
    const log = openSync(logPath, "a");

    return new Promise((resolve, reject) => {
      const child = spawn(
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
          ...(signal ? { signal } : {}),
        },
      );
      closeSync(log);
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

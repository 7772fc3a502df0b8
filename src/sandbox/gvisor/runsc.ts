import { spawn } from "node:child_process";
import { openSync, closeSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";

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
    return [`--root=${this.root}`, "--network=sandbox", "--overlay2=root:memory", "--net-disconnect-ok"];
  }

  async run(id: string, bundle: string, logPath: string, signal?: AbortSignal): Promise<void> {
    await this.detached(["run", "--bundle", bundle, "--detach", id], logPath, signal);
  }

  async restore(id: string, bundle: string, imageDir: string, logPath: string, signal?: AbortSignal): Promise<void> {
    await this.detached(["restore", "--image-path", imageDir, "--bundle", bundle, "--detach", id], logPath, signal);
  }

  async checkpoint(id: string, imageDir: string, compress: boolean, signal?: AbortSignal): Promise<void> {
    await exec(this.binary, [...this.flags(), "checkpoint", `--compression=${compress ? "flate-best-speed" : "none"}`, "--image-path", imageDir, id], {
      code: Code.Internal,
      ...(signal ? { signal } : {}),
    });
  }

  async delete(id: string): Promise<void> {
    await execQuiet(this.binary, [`--root=${this.root}`, "kill", id, "KILL"]);
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
    const script = [
      't=$(mktemp -d /tmp/ate-procsys.XXXXXX)',
      'mount -t tmpfs -o mode=0555 tmpfs "$t"',
      'for e in /proc/sys/*; do n=${e##*/}; [ "$n" = net ] && continue; if [ -d "$e" ]; then mkdir "$t/$n"; else : > "$t/$n"; fi; mount --bind "$e" "$t/$n"; done',
      'mount --move "$t" /proc/sys || mount --rbind "$t" /proc/sys',
      'exec "$@"',
    ].join("\n");
    return new Promise((resolve, reject) => {
      const child = spawn("unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", this.binary, ...this.flags(), ...args], {
        stdio: ["ignore", log, log],
        ...(signal ? { signal } : {}),
      });
      closeSync(log);
      let failed: Error | undefined;
      child.on("error", (err) => {
        failed = err;
      });
      child.on("close", (code) => {
        if (code === 0 && !failed) resolve();
        else reject(new AteError(Code.Internal, `runsc ${args[0]} failed (exit ${code}${failed ? `: ${failed.message}` : ""}); see ${logPath}`));
      });
    });
  }
}

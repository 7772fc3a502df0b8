import { spawn } from "node:child_process";

/**
 * A process started ahead of time that runs its command only when told to. Starting a process
 * blocks the agent's event loop for its fork and exec (≈10–30 ms each on a busy 2-core
 * machine); started while the agent only waits (for `runsc checkpoint`), that cost is paid
 * where nothing else is held up. Until `go`, it waits on its stdin; `cancel` (or the agent's
 * death, which closes the pipe) has it exit without running anything.
 */
export interface Gated {
  /** Runs the command; its exit code (1 if it could not start). */
  go(): Promise<number>;
  /** Has it exit without running anything (nothing after a go). */
  cancel(): void;
}

export function gated(command: readonly string[]): Gated {
  const script = `read -r go && [ "$go" = go ] || exit ${cancelled}; exec "$@"`;
  const child = spawn("/bin/sh", ["-c", script, "sh", ...command], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  const exited = new Promise<number>((resolve) => {
    child.once("close", (code) => resolve(code ?? 1));
    child.once("error", () => resolve(1));
  });
  child.stdin.on("error", () => {});
  let told = false;
  return {
    go: () => {
      if (!told) child.stdin.end("go\n");
      told = true;
      return exited;
    },
    cancel: () => {
      if (!told) child.stdin.end();
      told = true;
    },
  };
}

/** The exit code of a gated process that was cancelled. */
const cancelled = 125;

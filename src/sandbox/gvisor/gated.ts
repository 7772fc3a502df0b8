import { runShort } from "../launcher/index.ts";

/**
 * A clean-up command prepared while `runsc checkpoint` runs and run only when told to. It
 * runs through the launcher (../launcher): a spawn from the agent forks the whole agent,
 * blocking its event loop 10–30 ms on a busy 2-core machine. Before the launcher, the process
 * was started ahead here (a shell waiting on its stdin) so that this cost fell while the agent
 * only waited; that spawn still sat between the drain and `runsc checkpoint` (≈13 ms of every
 * checkpoint, bench/node-agent.bench.ts). The launcher's fork is of a small process and
 * blocks nothing of the agent's, so nothing needs starting ahead any more.
 */
export interface Gated {
  /** Runs the command; its exit code (1 if it could not start). Once only: again, same result. */
  go(): Promise<number>;
  /** Nothing is to run (nothing after a go). */
  cancel(): void;
}

export function gated(command: readonly string[]): Gated {
  const [file, ...args] = command;
  let ran: Promise<number> | undefined;
  let cancelled = false;
  return {
    go: () => {
      ran ??= cancelled
        ? Promise.resolve(cancelledCode)
        : runShort({ file: file as string, args }).then(
            (r) => r.code ?? 1,
            () => 1,
          );
      return ran;
    },
    cancel: () => {
      cancelled = true;
    },
  };
}

/** The exit code go gives for a gated command that was cancelled (as the shell's was). */
const cancelledCode = 125;

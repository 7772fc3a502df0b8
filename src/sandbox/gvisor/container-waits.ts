import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";

/** A further container of a sandbox (subcontainers.ts) that ended: which, and its status. */
export interface ContainerEnd {
  name: string;
  /** As `runsc wait` reports it; undefined when it could not say. */
  exitStatus: number | undefined;
}

/** How often a `runsc wait` that failed is started again while its container runs on. */
const maxWaitRestarts = 10;

/**
 * `runsc wait` on each further container of a running sandbox, so that one ending on its own
 * is noticed: runsc keeps the sandbox running without it, but an actor is all its containers
 * (the root's end ends the sandbox already). `ended` is called once, for the first to end,
 * unless the waits were cancelled first (a checkpoint or stop ends every container too, and
 * is not an exit). A wait that ends without a status (runsc itself failed, or was killed) is
 * not taken for the container's end while `running` says it still runs: it is started again,
 * a little later each time, up to maxWaitRestarts times. The waits are children of this
 * process, unref'd; an agent that restarts waits on an adopted sandbox's further containers
 * anew.
 */
export function waitForContainers(
  binary: string,
  root: string,
  subs: { id: string; name: string }[],
  ended: (end: ContainerEnd) => void,
  running: (id: string) => Promise<boolean>,
  retryMs = 100,
): { cancel(): void } {
  let done = false;
  const children = new Set<ChildProcess>();
  const timers = new Set<NodeJS.Timeout>();
  const cancel = () => {
    done = true;
    for (const c of children) c.kill();
    for (const t of timers) clearTimeout(t);
  };
  const finish = (end: ContainerEnd) => {
    if (done) return;
    cancel();
    ended(end);
  };
  const watch = (sub: { id: string; name: string }, restarts: number) => {
    const child = spawn(binary, [`--root=${root}`, "wait", sub.id], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.add(child);
    child.unref();
    (child.stdout as Socket | null)?.unref(); // nor does its output hold the agent open
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", () => {});
    child.once("close", async () => {
      children.delete(child);
      if (done) return;
      const exitStatus = statusOf(out);
      if (exitStatus === undefined && restarts < maxWaitRestarts) {
        const again = await running(sub.id).catch(() => false);
        if (done) return;
        if (again) {
          const t = setTimeout(
            () => {
              timers.delete(t);
              if (!done) watch(sub, restarts + 1);
            },
            retryMs * 2 ** restarts,
          );
          t.unref();
          timers.add(t);
          return;
        }
      }
      finish({ name: sub.name, exitStatus });
    });
  };
  for (const sub of subs) watch(sub, 0);
  return { cancel };
}

/** `{"id":"…","exitStatus":N}`, as `runsc wait` prints it. */
function statusOf(out: string): number | undefined {
  try {
    const status = (JSON.parse(out) as { exitStatus?: unknown }).exitStatus;
    return typeof status === "number" ? status : undefined;
  } catch {
    return undefined;
  }
}

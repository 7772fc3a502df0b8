import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";

/** A further container of a sandbox (subcontainers.ts) that ended: which, and its status. */
export interface ContainerEnd {
  name: string;
  /** As `runsc wait` reports it; undefined when it could not say. */
  exitStatus: number | undefined;
}

/**
 * `runsc wait` on each further container of a running sandbox, so that one ending on its own
 * is noticed: runsc keeps the sandbox running without it, but an actor is all its containers
 * (the root's end ends the sandbox already). `ended` is called once, for the first to end,
 * unless the waits were cancelled first (a checkpoint or stop ends every container too, and
 * is not an exit). The waits are children of this process, unref'd; an agent that restarts
 * waits on an adopted sandbox's further containers anew.
 */
export function waitForContainers(
  binary: string,
  root: string,
  subs: { id: string; name: string }[],
  ended: (end: ContainerEnd) => void,
): { cancel(): void } {
  let done = false;
  const children: ChildProcess[] = [];
  const cancel = () => {
    done = true;
    for (const c of children) c.kill();
  };
  for (const sub of subs) {
    const child = spawn(binary, [`--root=${root}`, "wait", sub.id], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(child);
    child.unref();
    (child.stdout as Socket | null)?.unref(); // nor does its output hold the agent open
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", () => {});
    child.once("close", () => {
      if (done) return;
      cancel();
      ended({ name: sub.name, exitStatus: statusOf(out) });
    });
  }
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

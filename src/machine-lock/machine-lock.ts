import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code } from "../errors/index.ts";

/** Whether a process with this pid runs (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface MachineLockOptions {
  /** How long to wait for a live holder. */
  waitMs: number;
  /** A lock older than this is abandoned (its holder hung or died before writing its pid). */
  staleMs: number;
  /** The error message when the wait runs out. */
  busy: (holder: number) => string;
}

/** In-process order per lock: holders in one process (tests) queue up instead of polling. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `f` holding a lock shared by every process on the machine: a directory holding the
 * holder's pid. A lock whose holder is gone, or older than staleMs, is taken over.
 */
export function withMachineLock<T>(
  lock: string,
  options: MachineLockOptions,
  f: () => Promise<T>,
): Promise<T> {
  const run = (queues.get(lock) ?? Promise.resolve()).then(async () => {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      try {
        await mkdir(lock);
        await writeFile(join(lock, "pid"), String(process.pid));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      const since = (await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now();
      if ((holder > 0 && !processAlive(holder)) || Date.now() - since > options.staleMs)
        await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new AteError(Code.Unavailable, options.busy(holder));
      else await sleep(20);
    }
    try {
      return await f();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  });
  const settled = run.catch(() => {});
  queues.set(lock, settled);
  void settled.then(() => {
    if (queues.get(lock) === settled) queues.delete(lock);
  });
  return run;
}

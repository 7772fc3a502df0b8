import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Foreground, type Runsc, runsIn } from "./runsc.ts";

/** A fresh sandbox id, `<worker>-s<6 hex>`: short, as runsc's `<root>/runsc-<id>.sock` must be. */
export function newSandboxId(worker: string, current?: string): string {
  for (;;) {
    const id = `${worker}-s${randomBytes(3).toString("hex")}`;
    if (id !== current) return id;
  }
}

/** Whether a sandbox id is one of the worker's (`<worker>-s<6 hex>`, or the worker's name). */
export function sandboxOf(id: string, worker: string): boolean {
  return (
    id === worker ||
    (id.startsWith(`${worker}-s`) && /^[0-9a-f]{6}$/.test(id.slice(worker.length + 2)))
  );
}

/** Whether the process pid (running in sandbox id) is gone within ms. */
export async function waitForExit(pid: number, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pid > 0 && runsIn(pid, id)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * Workers' former sandboxes, deleted while the workers already run their next ones (each
 * sandbox has an id of its own): the deletes under way per worker, so a worker's release and
 * the driver's close wait for them, and strays an agent killed mid-delete left behind.
 */
export class FormerSandboxes {
  private readonly deletes = new Map<string, Set<Promise<void>>>();
  /** The runsc each worker last ran a sandbox with (to delete strays on release). */
  private readonly runscs = new Map<string, Runsc>();

  /** `current`: the worker's current sandbox id, never a stray. */
  constructor(private readonly current: (worker: string) => string | undefined) {}

  ranWith(worker: string, runsc: Runsc): void {
    this.runscs.set(worker, runsc);
  }

  /** Deletes a former sandbox, then kills its foreground runsc if that hangs on. */
  async remove(
    worker: string,
    runsc: Runsc | undefined,
    id: string,
    pid: number,
    fg: Foreground | undefined,
  ): Promise<void> {
    if (runsc) await runsc.delete(id);
    const gone = fg
      ? await Promise.race([fg.exited.then(() => true), sleep(10_000, false, { ref: false })])
      : await waitForExit(pid, id, 10_000);
    if (!gone && pid > 0 && runsIn(pid, id)) process.kill(pid, "SIGKILL");
    if (runsc) await this.deleteStrays(worker, runsc);
  }

  /** Lets a removal finish in the background, tracked for the worker. */
  inBackground(worker: string, p: Promise<void>): void {
    const set = this.deletes.get(worker) ?? new Set<Promise<void>>();
    this.deletes.set(worker, set);
    const tracked = p
      .catch(() => {})
      .finally(() => {
        set.delete(tracked);
        if (!set.size && this.deletes.get(worker) === set) this.deletes.delete(worker);
      });
    set.add(tracked);
  }

  /** Waits for the background deletes of the worker's former sandboxes. */
  async deleted(worker: string): Promise<void> {
    for (let set = this.deletes.get(worker); set?.size; set = this.deletes.get(worker))
      await Promise.allSettled([...set]);
  }

  async allDeleted(): Promise<void> {
    for (const w of [...this.deletes.keys()]) await this.deleted(w);
  }

  /** Deletes sandboxes of the worker's that are not its current one (`runsc list`). */
  async deleteStrays(worker: string, runsc = this.runscs.get(worker)): Promise<void> {
    if (!runsc) return;
    const ids = await runsc.list();
    const current = this.current(worker); // after the list: a start meanwhile is no stray
    for (const id of ids)
      if (id !== current && sandboxOf(id, worker)) await runsc.delete(id).catch(() => {});
  }
}

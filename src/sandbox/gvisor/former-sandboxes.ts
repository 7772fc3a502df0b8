import { randomBytes } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { privateDir, privateFileMode } from "../../private-files/index.ts";
import type { Gated } from "./gated.ts";
import { type Foreground, type Runsc, runsIn } from "./runsc.ts";
import { maxContainers, subcontainerIds, subcontainerOf } from "./subcontainers.ts";

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
  /** Workers whose recorded former sandboxes this process has deleted. */
  private readonly recovered = new Set<string>();
  /** Former sandboxes this process recorded (and deletes itself). */
  private readonly mine = new Set<string>();

  /**
   * `current`: the worker's current sandbox id, never a stray. `dir` records each former
   * sandbox until it is deleted (a file named after its id, holding its runsc binary), so an
   * agent that restarts deletes what a killed one was deleting; `open` gives that runsc.
   */
  constructor(
    private readonly current: (worker: string) => string | undefined,
    private readonly dir: string,
    private readonly open: (binary: string) => Runsc,
  ) {}

  /** Records a former sandbox before anything else knows it (its pid file goes next). */
  async record(worker: string, id: string, runsc: Runsc): Promise<void> {
    if (!sandboxOf(id, worker)) return;
    this.mine.add(id);
    await privateDir(this.dir);
    await writeFile(join(this.dir, id), runsc.binary, { mode: privateFileMode });
  }

  /**
   * Deletes the worker's former sandboxes that an earlier agent recorded and never saw
   * deleted (once per worker and process: on adopting or stopping the worker after a restart).
   */
  async recover(worker: string): Promise<void> {
    if (this.recovered.has(worker)) return;
    this.recovered.add(worker);
    const ids = await readdir(this.dir).catch(() => [] as string[]);
    for (const id of ids) {
      if (!sandboxOf(id, worker) || id === this.current(worker) || this.mine.has(id)) continue;
      const binary = (await readFile(join(this.dir, id), "utf8").catch(() => "")).trim();
      if (binary) await this.open(binary).delete(id);
      await rm(join(this.dir, id), { force: true });
    }
  }

  ranWith(worker: string, runsc: Runsc): void {
    this.runscs.set(worker, runsc);
  }

  /**
   * Deletes a former sandbox, then kills its foreground runsc if that hangs on. `pre`: its
   * `runsc delete`, prepared with the checkpoint (Runsc.gatedDelete).
   */
  async remove(
    runsc: Runsc | undefined,
    id: string,
    pid: number,
    fg: Foreground | undefined,
    pre?: Gated,
  ): Promise<void> {
    // A failed delete is tried once more without the prepared one (it may not have run).
    if (!pre || (await pre.go()) !== 0) await runsc?.delete(id);
    const gone = fg
      ? await Promise.race([fg.exited.then(() => true), sleep(10_000, false, { ref: false })])
      : await waitForExit(pid, id, 10_000);
    if (!gone && pid > 0 && runsIn(pid, id)) process.kill(pid, "SIGKILL");
    await rm(join(this.dir, id), { force: true });
    this.mine.delete(id);
    // Strays (`runsc list`, one more process per sandbox) are looked for on the worker's
    // release; one a killed agent was deleting is recorded, and deleted on restart (recover).
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

  /**
   * Deletes sandboxes of the worker's that are not its current one (`runsc list`), and further
   * containers (subcontainers.ts) of none but the current one.
   */
  async deleteStrays(worker: string, runsc = this.runscs.get(worker)): Promise<void> {
    if (!runsc) return;
    const ids = await runsc.list();
    const current = this.current(worker); // after the list: a start meanwhile is no stray
    const kept = new Set(current ? [current, ...subcontainerIds(current, maxContainers)] : []);
    for (const id of ids)
      if (!kept.has(id) && (sandboxOf(id, worker) || subcontainerOf(id, worker)))
        await runsc.delete(id).catch(() => {});
  }
}

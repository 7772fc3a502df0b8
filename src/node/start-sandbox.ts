import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { SandboxDriver, SandboxRuntime } from "../sandbox/index.ts";
import type { PulledImage } from "./images/index.ts";
import type { ActorRecord, NodeLayout } from "./layout.ts";
import type { NodeWorker } from "./node-workers.ts";
import { timed } from "./steps.ts";
import type { WorkerExits } from "./worker-exits.ts";
import { checkContainers, sandboxSpec } from "./workload.ts";

/** What starting a sandbox needs of the node agent. */
export interface SandboxStarter {
  layout: NodeLayout;
  exits: WorkerExits;
  log: Logger;
}

/** One start: a (held) worker, its driver and runtime, the actor, and a checkpoint to restore. */
export interface SandboxStart {
  worker: NodeWorker;
  driver: SandboxDriver;
  runtime: SandboxRuntime;
  record: ActorRecord;
  images: Record<string, PulledImage>;
  /** A checkpoint image to restore; a cold boot without. */
  checkpointDir: string | undefined;
  /** The actor's own token for this start, for /run/ate/token; none without. */
  actorToken?: string | undefined;
}

/**
 * Runs or restores the actor's sandbox on the worker and waits for its readyz. On failure the
 * worker is emptied again and the error carries the actor's last log lines.
 */
export async function startSandbox(
  t: SandboxStarter,
  { worker, driver, runtime, record, images, checkpointDir, actorToken }: SandboxStart,
  signal?: AbortSignal,
): Promise<void> {
  // Before the record is written: a refused workload leaves the worker as empty as it was.
  checkContainers(record.workload);
  const step = timed(t.log, { worker: worker.name, actor: record.actor.actorId });
  const what = checkpointDir ? "restore" : "run";
  const volumes = t.layout.volumeDirs(worker.name, record.workload);
  const logPath = t.layout.logPath(record.actor);
  const [identityDir] = await step(`${what}.record`, () =>
    Promise.all([
      t.layout.writeIdentity(worker.name, record.actor, {
        token: actorToken,
        apiUrl: driver.controlApiUrl?.(worker),
      }),
      t.layout.writeRecord(worker.name, record),
    ]),
  );
  const spec = sandboxSpec({
    workload: record.workload,
    images,
    volumes,
    identityDir,
    hostname: record.actor.actorId,
    logPath,
  });
  const start = t.exits.start(worker.name, signal);
  try {
    await step(`${what}.sandbox`, () =>
      checkpointDir
        ? driver.restore(worker, runtime, spec, checkpointDir, start.signal)
        : driver.run(worker, runtime, spec, start.signal),
    );
    // Probed once the sandbox runs, not while it starts: a SYN sent while gVisor takes its
    // network over can be lost, and its conntrack entry would then linger as SYN_SENT for
    // minutes, holding up the next checkpoint's drain.
    await step(`${what}.ready`, () => start.ready(worker.address, record.workload));
  } catch (err) {
    const tail = await t.layout.logTail(record.actor, 10);
    await driver.stop(worker, runtime).catch(() => {});
    await t.layout.wipe(worker.name);
    const e = AteError.from(err, Code.Internal);
    throw new AteError(
      e.code,
      `${e.message}${tail ? `\nlast log lines of ${record.actor.actorId}:\n${tail}` : ""}`,
      e.details,
      { cause: err },
    );
  } finally {
    start.done();
  }
}

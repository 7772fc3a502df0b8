import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { SandboxDriver } from "../sandbox/index.ts";
import type { InPlaceRequest } from "./api.ts";
import type { ActorRecord } from "./layout.ts";
import type { NodeWorkers } from "./node-workers.ts";
import { timed } from "./steps.ts";

/** What pausing or resuming a sandbox in place needs of the node agent. */
export interface InPlaceSwitcher {
  workers: NodeWorkers;
  log: Logger;
  record: (worker: string) => Promise<ActorRecord | undefined>;
  driver: (sandboxClass: string) => SandboxDriver;
}

/**
 * The frozen tier: pauses or resumes the worker's sandbox in place, holding the worker
 * meanwhile; only the sandbox of the actor the caller names (as checkpoint checks).
 */
export async function switchInPlace(
  s: InPlaceSwitcher,
  req: InPlaceRequest,
  step: "pause" | "resume",
): Promise<void> {
  const name = req.worker;
  const worker = s.workers.get(name);
  const what = step === "pause" ? "freeze" : "thaw";
  const timedStep = timed(s.log, { worker: name, actor: req.actor.actorId });
  const record = await timedStep(`${what}.record`, () => s.record(name));
  if (!record)
    throw new AteError(Code.FailedPrecondition, `worker ${name} runs no actor; nothing to ${what}`);
  if (record.actor.actorId !== req.actor.actorId || record.actor.atespace !== req.actor.atespace)
    throw new AteError(
      Code.FailedPrecondition,
      `worker ${name} runs actor ${record.actor.atespace}/${record.actor.actorId}, not ${req.actor.atespace}/${req.actor.actorId}; not ${what === "freeze" ? "freezing" : "thawing"} it`,
    );
  if (worker.busy)
    throw new AteError(Code.Aborted, `worker ${name} is busy with another operation`);
  const driver = s.driver(record.sandboxClass);
  const inPlace = driver[step]?.bind(driver);
  if (!inPlace)
    throw new AteError(
      Code.Unimplemented,
      `sandbox class "${record.sandboxClass}" cannot ${what} a sandbox in place`,
    );
  worker.busy = true;
  try {
    await timedStep(`${what}.runsc`, () =>
      inPlace(worker, {
        sandboxClass: record.sandboxClass,
        assets: record.runtimePaths,
      }),
    );
  } finally {
    worker.busy = false;
  }
}

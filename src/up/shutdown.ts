import { type ControlPlane, goldenAtespace } from "../controlplane/index.ts";
import type { Logger } from "../log/index.ts";

export interface SuspendAllResult {
  suspended: string[];
  /** Golden actors, stopped without a snapshot: their templates make them again on the next start. */
  stopped: string[];
  /** Actors left on their workers (failed, or the caller gave up): the next start recovers them. */
  left: string[];
}

/**
 * Suspends every actor running on a node (a few at a time), so that a shut-down node holds no
 * state that exists nowhere else; a golden actor (a golden snapshot in the making) is stopped
 * instead. Aborting stops starting new suspends; those under way finish.
 */
export async function suspendNodeActors(
  cp: ControlPlane,
  node: string,
  o: {
    logger: Logger;
    signal?: AbortSignal;
    concurrency?: number;
    onProgress?: (a: string) => void;
  },
): Promise<SuspendAllResult> {
  const queue = (await cp.listWorkers())
    .filter((w) => w.node === node && w.actor)
    .map((w) => ({ atespace: w.actor?.atespace ?? "", name: w.actor?.actorId ?? "" }));
  const result: SuspendAllResult = { suspended: [], stopped: [], left: [] };
  const work = async () => {
    for (let ref = queue.shift(); ref; ref = queue.shift()) {
      const id = `${ref.atespace}/${ref.name}`;
      if (o.signal?.aborted) {
        result.left.push(id);
        continue;
      }
      try {
        if (ref.atespace === goldenAtespace) {
          await cp.stopActor(ref);
          result.stopped.push(id);
          continue;
        }
        await cp.suspendActor(ref);
        result.suspended.push(id);
        o.onProgress?.(id);
      } catch (err) {
        result.left.push(id);
        o.logger.warn("suspend at shutdown failed; the actor stays for the next start", {
          actor: id,
          error: String(err),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 2 }, work));
  return result;
}

import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { timed } from "../node/index.ts";
import { type Actor, actorKey } from "../records/index.ts";
import { identityOf, type LifecycleDeps } from "./transitions.ts";

/**
 * The frozen tier: an idle RUNNING actor's sandbox is paused in place on its worker (runsc
 * pause, tens of milliseconds) and thawed by the next request (runsc resume), instead of a
 * checkpoint and restore (hundreds). The status stays RUNNING; `tier` says frozen.
 *
 * Crash safety rests on one order: the record says frozen BEFORE the sandbox is paused, and
 * says running only AFTER it was resumed. So a paused sandbox is always marked frozen, and a
 * crash at any step leaves at worst a running sandbox marked frozen, which the next request
 * thaws again (a thaw of a running sandbox is a no-op). Nothing else needs recovering: the
 * node keeps a paused sandbox paused across an agent restart (runsc says so), and any control
 * plane thaws it on the next ResumeActor. The same order lets a thaw answer (the router
 * forwards) as soon as the sandbox runs, before the mark comes off.
 */

/** How long a thaw waits for a freeze (or other short operation) holding the worker. */
const busyWaitMs = 2000;

/**
 * Freezes a RUNNING actor in place. Marks it frozen, waits until every router has seen the
 * mark with no request to it under way (`beforeFreeze`: from then on a router thaws before
 * it forwards), then pauses the sandbox and confirms the mark. ABORTED when routers still
 * had requests, or when the actor changed meanwhile (a request thawed it, a checkpoint took it).
 */
export async function freezeActor(
  d: LifecycleDeps,
  atespace: string,
  actorId: string,
): Promise<Actor> {
  const actor = await d.records.getActor(atespace, actorId);
  if (actor.status !== "RUNNING" || !actor.worker || actor.transition)
    throw new AteError(
      Code.FailedPrecondition,
      `actor ${atespace}/${actorId} is ${actor.status}: only a RUNNING actor can be frozen`,
    );
  if (actor.tier === "frozen") return actor;
  const node = d.nodes.get(actor.worker.node);
  const worker = actor.worker.name;
  // The node pauses only the sandbox of this actor (a worker reused meanwhile is refused).
  const inPlace = { worker, actor: identityOf(actor) };
  const marked = await d.records.updateActor({ ...actor, tier: "frozen" });
  if (!(await (d.hooks.beforeFreeze?.(marked) ?? Promise.resolve(true)))) {
    await unmark(d, marked);
    throw new AteError(
      Code.Aborted,
      `actor ${atespace}/${actorId}: routers still had requests to it; not frozen`,
    );
  }
  // A request may have thawed it (or a checkpoint taken it) while the routers were asked.
  const now = await d.records.getActor(atespace, actorId);
  if (now.version !== marked.version)
    throw new AteError(Code.Aborted, `actor ${atespace}/${actorId} changed; not frozen`);
  try {
    await node.freeze(inPlace);
  } catch (err) {
    // Whether it paused is not known: it must run again before the mark comes off (a paused
    // sandbox is always marked frozen). If the thaw fails too the mark stays, and the next
    // request's thaw tries again.
    if (await thawWorker(d, actor)) await unmark(d, marked);
    throw err;
  }
  try {
    // Confirms nobody thawed it between the look above and the pause: a thaw that came in
    // that moment found the sandbox still running and unmarked it, so it must run again.
    const frozen = await d.records.updateActor(marked);
    d.logger.debug("actor frozen", { actor: actorKey(atespace, actorId), worker });
    return frozen;
  } catch (err) {
    if (!isAteError(err, Code.Aborted)) throw err;
    const current = await d.records.getActor(atespace, actorId);
    // Still on this worker: whatever holds it now (running, a checkpoint that began from the
    // unmarked record, a later freeze) is safe with a running sandbox, whatever the mark says.
    if (current.worker?.name === worker && current.worker.node === actor.worker.node)
      await thawWorker(d, actor);

    // Marked frozen by a later look (its checkpoint thaws first), or off the worker: done.
    throw new AteError(Code.Aborted, `actor ${atespace}/${actorId} changed; not frozen`);
  }
}

/** Thaws under way, per control plane (its lifecycle deps) and actor: concurrent requests share one. */
const thawingBy = new WeakMap<LifecycleDeps, Map<string, Promise<Actor>>>();

/**
 * Thaws a frozen RUNNING actor (the fast path of ResumeActor: no worker is claimed) and
 * answers its record as soon as its sandbox runs: the mark comes off after the answer, off
 * the request's path (a crash before it leaves a running sandbox marked frozen: safe, see
 * above), and the answer is the record without the mark. An actor no longer frozen (thawed
 * by another, being checkpointed) is answered as it is now. Concurrent calls share one thaw
 * until its mark is off.
 */
export function thawActor(d: LifecycleDeps, actor: Actor): Promise<Actor> {
  const key = actorKey(actor.atespace, actor.actorId);
  const thawing = thawingBy.get(d) ?? new Map<string, Promise<Actor>>();
  thawingBy.set(d, thawing);
  const under = thawing.get(key);
  if (under) return under;
  let answered = false;
  const answer = new Promise<Actor>((resolve, reject) => {
    const early = (a: Actor) => {
      answered = true;
      resolve(a);
    };
    thawNow(d, actor, early)
      .then(resolve, (err) => {
        if (!answered) return reject(err);
        // Answered already: the sandbox runs, marked frozen (the next request thaws again).
        d.logger.warn("taking the frozen mark off a thawed actor failed", {
          actor: key,
          error: String(err),
        });
      })
      .finally(() => thawing.delete(key));
  });
  thawing.set(key, answer);
  return answer;
}

async function thawNow(
  d: LifecycleDeps,
  actor: Actor,
  running: (a: Actor) => void,
): Promise<Actor> {
  const step = timed(d.logger, { actor: actorKey(actor.atespace, actor.actorId) });
  for (;;) {
    if (actor.status !== "RUNNING" || actor.tier !== "frozen" || !actor.worker) return actor;
    const at = actor;
    const resumed = await step("thaw.node", () => thawOnNode(d, at));
    if (resumed !== true) {
      actor = resumed;
      continue;
    }
    // Marked running only now that the sandbox runs (see the order above); the caller may
    // go on meanwhile.
    const { tier: _f, ...rest } = actor;
    running(rest);
    try {
      const thawed = await step("thaw.mark", () => d.records.updateActor(rest));
      d.hooks.changed(thawed);
      return thawed;
    } catch (err) {
      if (!isAteError(err, Code.Aborted)) throw err;
      // Changed meanwhile (a freeze confirmed its mark, a checkpoint began): look again.
      actor = await d.records.getActor(actor.atespace, actor.actorId);
    }
  }
}

/**
 * Resumes the actor's sandbox: true once it runs, or the actor as it is now when a freeze
 * or checkpoint held the worker and the actor changed meanwhile.
 */
async function thawOnNode(d: LifecycleDeps, actor: Actor): Promise<true | Actor> {
  const ref = actor.worker as NonNullable<Actor["worker"]>;
  const node = d.nodes.get(ref.node);
  const deadline = Date.now() + busyWaitMs;
  for (;;) {
    try {
      await node.thaw({ worker: ref.name, actor: identityOf(actor) });
      return true;
    } catch (err) {
      if (!isAteError(err, Code.Aborted) || Date.now() > deadline) throw err;
    }
    // A freeze (tens of ms) or a checkpoint holds the worker.
    await sleep(10);
    const now = await d.records.getActor(actor.atespace, actor.actorId);
    if (now.version !== actor.version) return now;
  }
}

/** Takes the frozen mark off again when the freeze did not happen (unless it changed meanwhile). */
async function unmark(d: LifecycleDeps, marked: Actor): Promise<void> {
  const { tier: _f, ...rest } = marked;
  await d.records.updateActor(rest).catch((err) => {
    if (!isAteError(err, Code.Aborted)) throw err;
  });
}

/** Resumes the actor's sandbox, waiting out a short operation holding it; false if it failed. */
async function thawWorker(d: LifecycleDeps, actor: Actor): Promise<boolean> {
  const { node, name: worker } = actor.worker as NonNullable<Actor["worker"]>;
  const deadline = Date.now() + busyWaitMs;
  for (;;) {
    try {
      await d.nodes.get(node).thaw({ worker, actor: identityOf(actor) });
      return true;
    } catch (err) {
      if (!isAteError(err, Code.Aborted) || Date.now() > deadline) {
        d.logger.warn("thawing a worker's sandbox failed", { worker, error: String(err) });
        return false;
      }
    }
    await sleep(10);
  }
}

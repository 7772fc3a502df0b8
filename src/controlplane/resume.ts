import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";
import { ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { goldenAtespace, type SecretValue } from "../node/index.ts";
import {
  type Actor,
  type ActorSnapshotsConfig,
  atLastSnapshot,
  type Worker,
  workerRef,
} from "../records/index.ts";
import { inSpan, type Span } from "../tracing/index.ts";
import { thawActor } from "./freeze.ts";
import { resolveSandboxAssets } from "./sandbox-assets.ts";
import { eligiblePools, workersToTry } from "./scheduler.ts";
import { readSecrets } from "./secret-env.ts";
import { secretLookupOf } from "./secret-lookup.ts";
import { snapshotsConfigOf } from "./snapshots-config.ts";
import { busy, identityOf, type LifecycleDeps, transitionMark } from "./transitions.ts";
import { workloadOf } from "./workload.ts";

/**
 * Placement: claim a free worker and mark the actor RESUMING in one compare-and-set (on a
 * lost race for a worker, the next one); or the actor as another call left it RUNNING.
 */
async function placeActor(
  d: LifecycleDeps,
  actor: Actor,
  span: Span,
): Promise<
  | { running: Actor }
  | { template: ActorTemplate; pools: WorkerPool[]; worker: Worker; actor: Actor }
> {
  const { atespace, actorId } = actor;
  const template = await templateToResume(d, actor);
  const pools = eligiblePools(template, actor, (await d.resources.list(WorkerPoolType)).items);
  if (pools.length === 0) {
    throw new AteError(
      Code.FailedPrecondition,
      `no WorkerPool matches actor ${atespace}/${actorId} (sandboxClass ${template.spec.sandboxClass}, template and actor worker selectors, workerPoolRef, resources.limits)`,
    );
  }
  // Claim a free worker and mark the actor RESUMING in one atomic step; on a lost race for a
  // worker, try the next one.
  let claimed: { worker: Worker; actor: Actor } | undefined;
  // Workers taken meanwhile by other resumes lose the race for us; a fresh look at the
  // workers finds the ones freed meanwhile. Nodes that cache what the actor needs go first;
  // shuffling spreads concurrent resumes apart.
  for (let round = 0; round < 5 && !claimed; round++) {
    const workers = await d.records.listWorkers();
    const candidates = await workersToTry(d, actor, template, pools, workers);
    if (candidates.length === 0) break;
    for (const worker of candidates) {
      const resuming: Actor = {
        ...actor,
        status: "RESUMING",
        worker: workerRef(worker),
        workerPoolName: worker.pool,
        // Checkpoints then need nothing from the template, which may be deleted meanwhile.
        snapshotsConfig: resumedSnapshotsConfig(actor, template),
        transition: transitionMark(d, "resume", worker.name),
      };
      try {
        claimed = await d.records.claimWorker(worker, resuming);
        break;
      } catch (err) {
        if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
        const now = await d.records.getActor(atespace, actorId);
        if (now.version !== actor.version) {
          if (now.status === "RUNNING") return { running: now };
          throw busy(now);
        }
      }
    }
  }
  if (!claimed) {
    const where =
      actor.latestSnapshot?.type === "LOCAL"
        ? ` on node ${actor.latestSnapshot.nodes?.join(", ")} (where its paused snapshot is)`
        : "";
    throw new AteError(
      Code.ResourceExhausted,
      `no free worker for actor ${atespace}/${actorId} in pool(s) ${pools.map((p) => p.metadata.name).join(", ")}${where}`,
    );
  }
  span.setAttributes({
    "ate.worker": claimed.worker.name,
    "ate.node": claimed.worker.node,
    "ate.pool": claimed.worker.pool,
  });
  return { template, pools, ...claimed };
}

/**
 * Resume: claim a free worker and mark the actor RESUMING in one compare-and-set, then have
 * the worker's node restore the actor's snapshot (or the template's golden one, or boot it).
 * Any failure after the claim, reaching the node included, puts the actor back at its last
 * snapshot with the worker free.
 */
export async function resumeActor(
  d: LifecycleDeps,
  atespace: string,
  actorId: string,
  options: { boot?: boolean; signal?: AbortSignal } = {},
): Promise<Actor> {
  let actor = await d.records.getActor(atespace, actorId);
  // Frozen in place (still on its worker): thawed, no worker claimed. An actor that left
  // RUNNING meanwhile (a checkpoint took it) is answered below like any other.
  if (actor.status === "RUNNING" && actor.tier === "frozen") actor = await thawActor(d, actor);
  if (actor.status === "RUNNING") return actor;
  if (actor.status !== "SUSPENDED" && actor.status !== "PAUSED") throw busy(actor);
  const placed = await inSpan("controlplane", "resume.placement", {}, (span) =>
    placeActor(d, actor, span),
  );
  if ("running" in placed) return placed.running; // resumed by another call meanwhile
  const { template, pools, worker } = placed;
  actor = placed.actor;
  const identity = identityOf(actor);
  try {
    options.signal?.throwIfAborted();
    // Inside the rollback: a node that cannot be reached must not leave the actor RESUMING.
    const node = d.nodes.get(worker.node);
    const call = options.signal ? { signal: options.signal } : {};
    const snapshot = actor.latestSnapshot;
    const golden = template.status?.phase === "Ready" ? template.status.goldenSnapshot : undefined;
    // A new token for every start; issuing it revokes the last one (see actorTokenFor).
    const token = await actorTokenFor(d, actor);
    if (snapshot) {
      await node.restore(
        {
          worker: worker.name,
          actor: identity,
          source: snapshot.uri,
          scope: snapshot.scope,
          origin: "own", // the node checks the manifest: only this actor's own snapshot
          ...token,
          // Data only: the golden's memory with this data laid in, rather than a cold boot.
          ...(snapshot.scope === "Data" && golden ? { base: golden } : {}),
          ...(await bootSecrets(d, template, snapshot.scope)),
        },
        call,
      );
    } else if (golden && !options.boot) {
      // Goldens of Data templates taken before goldens were always Full hold no memory: as a
      // base, the node restores the golden's memory when it has some, else boots with its data.
      const scope = template.spec.snapshotsConfig.onCommit ?? "Full";
      await node.restore(
        {
          worker: worker.name,
          actor: identity,
          source: golden,
          scope,
          origin: "golden", // the node checks the manifest: this template's golden actor's
          ...token,
          ...(scope === "Data" ? { base: golden } : {}),
          ...(await bootSecrets(d, template, scope)),
        },
        call,
      );
    } else {
      const pool = pools.find(
        (p) => p.metadata.name === worker.pool && p.metadata.namespace === worker.namespace,
      ) as WorkerPool;
      const sandboxAssets = await resolveSandboxAssets(d.resources, pool);
      await node.run(
        {
          worker: worker.name,
          actor: identity,
          // A cold boot: the template's Secrets read now (a missing required one refuses it).
          workload: await workloadOf(template, secretLookupOf(d.resources)),
          sandboxAssets,
          ...token,
        },
        call,
      );
    }
  } catch (err) {
    await rollBackResume(d, actor, worker);
    throw err;
  }
  const { transition: _done, ...rest } = actor;
  const running = await d.records.updateActor({ ...rest, status: "RUNNING" });
  d.hooks.changed(running);
  d.logger.info("actor running", {
    actor: `${atespace}/${actorId}`,
    worker: worker.name,
    node: worker.node,
  });
  return running;
}

/**
 * What the actor's checkpoints will need. A golden snapshot is always Full, whatever the
 * template's onCommit: it is the template's (no tenant data in it), and its memory is what
 * the template's actors resume from (their Data snapshots laid into it).
 */
function resumedSnapshotsConfig(actor: Actor, template: ActorTemplate): ActorSnapshotsConfig {
  const config = snapshotsConfigOf(template);
  return actor.atespace === goldenAtespace ? { ...config, onCommit: "Full" } : config;
}

/** The actor's template, which a resume needs (its pools, workload and golden snapshot). */
async function templateToResume(d: LifecycleDeps, actor: Actor): Promise<ActorTemplate> {
  const name = `${actor.templateNamespace}/${actor.templateName}`;
  try {
    return await d.resources.get(ActorTemplateType, actor.templateNamespace, actor.templateName);
  } catch (err) {
    if (!isAteError(err, Code.NotFound)) throw err;
    throw new AteError(
      Code.FailedPrecondition,
      `ActorTemplate ${name} no longer exists: actor ${actor.atespace}/${actor.actorId} cannot resume without it; apply the template again (the actor's snapshots are kept), or delete the actor`,
    );
  }
}

/**
 * What a restore may need of the template's Secrets: nothing for a Full one (the memory holds
 * what the process read, so a deleted or rotated Secret does not touch it); for a Data one,
 * which boots the image when no memory serves, the values the references read now. Missing
 * ones are left out: the node fails only if it really boots and a required one is absent.
 */
async function bootSecrets(
  d: LifecycleDeps,
  template: ActorTemplate,
  scope: "Full" | "Data",
): Promise<{ secretValues?: SecretValue[] }> {
  if (scope === "Full") return {};
  const { values } = await readSecrets(template, secretLookupOf(d.resources));
  return values.length ? { secretValues: values } : {};
}

/**
 * The actor's own token for the start about to happen (/run/ate/token in its sandbox), when
 * this control plane issues them. Issued before the node is called, so the token the actor's
 * memory may hold from its last run stops working before that memory runs again. Golden
 * actors get none: their memory becomes every new actor's, which must not inherit a live
 * credential.
 */
async function actorTokenFor(d: LifecycleDeps, actor: Actor): Promise<{ actorToken?: string }> {
  if (!d.actorTokens || actor.atespace === goldenAtespace) return {};
  return { actorToken: await d.actorTokens.issue(actor) };
}

async function rollBackResume(d: LifecycleDeps, actor: Actor, worker: Worker): Promise<void> {
  const back = atLastSnapshot(actor);
  try {
    const current = await d.records.getWorker(worker.namespace, worker.name);
    await d.records.releaseWorker(current, back);
  } catch (err) {
    d.logger.warn("rolling back a resume failed", { actor: actor.actorId, error: String(err) });
  }
}

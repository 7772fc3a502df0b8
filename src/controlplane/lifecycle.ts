import { randomBytes } from "node:crypto";
import type { ActorTemplate, WorkerPool } from "../api/v1alpha1/index.ts";
import { ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import type { Clock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { ActorIdentity, SnapshotScope } from "../node/index.ts";
import {
  type Actor,
  atLastSnapshot,
  type Records,
  type SnapshotInfo,
  type Worker,
} from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { NodeDirectory } from "./nodes.ts";
import { resolveSandboxAssets } from "./sandbox-assets.ts";
import { candidateWorkers, eligiblePools } from "./scheduler.ts";
import { checkpointConfig, snapshotsConfigOf } from "./snapshots-config.ts";
import { workloadOf } from "./workload.ts";

export interface LifecycleDeps {
  records: Records;
  resources: ResourceStore;
  nodes: NodeDirectory;
  clock: Clock;
  logger: Logger;
  /** Identifies this control plane instance in transition locks. */
  owner: string;
  /** How long a transition may run before the reconciler takes over. */
  transitionTimeoutMs: number;
  hooks: ActorHooks;
  /**
   * Where a suspend writes when neither the actor record, nor its template, nor an earlier
   * snapshot says (actors resumed by older versions whose template was deleted since).
   */
  fallbackSnapshotLocation: string;
}

/** Lets a router keep its routes right: it drains an actor before a checkpoint and hears of changes. */
export interface ActorHooks {
  /** Called before an actor's checkpoint starts; stop forwarding and let requests finish. */
  beforeCheckpoint(actor: Actor): Promise<void>;
  /** Called after an actor's status changed (running somewhere, or suspended/paused). */
  changed(actor: Actor): void;
}

export const noHooks: ActorHooks = { beforeCheckpoint: async () => {}, changed: () => {} };

const busy = (a: Actor) =>
  new AteError(
    Code.Aborted,
    `another operation is in progress for this actor (${a.atespace}/${a.actorId} is ${a.status})`,
  );

export const identityOf = (a: Actor): ActorIdentity => ({
  atespace: a.atespace,
  templateNamespace: a.templateNamespace,
  templateName: a.templateName,
  actorId: a.actorId,
});

/**
 * The actor lifecycle: every transition is taken by a compare-and-set that marks the actor
 * (with an expiry), so two calls never run at once; steps are written so that a crash at any
 * point leaves records the reconciler can finish or roll back.
 */
export class Lifecycle {
  constructor(private readonly d: LifecycleDeps) {}

  async resume(
    atespace: string,
    actorId: string,
    options: { boot?: boolean; signal?: AbortSignal } = {},
  ): Promise<Actor> {
    let actor = await this.d.records.getActor(atespace, actorId);
    if (actor.status === "RUNNING") return actor;
    if (actor.status !== "SUSPENDED" && actor.status !== "PAUSED") throw busy(actor);
    const template = await this.templateToResume(actor);
    const pools = eligiblePools(
      template,
      actor,
      (await this.d.resources.list(WorkerPoolType)).items as WorkerPool[],
    );
    if (pools.length === 0) {
      throw new AteError(
        Code.FailedPrecondition,
        `no WorkerPool matches actor ${atespace}/${actorId} (sandboxClass ${template.spec.sandboxClass}, template and actor worker selectors)`,
      );
    }
    // Claim a free worker and mark the actor RESUMING in one atomic step; on a lost race for a
    // worker, try the next one.
    let claimed: { worker: Worker; actor: Actor } | undefined;
    // Workers taken meanwhile by other resumes lose the race for us; a fresh look at the
    // workers finds the ones freed meanwhile. Shuffling spreads concurrent resumes apart.
    for (let round = 0; round < 5 && !claimed; round++) {
      const candidates = shuffle(
        candidateWorkers(actor, pools, await this.d.records.listWorkers()),
      );
      if (candidates.length === 0) break;
      for (const worker of candidates) {
        const resuming: Actor = {
          ...actor,
          status: "RESUMING",
          worker: {
            namespace: worker.namespace,
            name: worker.name,
            pool: worker.pool,
            node: worker.node,
            address: worker.address,
            uid: worker.uid,
          },
          workerPoolName: worker.pool,
          // Checkpoints then need nothing from the template, which may be deleted meanwhile.
          snapshotsConfig: snapshotsConfigOf(template),
          transition: this.transition("resume", worker.name),
        };
        try {
          claimed = await this.d.records.claimWorker(worker, resuming);
          break;
        } catch (err) {
          if (!isAteError(err, Code.Aborted) && !isAteError(err, Code.NotFound)) throw err;
          const now = await this.d.records.getActor(atespace, actorId);
          if (now.version !== actor.version) {
            if (now.status === "RUNNING") return now;
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
    ({ actor } = claimed);
    const { worker } = claimed;
    const node = this.d.nodes.get(worker.node);
    const identity = identityOf(actor);
    try {
      options.signal?.throwIfAborted();
      const signal = options.signal ? { signal: options.signal } : {};
      const snapshot = actor.latestSnapshot;
      const golden =
        template.status?.phase === "Ready" ? template.status.goldenSnapshot : undefined;
      if (snapshot) {
        await node.restore({
          worker: worker.name,
          actor: identity,
          source: snapshot.uri,
          scope: snapshot.scope,
          origin: "own", // the node checks the manifest: only this actor's own snapshot
          ...signal,
        });
      } else if (golden && !options.boot) {
        // The golden snapshot was taken by a Suspend, so it has the template's onCommit scope.
        await node.restore({
          worker: worker.name,
          actor: identity,
          source: golden,
          scope: template.spec.snapshotsConfig.onCommit ?? "Full",
          origin: "golden", // the node checks the manifest: this template's golden actor's
          ...signal,
        });
      } else {
        const pool = pools.find(
          (p) => p.metadata.name === worker.pool && p.metadata.namespace === worker.namespace,
        ) as WorkerPool;
        const sandboxAssets = await resolveSandboxAssets(this.d.resources, pool);
        await node.run({
          worker: worker.name,
          actor: identity,
          workload: workloadOf(template),
          sandboxAssets,
          ...signal,
        });
      }
    } catch (err) {
      await this.rollBackResume(actor, worker);
      throw err;
    }
    const { transition: _done, ...rest } = actor;
    const running = await this.d.records.updateActor({ ...rest, status: "RUNNING" });
    this.d.hooks.changed(running);
    this.d.logger.info("actor running", {
      actor: `${atespace}/${actorId}`,
      worker: worker.name,
      node: worker.node,
    });
    return running;
  }

  /** Suspend (external snapshot, scope onCommit) or Pause (snapshot kept on the node, scope onPause). */
  async checkpoint(
    atespace: string,
    actorId: string,
    kind: "suspend" | "pause",
    signal?: AbortSignal,
  ): Promise<Actor> {
    let actor = await this.d.records.getActor(atespace, actorId);
    const target = kind === "suspend" ? "SUSPENDED" : "PAUSED";
    if (actor.status === target) return actor;
    if (actor.status === "PAUSED" && kind === "suspend") {
      throw new AteError(
        Code.FailedPrecondition,
        `actor ${atespace}/${actorId} is PAUSED on node ${actor.latestSnapshot?.nodes?.join(", ")}: resume it, then suspend it`,
      );
    }
    if (actor.status !== "RUNNING" || !actor.worker)
      throw actor.status === "SUSPENDED"
        ? new AteError(
            Code.FailedPrecondition,
            `actor ${atespace}/${actorId} is SUSPENDED; resume it before pausing`,
          )
        : busy(actor);
    const config = await checkpointConfig(
      actor,
      this.d.resources,
      this.d.fallbackSnapshotLocation,
      this.d.logger,
    );
    const scope: SnapshotScope =
      kind === "suspend" ? (config.onCommit ?? "Full") : (config.onPause ?? "Full");
    const uri =
      kind === "suspend"
        ? `${config.location.replace(/\/+$/, "")}/${atespace}/${actorId}/${snapshotId(this.d.clock)}`
        : undefined;
    await this.d.hooks.beforeCheckpoint(actor);
    actor = await this.d.records.updateActor({
      ...actor,
      status: kind === "suspend" ? "SUSPENDING" : "PAUSING",
      transition: this.transition(kind, actor.worker.name),
      ...(uri ? { inProgressSnapshot: uri } : {}),
    });
    const workerRef = actor.worker as NonNullable<Actor["worker"]>;
    const worker = await this.d.records.getWorker(workerRef.namespace, workerRef.name);
    const node = this.d.nodes.get(workerRef.node);
    let info: SnapshotInfo;
    try {
      const result = await node.checkpoint({
        worker: workerRef.name,
        actor: identityOf(actor),
        scope,
        destination: uri ? { kind: "external", uriPrefix: uri } : { kind: "local" },
        ...(signal ? { signal } : {}),
      });
      info = result.local
        ? { type: "LOCAL", scope, uri: result.uri, nodes: [workerRef.node] }
        : { type: "EXTERNAL", scope, uri: result.uri };
    } catch (err) {
      const e = AteError.from(err);
      const kept = e.code === Code.Unavailable ? e.details[0] : undefined;
      if (kept) {
        // The upload failed but the node kept the snapshot: the actor is paused there.
        info = { type: "LOCAL", scope, uri: kept, nodes: [workerRef.node] };
        await this.finishCheckpoint(actor, worker, info, "PAUSED");
        throw e;
      }
      const stillRunning = (await node.listWorkers()).some(
        (w) => w.name === workerRef.name && w.actor?.actorId === actorId,
      );
      if (stillRunning) {
        const { transition: _t, inProgressSnapshot: _s, ...rest } = actor;
        await this.d.records.updateActor({ ...rest, status: "RUNNING" });
      } else {
        // The sandbox is gone without a snapshot: the actor falls back to its last one.
        await this.finishCheckpoint(actor, worker, actor.latestSnapshot, "SUSPENDED");
      }
      throw e;
    }
    return this.finishCheckpoint(actor, worker, info, target);
  }

  /**
   * Stops an actor without a checkpoint and frees its worker: the actor goes back to its last
   * committed snapshot, and what it did since is lost. For actors whose state does not matter
   * (a golden actor at shutdown) or that cannot be checkpointed.
   */
  async stop(atespace: string, actorId: string): Promise<Actor> {
    let actor = await this.d.records.getActor(atespace, actorId);
    if (actor.status === "SUSPENDED" || actor.status === "PAUSED") return actor;
    if (actor.status !== "RUNNING" || !actor.worker) throw busy(actor);
    await this.d.hooks.beforeCheckpoint(actor);
    // A suspend mark without a snapshot: after a crash the reconciler keeps the actor RUNNING
    // if its sandbox still runs, else puts it back at its last snapshot, as below.
    actor = await this.d.records.updateActor({
      ...actor,
      status: "SUSPENDING",
      transition: this.transition("suspend", actor.worker.name),
    });
    const ref = actor.worker as NonNullable<Actor["worker"]>;
    const node = this.d.nodes.get(ref.node);
    const runsIt = async () =>
      (await node.listWorkers()).some(
        (w) => w.name === ref.name && w.actor?.actorId === actorId && w.actor.atespace === atespace,
      );
    try {
      // Never stop a sandbox that is not this actor's.
      if (await runsIt()) await node.stop(ref.name);
    } catch (err) {
      if (await runsIt().catch(() => true)) {
        const { transition: _t, ...rest } = actor;
        await this.d.records.updateActor({ ...rest, status: "RUNNING" });
        throw err;
      }
    }
    const worker = await this.d.records.getWorker(ref.namespace, ref.name);
    const back = atLastSnapshot(actor);
    const released = await this.d.records.releaseWorker(worker, back);
    this.d.hooks.changed(released.actor);
    this.d.logger.info("actor stopped without a checkpoint", {
      actor: `${atespace}/${actorId}`,
      worker: ref.name,
      snapshot: actor.latestSnapshot?.uri,
    });
    return released.actor;
  }

  /** The actor's template, which a resume needs (its pools, workload and golden snapshot). */
  private async templateToResume(actor: Actor): Promise<ActorTemplate> {
    const name = `${actor.templateNamespace}/${actor.templateName}`;
    try {
      return (await this.d.resources.get(
        ActorTemplateType,
        actor.templateNamespace,
        actor.templateName,
      )) as ActorTemplate;
    } catch (err) {
      if (!isAteError(err, Code.NotFound)) throw err;
      throw new AteError(
        Code.FailedPrecondition,
        `ActorTemplate ${name} no longer exists: actor ${actor.atespace}/${actor.actorId} cannot resume without it; apply the template again (the actor's snapshots are kept), or delete the actor`,
      );
    }
  }

  /** Frees the worker and records the snapshot (if any) in one step. */
  private async finishCheckpoint(
    actor: Actor,
    worker: Worker,
    info: SnapshotInfo | undefined,
    status: "SUSPENDED" | "PAUSED",
  ): Promise<Actor> {
    const {
      transition: _t,
      inProgressSnapshot: _s,
      worker: _w,
      latestSnapshot: _l,
      ...rest
    } = actor;
    const next: Actor = {
      ...rest,
      status: info ? status : "SUSPENDED",
      ...(info ? { latestSnapshot: info, snapshots: [...(actor.snapshots ?? []), info.uri] } : {}),
    };
    const released = await this.d.records.releaseWorker(worker, next);
    this.d.hooks.changed(released.actor);
    this.d.logger.info(`actor ${next.status.toLowerCase()}`, {
      actor: `${actor.atespace}/${actor.actorId}`,
      worker: worker.name,
      snapshot: info?.uri,
    });
    return released.actor;
  }

  private async rollBackResume(actor: Actor, worker: Worker): Promise<void> {
    const back = atLastSnapshot(actor);
    const current = await this.d.records.getWorker(worker.namespace, worker.name);
    await this.d.records.releaseWorker(current, back).catch((err) =>
      this.d.logger.warn("rolling back a resume failed", {
        actor: actor.actorId,
        error: String(err),
      }),
    );
  }

  private transition(op: "resume" | "suspend" | "pause", worker: string) {
    return {
      op,
      owner: this.d.owner,
      expiresAt: this.d.clock.now().getTime() + this.d.transitionTimeoutMs,
      worker,
    };
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function snapshotId(clock: Clock): string {
  return `${clock
    .now()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(4).toString("hex")}`;
}

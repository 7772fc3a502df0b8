import { randomBytes } from "node:crypto";
import { type ActorTemplate, ActorTemplateType, WorkerPoolType } from "../api/v1alpha1/index.ts";
import { openBlobStore } from "../blob/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { ControlPlaneMetrics } from "../metrics/index.ts";
import {
  type Actor,
  type ActorPage,
  type Atespace,
  checkLabel,
  type Records,
  type Worker,
} from "../records/index.ts";
import { ActivityBoard, type IncomingReport } from "./activity-board.ts";
import { type ActorLogsOptions, actorLogs } from "./actor-logs.ts";
import {
  type ActorWatchEvent,
  WatchSlots,
  watchActors,
  watchLimitDefaults,
} from "./actor-watch.ts";
import type { ControlCaller } from "./caller.ts";
import { type ControlPlaneOptions, defaultSnapshotLocation } from "./control-plane-options.ts";
import { collectGarbage } from "./gc.ts";
import { removeDeletedActorSnapshots } from "./gc-owner.ts";
import { type ActorRef, checkRef, checkSelector } from "./input-checks.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Operations } from "./operations.ts";
import { reconcileActors } from "./reconciler.ts";
import { eligiblePools, servingWorkers } from "./scheduler.ts";
import { SnapshotTagService, type TagRef } from "./snapshot-tags.ts";
import { snapshotsConfigOf } from "./snapshots-config.ts";

/** The atespace that holds golden actors (one per ActorTemplate); the node agent checks restores by it. */
export { goldenAtespace } from "../node/index.ts";
export {
  type ControlPlaneOptions,
  defaultSnapshotLocation,
} from "./control-plane-options.ts";
export type { ActorRef } from "./input-checks.ts";

/**
 * The Control service's behaviour, independent of transport: validates every input at the
 * edge (naming the field) and drives actor lifecycles over records, resources and node agents.
 */
export class ControlPlane {
  readonly records: Records;
  /** Names this instance in the transitions it marks (see reconcile's `orphaned`). */
  readonly owner: string;
  private readonly lifecycle: Lifecycle;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly operations = new Operations();
  /** Every router's latest activity report (see activity.ts for what is decided from them). */
  readonly activity: ActivityBoard;
  private readonly watches: WatchSlots;
  /** Transitions, workers per pool and GC removals (gcRemovedObjects), in Prometheus form. */
  readonly metrics: ControlPlaneMetrics;
  /** Snapshot tags (Create/Get/List/DeleteSnapshotTag) and the forks CreateActor makes. */
  readonly snapshotTags: SnapshotTagService;

  constructor(private readonly options: ControlPlaneOptions) {
    this.records = options.records;
    this.owner = options.owner ?? `controlplane-${randomBytes(4).toString("hex")}`;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger;
    this.activity = new ActivityBoard(options.records.store, this.clock, {
      staleAfterMs: options.routerStaleMs ?? 5000,
    });
    const total = options.watchLimits?.total ?? watchLimitDefaults.total;
    this.watches = new WatchSlots({
      total,
      perToken: options.watchLimits?.perToken ?? watchLimitDefaults.perToken,
      reserved: options.watchLimits?.reserved ?? Math.floor(total / 4),
    });
    this.snapshotTags = new SnapshotTagService({
      records: options.records,
      resources: options.resources,
      clock: this.clock,
      logger: this.log,
      open: options.openSnapshots ?? ((uri) => openBlobStore(uri)),
      fallbackLocation: options.fallbackSnapshotLocation ?? defaultSnapshotLocation,
      ...(options.actorTokens ? { actorTokens: options.actorTokens } : {}),
      ...(options.snapshotTagsPerAtespace
        ? { tagsPerAtespace: options.snapshotTagsPerAtespace }
        : {}),
      track: (signal, run) => this.operations.run("resume", signal, run),
    });
    const drain = {
      timeoutMs: options.drainTimeoutMs ?? 10_000,
      staleAfterMs: options.routerStaleMs ?? 5000,
    };
    this.metrics = new ControlPlaneMetrics(options.metricsRegistry);
    this.metrics.countWorkers(options.records);
    this.lifecycle = new Lifecycle(
      {
        records: options.records,
        resources: options.resources,
        nodes: options.nodes,
        clock: this.clock,
        logger: this.log,
        owner: this.owner,
        transitionTimeoutMs: options.transitionTimeoutMs ?? 10 * 60_000,
        fallbackSnapshotLocation: options.fallbackSnapshotLocation ?? defaultSnapshotLocation,
        ...(options.actorTokens ? { actorTokens: options.actorTokens } : {}),
        hooks: {
          // Routers learn of every change from the records' feed (watchActors); before a
          // checkpoint the lifecycle waits for them to finish the requests under way.
          beforeCheckpoint: async (a) => {
            if (!(await this.activity.drain(a, drain)))
              this.log.warn("routers still had requests under way; checkpointing anyway", {
                actor: `${a.atespace}/${a.actorId}`,
              });
          },
          // Routers report at once when they see the mark; one that still forwards, briefly.
          beforeFreeze: (a) =>
            this.activity.drain(a, { ...drain, timeoutMs: Math.min(drain.timeoutMs, 3000) }),
          changed: () => {},
        },
      },
      this.metrics,
    );
  }

  /**
   * Every actor (of one atespace, or all), then every change to one as it is committed, by
   * whichever process made it; see actor-watch.ts. Counted against `caller`'s watches.
   */
  watchActors(o: {
    atespace?: string;
    after?: string;
    signal: AbortSignal;
    heartbeatMs?: number;
    caller: ControlCaller;
  }): AsyncGenerator<ActorWatchEvent> {
    if (o.atespace) checkLabel("atespace", o.atespace);
    if (o.after !== undefined && o.after.length > 100)
      throw new AteError(
        Code.InvalidArgument,
        "after: Too long: a cursor is at most 100 characters; use the cursor of an event",
      );
    const slots = this.watches;
    const records = this.records;
    return (async function* () {
      const release = slots.acquire(o.caller);
      try {
        yield* watchActors(records, o);
      } finally {
        release();
      }
    })();
  }

  /**
   * A router's activity report (idle suspension and eviction are decided from these), kept
   * under the caller's token: a router's reports are its own.
   */
  reportActivity(report: IncomingReport, caller: ControlCaller): Promise<void> {
    return this.activity.report(report, caller.name);
  }

  async getActor(ref: ActorRef): Promise<Actor> {
    checkRef(ref);
    return this.records.getActor(ref.atespace, ref.name);
  }

  async createActor(
    ref: ActorRef,
    templateNamespace: string,
    templateName: string,
    workerSelector?: Record<string, string>,
    sourceTag?: TagRef,
    signal?: AbortSignal,
  ): Promise<Actor> {
    checkRef(ref);
    if (!templateName)
      throw new AteError(Code.InvalidArgument, "actor_template_name: Required value");
    checkSelector(workerSelector);
    const namespace = templateNamespace || "default";
    let template: ActorTemplate;
    try {
      template = await this.options.resources.get(ActorTemplateType, namespace, templateName);
    } catch (err) {
      if (isAteError(err, Code.NotFound))
        throw new AteError(
          Code.FailedPrecondition,
          `ActorTemplate ${namespace}/${templateName} does not exist: apply it first`,
        );
      throw err;
    }
    const actor = {
      atespace: ref.atespace,
      actorId: ref.name,
      templateNamespace: namespace,
      templateName,
      status: "SUSPENDED" as const,
      createdAt: this.clock.now().toISOString(),
      ...(workerSelector && Object.keys(workerSelector).length ? { workerSelector } : {}),
    };
    if (!sourceTag) return this.records.createActor(actor);
    const { location } = snapshotsConfigOf(template);
    return this.snapshotTags.createFork(actor, sourceTag, location, signal);
  }

  async updateActor(ref: ActorRef, workerSelector?: Record<string, string>): Promise<Actor> {
    checkRef(ref);
    checkSelector(workerSelector);
    const actor = await this.records.getActor(ref.atespace, ref.name);
    const { workerSelector: _old, ...rest } = actor;
    return this.records.updateActor({
      ...rest,
      ...(workerSelector && Object.keys(workerSelector).length ? { workerSelector } : {}),
    });
  }

  async resumeActor(ref: ActorRef, boot = false, signal?: AbortSignal): Promise<Actor> {
    checkRef(ref);
    return this.operations.run("resume", signal, (s) =>
      this.lifecycle.resume(ref.atespace, ref.name, { boot, ...(s ? { signal: s } : {}) }),
    );
  }

  async suspendActor(ref: ActorRef, signal?: AbortSignal): Promise<Actor> {
    checkRef(ref);
    return this.operations.run("checkpoint", signal, (s) =>
      this.lifecycle.checkpoint(ref.atespace, ref.name, "suspend", s),
    );
  }

  async pauseActor(ref: ActorRef, signal?: AbortSignal): Promise<Actor> {
    checkRef(ref);
    return this.operations.run("checkpoint", signal, (s) =>
      this.lifecycle.checkpoint(ref.atespace, ref.name, "pause", s),
    );
  }

  /**
   * Freezes an idle RUNNING actor in place (the frozen tier, see freeze.ts); ResumeActor
   * thaws it. In process only: the leader's activity controller decides it.
   */
  async freezeActor(ref: ActorRef): Promise<Actor> {
    checkRef(ref);
    return this.operations.run("checkpoint", undefined, () =>
      this.lifecycle.freeze(ref.atespace, ref.name),
    );
  }

  /**
   * Stops a RUNNING actor without a checkpoint and frees its worker; it goes back to its last
   * committed snapshot. In process only (not in the Control API): for a golden actor at
   * shutdown, or an actor that cannot be checkpointed.
   */
  async stopActor(ref: ActorRef): Promise<Actor> {
    checkRef(ref);
    return this.operations.run("checkpoint", undefined, () =>
      this.lifecycle.stop(ref.atespace, ref.name),
    );
  }

  /**
   * For a shutdown: refuses new resumes (UNAVAILABLE), aborts those under way (they roll back)
   * and resolves once none runs. Suspends and pauses are still taken.
   */
  stopResumes(): Promise<void> {
    return this.operations.stopResumes();
  }

  /** For a shutdown: refuses every lifecycle call and resolves once none runs. */
  close(): Promise<void> {
    return this.operations.close();
  }

  /** Only a SUSPENDED actor can be deleted; its snapshots go with it (gc-owner.ts). */
  async deleteActor(ref: ActorRef): Promise<void> {
    checkRef(ref);
    const actor = await this.records.getActor(ref.atespace, ref.name);
    if (actor.status !== "SUSPENDED") {
      throw new AteError(
        Code.FailedPrecondition,
        `actor ${ref.atespace}/${ref.name} is ${actor.status}: suspend it before deleting it`,
      );
    }
    await this.records.deleteActor(actor, this.clock.now());
    // It owned its snapshots: removed now (the orphans record keeps them named until the GC).
    await removeDeletedActorSnapshots(actor, this.log, this.options.nodes);
    // Its token is refused from now on anyway (the actor is gone); the record goes too.
    await this.options.actorTokens?.revoke(actor.atespace, actor.actorId).catch(() => {});
    this.log.info("actor deleted", {
      actor: `${ref.atespace}/${ref.name}`,
      snapshots: actor.snapshots ?? [],
    });
  }

  /**
   * One run of the snapshot collector (gc.ts) over this control plane's stores and its nodes'
   * own snapshots, as the leader's periodic run does: `ate gc`, through the Admin API.
   */
  async collectGarbage(o: { dryRun?: boolean; graceMs?: number; signal?: AbortSignal } = {}) {
    const { records, options: opts, log: logger } = this;
    // Only a fallback location it was given: the default may hold another substrate's snapshots.
    const fallback = opts.fallbackSnapshotLocation;
    // An operation a stopping control plane aborts and waits for, as it does copies: a run cut
    // short anywhere loses nothing (gc-crash.test.ts), and the stores stay open until it ends.
    const report = await this.operations.run("resume", o.signal, (signal) =>
      collectGarbage({
        ...{ records, resources: opts.resources, nodes: opts.nodes, logger, ...o, signal },
        ...(fallback ? { fallbackLocation: fallback } : {}),
      }),
    );
    if (!o.dryRun) this.metrics.gcRemovedObjects("snapshot", report.removals.length, report.bytes);
    return report;
  }

  /** The actor's stdout/stderr from every node it ran on; with `follow`, also what it writes next. */
  actorLogs(ref: ActorRef, o: ActorLogsOptions = {}): AsyncGenerator<Buffer> {
    checkRef(ref);
    return actorLogs(this.options.nodes, () => this.records.getActor(ref.atespace, ref.name), o);
  }

  listActors(pageSize: number, pageToken: string, atespace: string): Promise<ActorPage> {
    return this.records.listActors({ pageSize, pageToken, ...(atespace ? { atespace } : {}) });
  }

  listWorkers(): Promise<Worker[]> {
    return this.records.listWorkers();
  }

  /**
   * The workers, free or busy, that could run the actor (its eligible pools; for a paused
   * actor, the node holding its snapshot): where evicting another actor makes room for it.
   * None when its template is gone.
   */
  async servingWorkers(ref: ActorRef): Promise<Worker[]> {
    checkRef(ref);
    const actor = await this.records.getActor(ref.atespace, ref.name);
    const template = await this.options.resources
      .get(ActorTemplateType, actor.templateNamespace, actor.templateName)
      .catch((err) => {
        if (isAteError(err, Code.NotFound)) return undefined;
        throw err;
      });
    if (!template) return [];
    const pools = (await this.options.resources.list(WorkerPoolType)).items;
    return servingWorkers(
      actor,
      eligiblePools(template, actor, pools),
      await this.records.listWorkers(),
    );
  }

  createAtespace(name: string): Promise<Atespace> {
    return this.records.createAtespace(name, this.clock.now());
  }

  getAtespace(name: string): Promise<Atespace> {
    checkLabel("name", name);
    return this.records.getAtespace(name);
  }

  listAtespaces(): Promise<Atespace[]> {
    return this.records.listAtespaces();
  }

  deleteAtespace(name: string): Promise<void> {
    checkLabel("name", name);
    return this.records.deleteAtespace(name);
  }

  async debugClear(): Promise<void> {
    if (!this.options.debug)
      throw new AteError(
        Code.PermissionDenied,
        "DebugClear is disabled: start the server with its debug flag to allow wiping all records",
      );
    await this.records.store.clear();
  }

  /**
   * Recovers actors whose transition outlived its owner: expired ones, unexpired ones whose
   * owner `orphaned` says is gone (a control plane that crashed), and with `all` every one (at
   * start-up, when no other instance can be at work).
   */
  reconcile(
    all = false,
    signal?: AbortSignal,
    orphaned?: (owner: string) => boolean | Promise<boolean>,
  ): Promise<number> {
    return reconcileActors(this.records, this.options.nodes, this.clock, this.log, {
      all,
      ...(signal ? { signal } : {}),
      ...(orphaned ? { orphaned } : {}),
    });
  }
}

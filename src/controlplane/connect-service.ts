import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { toConnectError, withConnectErrors } from "../errors/connect.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import {
  type ActorEvent,
  ActorEvent_Type,
  ActorEventSchema,
  ActorSchema,
  type Control,
} from "../proto/gen/ateapi/control_pb.ts";
import type { Actor, Worker } from "../records/index.ts";
import type { ActorWatchEvent } from "./actor-watch.ts";
import { type ControlCaller, controlCallerKey } from "./caller.ts";
import type { ControlPlane } from "./control-plane.ts";
import { NodeEntries, type NodeEntry } from "./node-entries.ts";
import { policyFromWire, snapshotTagToWire } from "./snapshot-tag-wire.ts";
import { atespaceToWire, actorToWire as toWire, workerToWire } from "./wire.ts";

const wrap = withConnectErrors;

/**
 * Actors as messages, each with its worker's limits when it has a worker, and (`entries`,
 * for routers) its node's entry point and token.
 */
async function actorsToWire(
  cp: ControlPlane,
  actors: readonly Actor[],
  entries: Map<string, NodeEntry> | undefined,
) {
  const placed = actors.filter((a) => a.worker);
  let workers: Worker[] = [];
  if (placed.length === 1 && placed[0]?.worker) {
    const { namespace, name } = placed[0].worker;
    const worker = await cp.records.getWorker(namespace, name).catch((err) => {
      if (isAteError(err, Code.NotFound)) return undefined; // gone meanwhile: no limits shown
      throw err;
    });
    workers = worker ? [worker] : [];
  } else if (placed.length > 1) workers = await cp.listWorkers();
  const byKey = new Map(workers.map((w) => [`${w.namespace}/${w.name}`, w]));
  return actors.map((a) =>
    toWire(
      a,
      a.worker ? byKey.get(`${a.worker.namespace}/${a.worker.name}`) : undefined,
      a.worker ? entries?.get(a.worker.node) : undefined,
    ),
  );
}

const ref = (r: { atespace: string; name: string } | undefined) => r ?? { atespace: "", name: "" };

/** Watches and activity reports are counted and kept per caller: refused without one. */
function callerOf(ctx: HandlerContext): ControlCaller {
  const caller = ctx.values.get(controlCallerKey);
  if (!caller) throw new AteError(Code.Unauthenticated, "no credentials: send a bearer token");
  return caller;
}

/**
 * The ateapi.Control service over a ControlPlane. Only callers authorized as routers are
 * given the entry tokens of the nodes their actors run on (worker_entry_token); everyone
 * else, admins included, gets it empty.
 */
export function controlService(cp: ControlPlane): ServiceImpl<typeof Control> {
  const nodeEntries = new NodeEntries(cp.records);
  const entriesFor = (ctx: HandlerContext, actors: readonly Actor[], cached = false) =>
    ctx.values.get(controlCallerKey)?.role === "router"
      ? nodeEntries.of(actors, { cached })
      : Promise.resolve(undefined);
  const actorsFor = async (ctx: HandlerContext, actors: readonly Actor[]) =>
    actorsToWire(cp, actors, await entriesFor(ctx, actors));
  const actorToWire = async (ctx: HandlerContext, a: Actor) => (await actorsFor(ctx, [a]))[0];
  /** Watch events carry no worker limits (routers need none; a listing shows them). */
  const eventToWire = async (ctx: HandlerContext, e: ActorWatchEvent): Promise<ActorEvent> => {
    if (e.type === "SYNCED")
      return create(ActorEventSchema, { type: ActorEvent_Type.SYNCED, cursor: e.cursor });
    if (e.type === "DELETED")
      return create(ActorEventSchema, {
        type: ActorEvent_Type.DELETED,
        actor: create(ActorSchema, { atespace: e.atespace, actorId: e.actorId }),
        cursor: e.cursor,
      });
    const node = e.actor.worker?.node;
    const entries = node ? await entriesFor(ctx, [e.actor], true) : undefined;
    return create(ActorEventSchema, {
      type: ActorEvent_Type.PUT,
      actor: toWire(e.actor, undefined, node ? entries?.get(node) : undefined),
      cursor: e.cursor,
    });
  };
  return {
    getActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(ctx, await cp.getActor(ref(req.actorRef))),
    })),
    createActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(
        ctx,
        await cp.createActor(
          ref(req.actorRef),
          req.actorTemplateNamespace,
          req.actorTemplateName,
          req.workerSelector?.matchLabels,
          req.sourceTag,
          ctx.signal,
        ),
      ),
    })),
    updateActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(
        ctx,
        await cp.updateActor(ref(req.actorRef), req.workerSelector?.matchLabels),
      ),
    })),
    suspendActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(ctx, await cp.suspendActor(ref(req.actorRef), ctx.signal)),
    })),
    pauseActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(ctx, await cp.pauseActor(ref(req.actorRef), ctx.signal)),
    })),
    resumeActor: wrap(async (req, ctx) => ({
      actor: await actorToWire(ctx, await cp.resumeActor(ref(req.actorRef), req.boot, ctx.signal)),
    })),
    deleteActor: wrap(async (req) => {
      await cp.deleteActor(ref(req.actorRef));
      return {};
    }),
    listWorkers: wrap(async () => ({ workers: (await cp.listWorkers()).map(workerToWire) })),
    listActors: wrap(async (req, ctx) => {
      const page = await cp.listActors(req.pageSize, req.pageToken, req.atespace);
      return { actors: await actorsFor(ctx, page.actors), nextPageToken: page.nextPageToken };
    }),
    createAtespace: wrap(async (req) => ({
      atespace: atespaceToWire(await cp.createAtespace(req.name)),
    })),
    getAtespace: wrap(async (req) => ({
      atespace: atespaceToWire(await cp.getAtespace(req.name)),
    })),
    listAtespaces: wrap(async () => ({
      atespaces: (await cp.listAtespaces()).map(atespaceToWire),
    })),
    deleteAtespace: wrap(async (req) => {
      await cp.deleteAtespace(req.name);
      return {};
    }),
    createSnapshotTag: wrap(async (req, ctx) => ({
      snapshotTag: snapshotTagToWire(
        await cp.snapshotTags.create(
          req.tagRef,
          req.actorRef,
          policyFromWire(req.policy),
          ctx.signal,
        ),
      ),
    })),
    getSnapshotTag: wrap(async (req) => ({
      snapshotTag: snapshotTagToWire(await cp.snapshotTags.get(req.tagRef)),
    })),
    listSnapshotTags: wrap(async (req) => ({
      snapshotTags: (await cp.snapshotTags.list(req.atespace)).map(snapshotTagToWire),
    })),
    deleteSnapshotTag: wrap(async (req) => {
      await cp.snapshotTags.delete(req.tagRef);
      return {};
    }),
    debugClear: wrap(async () => {
      await cp.debugClear();
      return {};
    }),
    async *watchActors(req, ctx) {
      try {
        const events = cp.watchActors({
          ...(req.atespace ? { atespace: req.atespace } : {}),
          ...(req.after ? { after: req.after } : {}),
          signal: ctx.signal,
          caller: callerOf(ctx),
        });
        for await (const e of events) yield await eventToWire(ctx, e);
      } catch (err) {
        throw toConnectError(err);
      }
    },
    reportActivity: wrap(async (req, ctx) => {
      await cp.reportActivity(
        {
          routerId: req.routerId,
          sequence: Number(req.sequence),
          final: req.final,
          actors: req.actors.map((a) => ({
            atespace: a.actorRef?.atespace ?? "",
            name: a.actorRef?.name ?? "",
            inFlight: a.inFlight,
            ...(a.idleMillis !== undefined ? { idleMillis: Number(a.idleMillis) } : {}),
            version: Number(a.version),
            waiting: a.waiting,
          })),
        },
        callerOf(ctx),
      );
      return {};
    }),
  };
}

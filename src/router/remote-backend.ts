import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { fromConnectError } from "../errors/connect.ts";
import { AteError, Code } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import { isWorkerAddress } from "../node/index.ts";
import {
  Actor_Status,
  Actor_Tier,
  ActorEvent_Type,
  type Actor as ActorMsg,
  Control,
} from "../proto/gen/ateapi/control_pb.ts";
import type { ActorStatus } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import {
  type ActivityReport,
  type ActorChange,
  httpPortAnnotation,
  type RoutedActor,
  type RouterBackend,
  type WatchHandler,
} from "./backend.ts";

export interface RemoteBackendOptions {
  /** The Control API: over HTTP with a router token (`ate router`), or in process (`ate up`). */
  transport: Transport;
  /** Where ActorTemplates are read (their HTTP port): the API's REST, or the store in process. */
  templates: Pick<ResourceStore, "get">;
  /**
   * Worker addresses that may be connected to directly (workers of nodes without an entry
   * point). Default: ate's worker addresses only (isWorkerAddress: 169.254.0.0/16), so a
   * record naming anything else (this host's loopback, a private service) is never reached.
   */
  directAllowed?: (address: string) => boolean;
  /** Templates are read again after this long. Default 5 s. */
  templateCacheMs?: number;
  /** A watch that sends nothing this long (the server sends a heartbeat every 10 s) is redone. Default 30 s. */
  watchIdleMs?: number;
  /** Reconnection delays grow from this... Default 100 ms. */
  backoffMinMs?: number;
  /** ...to this. Default 5 s. */
  backoffMaxMs?: number;
  logger?: Logger;
}

const statusFromWire: Record<Actor_Status, ActorStatus | undefined> = {
  [Actor_Status.UNSPECIFIED]: undefined,
  [Actor_Status.RESUMING]: "RESUMING",
  [Actor_Status.RUNNING]: "RUNNING",
  [Actor_Status.SUSPENDING]: "SUSPENDING",
  [Actor_Status.SUSPENDED]: "SUSPENDED",
  [Actor_Status.PAUSING]: "PAUSING",
  [Actor_Status.PAUSED]: "PAUSED",
};

/** The Control API's Actor as the router's RoutedActor. */
export function routedFromWire(a: ActorMsg): RoutedActor {
  const status = statusFromWire[a.status];
  if (!status)
    throw new AteError(Code.Internal, `actor ${a.atespace}/${a.actorId} came without a status`);
  return {
    atespace: a.atespace,
    actorId: a.actorId,
    version: Number(a.version),
    status,
    templateNamespace: a.actorTemplateNamespace,
    templateName: a.actorTemplateName,
    ...(a.tier === Actor_Tier.FROZEN ? { frozen: true } : {}),
    ...(a.ateomPodName
      ? {
          worker: {
            name: a.ateomPodName,
            address: a.ateomPodIp,
            ...(a.workerEntry ? { entry: a.workerEntry } : {}),
            ...(a.workerEntry && a.workerEntryToken ? { entryToken: a.workerEntryToken } : {}),
          },
        }
      : {}),
  };
}

/**
 * The router's backend on the Control API (any connect Transport): GetActor and ResumeActor,
 * ReportActivity, and WatchActors followed for good — listed afresh on the first connect and
 * when the control plane no longer keeps the changes since the last cursor (OUT_OF_RANGE),
 * continued from the cursor otherwise, reconnected with growing delays, and redone when it
 * goes silent past its heartbeats.
 */
export class RemoteBackend implements RouterBackend {
  private readonly client: Client<typeof Control>;
  private readonly log: Logger;
  private readonly templates = new Map<string, { port: number; at: number }>();
  readonly directAllowed: (address: string) => boolean;

  constructor(private readonly o: RemoteBackendOptions) {
    this.client = createClient(Control, o.transport);
    this.log = o.logger ?? silentLogger;
    this.directAllowed = o.directAllowed ?? isWorkerAddress;
  }

  async getActor(atespace: string, actor: string): Promise<RoutedActor> {
    return this.call(async () =>
      routedFromWire(
        (await this.client.getActor({ actorRef: { atespace, name: actor } })).actor as ActorMsg,
      ),
    );
  }

  async resumeActor(atespace: string, actor: string): Promise<RoutedActor> {
    return this.call(async () =>
      routedFromWire(
        (await this.client.resumeActor({ actorRef: { atespace, name: actor } })).actor as ActorMsg,
      ),
    );
  }

  async actorPort(actor: RoutedActor): Promise<number> {
    const key = `${actor.templateNamespace}/${actor.templateName}`;
    const cached = this.templates.get(key);
    if (cached && Date.now() - cached.at < (this.o.templateCacheMs ?? 5000)) return cached.port;
    const t = await this.o.templates.get(
      ActorTemplateType,
      actor.templateNamespace,
      actor.templateName,
    );
    const port =
      Number(t.metadata.annotations?.[httpPortAnnotation]) ||
      t.spec.containers?.find((c) => c.readyz)?.readyz?.httpGet.port ||
      80;
    this.templates.set(key, { port, at: Date.now() });
    if (this.templates.size > 10_000)
      this.templates.delete(this.templates.keys().next().value as string);
    return port;
  }

  async reportActivity(r: ActivityReport, signal?: AbortSignal): Promise<void> {
    await this.call(() =>
      this.client.reportActivity(
        {
          routerId: r.routerId,
          sequence: BigInt(r.sequence),
          final: r.final ?? false,
          actors: r.actors.map((a) => ({
            actorRef: { atespace: a.atespace, name: a.actor },
            inFlight: a.inFlight,
            ...(a.idleMs !== undefined ? { idleMillis: BigInt(Math.floor(a.idleMs)) } : {}),
            version: BigInt(a.version),
            waiting: a.waiting,
          })),
        },
        signal ? { signal } : {},
      ),
    );
  }

  async watch(handler: WatchHandler, signal: AbortSignal): Promise<void> {
    let cursor = "";
    let delay = this.o.backoffMinMs ?? 100;
    while (!signal.aborted) {
      const attempt = new AbortController();
      const stop = () => attempt.abort();
      signal.addEventListener("abort", stop, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const alive = () => {
        clearTimeout(idle);
        idle = setTimeout(stop, this.o.watchIdleMs ?? 30_000);
      };
      // Listing afresh: the list, and the changes that catch up with it, go in at SYNCED.
      let listing: RoutedActor[] | undefined = cursor ? undefined : [];
      let catchUp: ActorChange[] = [];
      try {
        alive();
        const events = this.client.watchActors({ after: cursor }, { signal: attempt.signal });
        for await (const e of events) {
          alive();
          if (e.type === ActorEvent_Type.SYNCED) {
            cursor = e.cursor;
            if (listing) handler.reset(listing);
            for (const c of catchUp) handler.change(c);
            listing = undefined;
            catchUp = [];
            handler.live(true);
            delay = this.o.backoffMinMs ?? 100;
            continue;
          }
          const actor = e.actor as ActorMsg;
          if (listing && !e.cursor) {
            listing.push(routedFromWire(actor));
            continue;
          }
          const change: ActorChange =
            e.type === ActorEvent_Type.DELETED
              ? { type: "deleted", atespace: actor.atespace, actorId: actor.actorId }
              : { type: "put", actor: routedFromWire(actor) };
          if (listing) {
            catchUp.push(change); // the cursor moves only at SYNCED: a break relists
          } else {
            handler.change(change);
            cursor = e.cursor;
          }
        }
        throw new AteError(Code.Unavailable, "the watch ended");
      } catch (err) {
        handler.live(false);
        if (signal.aborted) break;
        const e = fromConnectError(err);
        if (e.code === Code.OutOfRange) cursor = ""; // list again
        this.log.warn("actor watch broken; reconnecting", { error: e.message, inMs: delay });
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.o.backoffMaxMs ?? 5000);
      } finally {
        clearTimeout(idle);
        signal.removeEventListener("abort", stop);
      }
    }
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw fromConnectError(err);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

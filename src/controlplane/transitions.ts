import type { Clock } from "../clock/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import type { ActorIdentity } from "../node/index.ts";
import type { Actor, Records } from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { NodeDirectory } from "./nodes.ts";

/** What every lifecycle transition (resume, checkpoint, stop) works with. */
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
  /** Issues each actor's own token at every start (src/auth's ActorTokens); absent: none. */
  actorTokens?: ActorTokenIssuer;
}

/** Issues an actor's token for its next start, revoking the one before; its text. */
export interface ActorTokenIssuer {
  issue(actor: { atespace: string; actorId: string; createdAt: string }): Promise<string>;
  /** Forgets the actor's token (the actor is deleted). */
  revoke(atespace: string, actorId: string): Promise<void>;
  /**
   * Forgets the actor's token if `stopped()`, asked after the token is read, says the actor
   * runs nowhere, and no start replaced the token meanwhile (snapshot tags: its memory is
   * about to run as other actors). True when one was forgotten.
   */
  revokeWhileStopped(
    atespace: string,
    actorId: string,
    stopped: () => Promise<boolean>,
  ): Promise<boolean>;
}

/** What the control plane does around transitions besides the records (see activity.ts). */
export interface ActorHooks {
  /**
   * Called once the actor is marked SUSPENDING or PAUSING, before its checkpoint starts:
   * waits (bounded, never failing) until the routers, which see the mark, have no request to
   * it under way.
   */
  beforeCheckpoint(actor: Actor): Promise<void>;
  /**
   * Called once the actor is marked frozen, before its sandbox is paused: true once every
   * router has seen the mark with no request to it under way (they thaw before forwarding
   * from then on); false when some still had requests (bounded), and it is not frozen.
   * Absent: nothing to wait for.
   */
  beforeFreeze?(actor: Actor): Promise<boolean>;
  /** Called after an actor's status changed (running somewhere, or suspended/paused). */
  changed(actor: Actor): void;
}

export const noHooks: ActorHooks = { beforeCheckpoint: async () => {}, changed: () => {} };

export const busy = (a: Actor) =>
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

/** The mark a transition puts on the actor: who runs it, and when the reconciler may take over. */
export function transitionMark(
  d: LifecycleDeps,
  op: "resume" | "suspend" | "pause",
  worker: string,
): NonNullable<Actor["transition"]> {
  return {
    op,
    owner: d.owner,
    expiresAt: d.clock.now().getTime() + d.transitionTimeoutMs,
    worker,
  };
}

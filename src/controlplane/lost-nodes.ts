import type { Clock } from "../clock/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import {
  type Actor,
  type ActorExit,
  atLastExternalSnapshot,
  type NodeRecord,
  type Records,
  type Worker,
  withSnapshot,
} from "../records/index.ts";
import { committedSnapshot } from "../snapshots/index.ts";

export interface LostNodesDeps {
  records: Records;
  clock: Clock;
  logger: Logger;
  /** A Ready node whose last heartbeat is older than this is lost. */
  lostAfterMs: number;
}

/** Writes that lost a race (the record changed, or is gone): looked at again on the next pass. */
const raced = (err: unknown) => isAteError(err, Code.Aborted) || isAteError(err, Code.NotFound);

/**
 * Dead nodes. A pass declares every Ready node whose last heartbeat is older than lostAfterMs
 * Lost — by compare-and-set on its record, so of two control planes only one does it, once —
 * then releases every Lost node: the actors RUNNING, PAUSED (snapshot on it) or in an expired
 * transition on it go back to SUSPENDED at their last committed EXTERNAL snapshot (none: they
 * start from the golden one) with reason NodeLost, and its Worker records are removed.
 *
 * Each release step is one atomic commit that also compare-and-sets the node's record (and
 * names a removed worker in its goneWorkers), so a node that registers again stops its release
 * at once and hears of exactly the workers removed (staleWorkers). What loses a race, or is in
 * a transition that has not expired, is looked at again by the next pass.
 *
 * Heartbeat times are written by the control plane that received them, with its clock, and
 * compared with the judging control plane's clock: control planes' clocks are assumed to agree
 * (NTP) within a small part of lostAfterMs.
 */
export class LostNodes {
  /** Lost nodes (`name@lostAt`) this process has released completely: not scanned again. */
  private readonly released = new Set<string>();

  constructor(private readonly d: LostNodesDeps) {}

  /** Declares nodes lost and releases every Lost node; returns the nodes it declared lost. */
  async pass(): Promise<string[]> {
    const now = this.d.clock.now();
    const declared: string[] = [];
    for (const node of await this.d.records.listNodes()) {
      if (node.state !== "Ready" || now.getTime() - node.heartbeatAt <= this.d.lostAfterMs)
        continue;
      if (await this.declare(node, now)) declared.push(node.name);
    }
    const lost = (await this.d.records.listNodes()).filter(
      (n) => n.state === "Lost" && !this.released.has(releasedKey(n)),
    );
    if (lost.length) await this.release(lost);
    return declared;
  }

  private async declare(node: NodeRecord, now: Date): Promise<boolean> {
    try {
      await this.d.records.putNode({
        ...node,
        state: "Lost",
        lostAt: now.toISOString(),
        goneWorkers: [],
      });
    } catch (err) {
      if (raced(err)) return false; // a heartbeat came, or another control plane declared it
      throw err;
    }
    this.d.logger.warn("node lost: no heartbeat; moving its actors back to their snapshots", {
      node: node.name,
      lastHeartbeat: new Date(node.heartbeatAt).toISOString(),
      lostAfterMs: this.d.lostAfterMs,
    });
    return true;
  }

  private async release(nodes: readonly NodeRecord[]): Promise<void> {
    const current = new Map(nodes.map((n) => [n.name, n]));
    const left = new Map(nodes.map((n) => [n.name, 0]));
    const workers = await this.d.records.listWorkers();
    for (const w of workers) {
      const node = current.get(w.node);
      if (node) await this.releaseWorker(node, w, current, left);
    }
    let token = "";
    do {
      const page = await this.d.records.listActors({ pageToken: token });
      for (const actor of page.actors) {
        // Actors the worker records did not lead to: PAUSED with their snapshot on a lost
        // node, or holding a worker there whose record is gone.
        const node = current.get(actor.worker?.node ?? "") ?? holdingSnapshot(actor, current);
        if (!node) continue;
        const moved = this.busy(actor) ? undefined : await this.movedBack(node, actor);
        if (!moved) bump(left, node.name);
        else if (await this.step(node, { actor: moved }, current, left)) this.logMoved(node, moved);
      }
      token = page.nextPageToken;
    } while (token);
    for (const n of nodes)
      if (current.has(n.name) && left.get(n.name) === 0) this.released.add(releasedKey(n));
  }

  /** Removes one worker record of a lost node, moving the actor it holds back. */
  private async releaseWorker(
    node: NodeRecord,
    w: Worker,
    current: Map<string, NodeRecord>,
    left: Map<string, number>,
  ): Promise<void> {
    const actor = w.actor
      ? await this.d.records.getActor(w.actor.atespace, w.actor.actorId).catch((err) => {
          if (isAteError(err, Code.NotFound)) return undefined;
          throw err;
        })
      : undefined;
    const holder =
      actor?.worker?.name === w.name && actor.worker.node === node.name ? actor : undefined;
    const moved = holder && !this.busy(holder) ? await this.movedBack(node, holder) : undefined;
    if (holder && !moved) {
      bump(left, node.name);
      return;
    }
    if (await this.step(node, { worker: w, ...(moved ? { actor: moved } : {}) }, current, left))
      if (moved) this.logMoved(node, moved);
  }

  /**
   * One atomic release step (see the class). On a lost race the node's record is read again:
   * still Lost, the step is left for the next pass; registered again, its release stops.
   */
  private async step(
    node: NodeRecord,
    change: { worker?: Worker; actor?: Actor },
    current: Map<string, NodeRecord>,
    left: Map<string, number>,
  ): Promise<boolean> {
    try {
      current.set(node.name, await this.d.records.releaseFromNode(node, change));
      return true;
    } catch (err) {
      if (!raced(err)) throw err;
    }
    const fresh = await this.d.records.getNode(node.name);
    if (fresh?.state === "Lost" && fresh.lostAt === node.lostAt) {
      current.set(node.name, fresh);
      bump(left, node.name);
    } else current.delete(node.name);
    return false;
  }

  /** In a transition that has not expired: its owner may still finish or roll it back. */
  private busy(actor: Actor): boolean {
    return !!actor.transition && actor.transition.expiresAt > this.d.clock.now().getTime();
  }

  /**
   * The actor back at its last committed external snapshot, the reason recorded. A suspend
   * that expired may have committed its snapshot (manifest written) before the node went:
   * that one is the last then. Undefined when its storage cannot be asked now.
   */
  private async movedBack(node: NodeRecord, actor: Actor): Promise<Actor | undefined> {
    const pending = actor.transition?.op === "suspend" ? actor.inProgressSnapshot : undefined;
    let committed: Awaited<ReturnType<typeof committedSnapshot>>;
    try {
      committed = pending ? await committedSnapshot(pending) : undefined;
    } catch (err) {
      this.d.logger.warn("cannot tell whether a lost node's actor's snapshot was committed", {
        actor: `${actor.atespace}/${actor.actorId}`,
        snapshot: pending,
        error: String(err),
      });
      return undefined;
    }
    const info =
      committed && pending
        ? { type: "EXTERNAL" as const, scope: committed.scope, uri: pending }
        : undefined;
    const back = atLastExternalSnapshot(info ? { ...actor, ...withSnapshot(actor, info) } : actor);
    const to = back.latestSnapshot
      ? `its last external snapshot ${back.latestSnapshot.uri}`
      : "no snapshot (it had none off the node): it starts from its template's golden snapshot";
    const lastExit: ActorExit = {
      reason: "NodeLost",
      message: `node ${node.name} stopped heartbeating (last heartbeat ${new Date(node.heartbeatAt).toISOString()}) and was declared lost; the actor went back to ${to}`,
      at: node.lostAt ?? this.d.clock.now().toISOString(),
    };
    return { ...back, lastExit };
  }

  private logMoved(node: NodeRecord, moved: Actor) {
    this.d.logger.warn("actor moved off a lost node, back at its last external snapshot", {
      node: node.name,
      actor: `${moved.atespace}/${moved.actorId}`,
      snapshot: moved.latestSnapshot?.uri ?? "none (it starts from its template's golden snapshot)",
    });
  }
}

function holdingSnapshot(actor: Actor, lost: Map<string, NodeRecord>): NodeRecord | undefined {
  const s = actor.latestSnapshot;
  if (s?.type !== "LOCAL") return undefined;
  for (const name of s.nodes ?? []) {
    const node = lost.get(name);
    if (node) return node;
  }
  return undefined;
}

const releasedKey = (n: NodeRecord) => `${n.name}@${n.lostAt ?? ""}`;

function bump(counts: Map<string, number>, key: string) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

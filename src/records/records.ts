import { isDNS1123Label } from "../api/names/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { RecordStore, RecordWrite } from "./store.ts";
import {
  type Actor,
  type Atespace,
  actorKey,
  type NodeRecord,
  nodeKey,
  type Worker,
  workerKey,
} from "./types.ts";

export interface ActorPage {
  actors: Actor[];
  /** Opaque; empty when there is nothing more. */
  nextPageToken: string;
}

export const maxPageSize = 1000;

export interface Orphans {
  atespace: string;
  actorId: string;
  deletedAt: string;
  snapshots: string[];
}

/** Checks an id the way the Control API does: a DNS-1123 label, naming the field. */
export function checkLabel(field: string, value: string): void {
  const problems = isDNS1123Label(value);
  if (problems.length)
    throw new AteError(
      Code.InvalidArgument,
      `${field}: Invalid value: ${JSON.stringify(value)}: ${problems.join("; ")}`,
    );
}

/**
 * Actor, Worker and Atespace records over any RecordStore. Every change is a compare-and-set
 * on the record's version; claiming a worker for an actor writes both in one atomic commit,
 * so two resumes never take one worker and an actor never holds two.
 */
export class Records {
  constructor(readonly store: RecordStore) {}

  // --- atespaces ---------------------------------------------------------------------------

  async createAtespace(name: string, now = new Date()): Promise<Atespace> {
    checkLabel("name", name);
    const value = { name, createdAt: now.toISOString() };
    const [version] = await this.store
      .commit([{ kind: "atespace", key: name, expectVersion: 0, value }])
      .catch((err) => {
        throw rename(err, `atespace ${name} already exists`);
      });
    return { ...value, version: version as number };
  }

  async getAtespace(name: string): Promise<Atespace> {
    const a = (await this.store.get("atespace", name)) as Atespace | undefined;
    if (!a) throw new AteError(Code.NotFound, `atespace ${name} not found`);
    return a;
  }

  async listAtespaces(): Promise<Atespace[]> {
    return (await this.all("atespace", "")) as unknown as Atespace[];
  }

  /** Only an empty atespace can be deleted. */
  async deleteAtespace(name: string): Promise<void> {
    const a = await this.getAtespace(name);
    const n = await this.store.count("actor", `${name}/`);
    if (n > 0)
      throw new AteError(
        Code.FailedPrecondition,
        `atespace ${name} still holds ${n} actor(s): delete them first`,
      );
    // Tags hold copies of its actors' memory: left behind, they would be the next owner's of
    // this name (a tag's create bumps the atespace's version, so a racing one loses here).
    const tags = await this.store.count("snapshottag", `${name}/`);
    if (tags > 0)
      throw new AteError(
        Code.FailedPrecondition,
        `atespace ${name} still holds ${tags} snapshot tag(s): delete them first (ate delete snapshottag NAME -a ${name})`,
      );
    await this.store.commit([{ kind: "atespace", key: name, expectVersion: a.version }]);
  }

  // --- actors ------------------------------------------------------------------------------

  async getActor(atespace: string, actorId: string): Promise<Actor> {
    const a = (await this.store.get("actor", actorKey(atespace, actorId))) as Actor | undefined;
    if (!a) throw new AteError(Code.NotFound, `actor ${atespace}/${actorId} not found`);
    return a;
  }

  /** Stores a new actor (version 1); the atespace must exist. */
  async createActor(actor: Omit<Actor, "version">): Promise<Actor> {
    checkLabel("actor_ref.atespace", actor.atespace);
    checkLabel("actor_ref.name", actor.actorId);
    // The atespace's version is bumped with each create, so a concurrent delete of the
    // atespace loses; concurrent creates in one atespace retry on that bump.
    for (let attempt = 0; ; attempt++) {
      const space = await this.getAtespace(actor.atespace).catch(() => undefined);
      if (!space)
        throw new AteError(
          Code.FailedPrecondition,
          `atespace ${actor.atespace} does not exist: create it first`,
        );
      const writes: RecordWrite[] = [
        {
          kind: "actor",
          key: actorKey(actor.atespace, actor.actorId),
          expectVersion: 0,
          value: { ...actor },
        },
        {
          kind: "atespace",
          key: actor.atespace,
          expectVersion: space.version,
          value: { name: space.name, createdAt: space.createdAt },
        },
      ];
      try {
        const [version] = await this.store.commit(writes);
        return { ...actor, version: version as number };
      } catch (err) {
        const e = AteError.from(err);
        if (
          e.code === Code.Aborted &&
          e.message.startsWith(`atespace ${actor.atespace} `) &&
          attempt < 50
        )
          continue;
        throw rename(err, `actor ${actor.atespace}/${actor.actorId} already exists`);
      }
    }
  }

  /** Compare-and-set on actor.version; returns the stored actor with its new version. */
  async updateActor(actor: Actor): Promise<Actor> {
    const [version] = await this.store.commit([actorWrite(actor)]);
    return { ...actor, version: version as number };
  }

  /** Deletes the actor; its snapshots are recorded as orphans in the same step, for a GC. */
  async deleteActor(actor: Actor, now = new Date()): Promise<void> {
    const writes: RecordWrite[] = [
      { kind: "actor", key: actorKey(actor.atespace, actor.actorId), expectVersion: actor.version },
    ];
    if (actor.snapshots?.length) {
      const key = `${actorKey(actor.atespace, actor.actorId)}/${now.toISOString()}`;
      writes.push({
        kind: "orphans",
        key,
        expectVersion: 0,
        value: {
          atespace: actor.atespace,
          actorId: actor.actorId,
          deletedAt: now.toISOString(),
          snapshots: actor.snapshots,
        },
      });
    }
    await this.store.commit(writes);
  }

  /** Snapshots of deleted actors, for a garbage collector. */
  async orphanedSnapshots(): Promise<Orphans[]> {
    return (await this.all("orphans", "")) as unknown as Orphans[];
  }

  /** Pages through actors (all, or one atespace's) in a stable order with opaque tokens. */
  async listActors(
    options: { atespace?: string; pageSize?: number; pageToken?: string } = {},
  ): Promise<ActorPage> {
    const size = options.pageSize ?? 0;
    if (!Number.isInteger(size) || size < 0)
      throw new AteError(
        Code.InvalidArgument,
        `page_size: Invalid value: ${size}: must be 0 (default ${maxPageSize}) or positive`,
      );
    const limit = Math.min(size || maxPageSize, maxPageSize);
    if (options.atespace) checkLabel("atespace", options.atespace);
    const prefix = options.atespace ? `${options.atespace}/` : "";
    const after = options.pageToken ? decodeToken(options.pageToken, prefix) : undefined;
    const page = await this.store.list("actor", {
      prefix,
      limit,
      ...(after !== undefined ? { after } : {}),
    });
    return {
      actors: page.items as unknown as Actor[],
      nextPageToken: page.last ? encodeToken(page.last, prefix) : "",
    };
  }

  // --- workers -----------------------------------------------------------------------------

  async getWorker(namespace: string, name: string): Promise<Worker> {
    const w = (await this.store.get("worker", workerKey(namespace, name))) as Worker | undefined;
    if (!w) throw new AteError(Code.NotFound, `worker ${namespace}/${name} not found`);
    return w;
  }

  async listWorkers(): Promise<Worker[]> {
    return (await this.all("worker", "")) as unknown as Worker[];
  }

  /** Creates (version 0) or updates a worker record by compare-and-set. */
  async putWorker(worker: Worker): Promise<Worker> {
    const [version] = await this.store.commit([workerWrite(worker)]);
    return { ...worker, version: version as number };
  }

  async deleteWorker(worker: Worker): Promise<void> {
    await this.store.commit([
      {
        kind: "worker",
        key: workerKey(worker.namespace, worker.name),
        expectVersion: worker.version,
      },
    ]);
  }

  /**
   * One step of releasing a lost node, atomic with a compare-and-set on the node's record (so
   * it fails once the node changed, e.g. registered again): removes a worker record of the
   * node, naming it in the node's goneWorkers, and/or updates an actor. Returns the node
   * record as written.
   */
  async releaseFromNode(
    node: NodeRecord,
    change: { worker?: Worker; actor?: Actor },
  ): Promise<NodeRecord> {
    const { worker, actor } = change;
    const next: NodeRecord = worker
      ? { ...node, goneWorkers: [...new Set([...(node.goneWorkers ?? []), worker.name])] }
      : node;
    const { version, ...value } = next;
    const writes: RecordWrite[] = [
      { kind: "node", key: nodeKey(node.name), expectVersion: version, value },
    ];
    if (worker)
      writes.push({
        kind: "worker",
        key: workerKey(worker.namespace, worker.name),
        expectVersion: worker.version,
      });
    if (actor) writes.push(actorWrite(actor));
    const [v] = await this.store.commit(writes);
    return { ...next, version: v as number };
  }

  /**
   * Assigns a free worker to an actor and updates the actor, in one atomic step. Fails with
   * ABORTED when either changed since it was read (e.g. another resume took the worker).
   */
  async claimWorker(worker: Worker, actor: Actor): Promise<{ worker: Worker; actor: Actor }> {
    if (worker.actor)
      throw new AteError(
        Code.Aborted,
        `worker ${worker.namespace}/${worker.name} is already assigned to ${worker.actor.atespace}/${worker.actor.actorId}`,
      );
    const assigned: Worker = {
      ...worker,
      actor: {
        atespace: actor.atespace,
        templateNamespace: actor.templateNamespace,
        templateName: actor.templateName,
        actorId: actor.actorId,
      },
    };
    const [wv, av] = await this.store.commit([workerWrite(assigned), actorWrite(actor)]);
    return {
      worker: { ...assigned, version: wv as number },
      actor: { ...actor, version: av as number },
    };
  }

  /** Frees a worker and updates its actor, in one atomic step. */
  async releaseWorker(worker: Worker, actor: Actor): Promise<{ worker: Worker; actor: Actor }> {
    const { actor: _gone, ...free } = worker;
    const [wv, av] = await this.store.commit([workerWrite(free), actorWrite(actor)]);
    return {
      worker: { ...free, version: wv as number },
      actor: { ...actor, version: av as number },
    };
  }

  // --- nodes -------------------------------------------------------------------------------

  async getNode(name: string): Promise<NodeRecord | undefined> {
    return (await this.store.get("node", nodeKey(name))) as NodeRecord | undefined;
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await this.all("node", "")) as unknown as NodeRecord[];
  }

  /**
   * Creates (version 0) or updates a node record by compare-and-set: ABORTED when it changed
   * since it was read (e.g. a heartbeat, or another control plane declaring it lost).
   */
  async putNode(node: NodeRecord): Promise<NodeRecord> {
    const { version, ...value } = node;
    const [v] = await this.store.commit([
      { kind: "node", key: nodeKey(node.name), expectVersion: version, value },
    ]);
    return { ...node, version: v as number };
  }

  private async all(
    kind: "atespace" | "worker" | "orphans" | "node",
    prefix: string,
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list(kind, {
        prefix,
        limit: maxPageSize,
        ...(after !== undefined ? { after } : {}),
      });
      out.push(...page.items);
      if (!page.last) return out;
      after = page.last;
    }
  }
}

function actorWrite(actor: Actor): RecordWrite {
  const { version, ...value } = actor;
  return {
    kind: "actor",
    key: actorKey(actor.atespace, actor.actorId),
    expectVersion: version,
    value,
  };
}

function workerWrite(worker: Worker): RecordWrite {
  const { version, ...value } = worker;
  return {
    kind: "worker",
    key: workerKey(worker.namespace, worker.name),
    expectVersion: version,
    value,
  };
}

function rename(err: unknown, alreadyExists: string): AteError {
  const e = AteError.from(err);
  return e.code === Code.AlreadyExists ? new AteError(Code.AlreadyExists, alreadyExists) : e;
}

/** Page tokens carry the last key and the listing they belong to, so they cannot be mixed up. */
function encodeToken(last: string, prefix: string): string {
  return Buffer.from(JSON.stringify({ k: last, p: prefix })).toString("base64url");
}

function decodeToken(token: string, prefix: string): string {
  try {
    const { k, p } = JSON.parse(Buffer.from(token, "base64url").toString()) as {
      k: string;
      p: string;
    };
    if (typeof k === "string" && p === prefix) return k;
  } catch {
    // fall through
  }
  throw new AteError(
    Code.InvalidArgument,
    "page_token: Invalid value: not a token from this listing; start again without one",
  );
}

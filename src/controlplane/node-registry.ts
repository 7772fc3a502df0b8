import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type {
  NodeAgentApi,
  NodeRegistration,
  NodeRegistrationResult,
  NodeRegistryApi,
} from "../node/index.ts";
import type { NodeRecord, Records } from "../records/index.ts";
import { LostNodes } from "./lost-nodes.ts";
import { checkRegistration } from "./node-registration.ts";
import type { NodeDirectory, NodeInfo } from "./nodes.ts";

export interface NodeRegistryOptions {
  records: Records;
  /**
   * A client of a node's API at `record.url`, presenting `record.callSecret`. Called once per
   * (name, url, callSecret): a node that restarts with a new secret gets a new client.
   */
  dial: (record: NodeRecord) => NodeAgentApi;
  clock?: Clock;
  logger?: Logger;
  /** How often nodes must heartbeat. Default 2 s. */
  heartbeatMs?: number;
  /** A Ready node whose last heartbeat is older than this is declared lost. Default 10 s. */
  lostAfterMs?: number;
}

/** The registry's timing defaults (docs/cluster.md states them). */
export const nodeRegistryDefaults = { heartbeatMs: 2000, lostAfterMs: 10_000 } as const;

/** Compare-and-set retries of one registration or heartbeat racing others on the same record. */
const maxAttempts = 5;

/**
 * Node membership over the records store, shared by every control plane: nodes register and
 * heartbeat (NodeRegistryApi), and the control plane finds their agents by name
 * (NodeDirectory). A node that misses heartbeats for lostAfterMs is declared lost by
 * `declareLostNodes` (the controllers' pass on the leader; see LostNodes).
 */
export class NodeRegistry implements NodeRegistryApi, NodeDirectory {
  readonly heartbeatMs: number;
  readonly lostAfterMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lost: LostNodes;
  private readonly dialed = new Map<string, { key: string; agent: NodeAgentApi }>();

  constructor(private readonly o: NodeRegistryOptions) {
    this.heartbeatMs = o.heartbeatMs ?? nodeRegistryDefaults.heartbeatMs;
    this.lostAfterMs = o.lostAfterMs ?? nodeRegistryDefaults.lostAfterMs;
    if (!Number.isInteger(this.heartbeatMs) || this.heartbeatMs < 10)
      throw new AteError(
        Code.InvalidArgument,
        `heartbeatMs: Invalid value: ${this.heartbeatMs}: must be an integer of at least 10`,
      );
    if (!Number.isInteger(this.lostAfterMs) || this.lostAfterMs < 2 * this.heartbeatMs)
      throw new AteError(
        Code.InvalidArgument,
        `lostAfterMs: Invalid value: ${this.lostAfterMs}: must be an integer of at least twice heartbeatMs (${2 * this.heartbeatMs}), so one late heartbeat does not lose a node`,
      );
    this.clock = o.clock ?? systemClock;
    this.log = o.logger ?? silentLogger;
    this.lost = new LostNodes({
      records: o.records,
      clock: this.clock,
      logger: this.log,
      lostAfterMs: this.lostAfterMs,
    });
  }

  /**
   * Registers a node (again): Ready, with a fresh heartbeat and this call secret. A lost node
   * comes back Ready; it is told the workers it must tear down (`staleWorkers`): those whose
   * records were removed while it was lost and those whose actors moved on. A name still held
   * by a heartbeating node at another URL is refused (two hosts given one --name).
   */
  async register(
    registration: NodeRegistration,
    callSecret: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<NodeRegistrationResult> {
    checkRegistration(registration, callSecret);
    const name = registration.name;
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const now = this.clock.now();
      const old = await this.o.records.getNode(name);
      if (old && this.live(old, now) && old.url !== registration.url)
        throw new AteError(
          Code.AlreadyExists,
          `node ${name} is already registered from ${old.url} and heartbeating (last ${Math.round((now.getTime() - old.heartbeatAt) / 1000)}s ago): give this node another name, or stop the other one (a node is lost ${this.lostAfterMs / 1000}s after its last heartbeat)`,
        );
      // Read before the write: a release step racing this registration changes the node's
      // record, so the write below fails and this is read again.
      const stale = [...(old?.goneWorkers ?? []), ...(await this.staleClaims(name))];
      try {
        await this.o.records.putNode({
          ...fields(registration),
          version: old?.version ?? 0,
          heartbeatAt: now.getTime(),
          state: "Ready",
          registeredAt: now.toISOString(),
          callSecret,
        });
      } catch (err) {
        const raced = isAteError(err, Code.Aborted) || isAteError(err, Code.AlreadyExists);
        if (raced && attempt < maxAttempts) continue;
        throw err;
      }
      const staleWorkers = [...new Set(stale)];
      this.log.info(old?.state === "Lost" ? "lost node registered again" : "node registered", {
        node: name,
        url: registration.url,
        arch: registration.arch,
        workers: registration.capacity.workers,
        ...(staleWorkers.length ? { staleWorkers: staleWorkers.length } : {}),
      });
      return { heartbeatMs: this.heartbeatMs, lostAfterMs: this.lostAfterMs, staleWorkers };
    }
  }

  /**
   * A Ready node's heartbeat, refreshing what it offers (caches, capacity). NOT_FOUND when it
   * is not registered, was declared lost, or registered from another URL: register again.
   */
  async heartbeat(
    registration: NodeRegistration,
    options: { signal?: AbortSignal } = {},
  ): Promise<NodeRegistrationResult> {
    checkRegistration(registration);
    const name = registration.name;
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const old = await this.o.records.getNode(name);
      if (old?.state !== "Ready" || old.url !== registration.url)
        throw new AteError(
          Code.NotFound,
          `node ${name} is not registered${old?.state === "Lost" ? ` (declared lost at ${old.lostAt})` : old ? ` from ${registration.url}` : ""}: register again`,
        );
      const { entry: _previous, ...kept } = old; // a node may drop its entry point
      try {
        await this.o.records.putNode({
          ...kept,
          ...fields(registration),
          heartbeatAt: this.clock.now().getTime(),
        });
        return { heartbeatMs: this.heartbeatMs, lostAfterMs: this.lostAfterMs, staleWorkers: [] };
      } catch (err) {
        if (isAteError(err, Code.Aborted) && attempt < maxAttempts) continue;
        throw err;
      }
    }
  }

  /** The node's agent; each call fails UNAVAILABLE, naming the node, if it is unknown or lost. */
  get(node: string): NodeAgentApi {
    return deferredAgent(() => this.agentOf(node));
  }

  /** Ready nodes (heartbeat late or not): the ones calls may reach. */
  async names(): Promise<string[]> {
    return (await this.o.records.listNodes()).filter((n) => n.state === "Ready").map((n) => n.name);
  }

  /** Live nodes: Ready, with a heartbeat within lostAfterMs. */
  async list(): Promise<NodeInfo[]> {
    const now = this.clock.now();
    return (await this.o.records.listNodes())
      .filter((n) => this.live(n, now))
      .map(({ callSecret: _s, goneWorkers: _g, ...info }) => info);
  }

  /** Declares nodes without heartbeats lost and moves their actors back (see LostNodes). */
  declareLostNodes(): Promise<string[]> {
    return this.lost.pass();
  }

  private live(n: NodeRecord, now: Date): boolean {
    return n.state === "Ready" && now.getTime() - n.heartbeatAt <= this.lostAfterMs;
  }

  private async agentOf(name: string): Promise<NodeAgentApi> {
    const r = await this.o.records.getNode(name);
    if (!r)
      throw new AteError(
        Code.Unavailable,
        `node ${name} is not registered with the control plane: start its node agent (ate node --name ${name})`,
      );
    if (r.state === "Lost")
      throw new AteError(
        Code.Unavailable,
        `node ${name} was declared lost at ${r.lostAt} (no heartbeat for ${this.lostAfterMs / 1000}s): its actors went back to their snapshots; it takes work again once it registers`,
      );
    const key = `${r.url}\n${r.callSecret}`;
    const known = this.dialed.get(name);
    if (known?.key === key) return known.agent;
    const agent = this.o.dial(r);
    this.dialed.set(name, { key, agent });
    return agent;
  }

  /** Workers of the node whose records hold an actor that is gone or moved on. */
  private async staleClaims(node: string): Promise<string[]> {
    const stale: string[] = [];
    for (const w of await this.o.records.listWorkers()) {
      if (w.node !== node || !w.actor) continue;
      const actor = await this.o.records
        .getActor(w.actor.atespace, w.actor.actorId)
        .catch((err) => {
          if (isAteError(err, Code.NotFound)) return undefined;
          throw err;
        });
      if (actor?.worker?.name !== w.name) stale.push(w.name);
    }
    return stale;
  }
}

/** The stored fields of a registration (bounded and checked before). */
function fields(r: NodeRegistration) {
  return {
    name: r.name,
    url: r.url,
    ...(r.entry ? { entry: r.entry } : {}),
    address: r.address,
    arch: r.arch,
    sandboxClasses: [...r.sandboxClasses],
    capacity: {
      workers: r.capacity.workers,
      source: r.capacity.source,
      memoryBytes: r.capacity.memoryBytes,
      cpuMillis: r.capacity.cpuMillis,
    },
    cachedAssets: [...r.cachedAssets],
    cachedImages: [...r.cachedImages],
  };
}

/** A NodeAgentApi that finds the node's agent at each call, so each call sees its state. */
function deferredAgent(agent: () => Promise<NodeAgentApi>): NodeAgentApi {
  return {
    createWorker: async (...a) => (await agent()).createWorker(...a),
    deleteWorker: async (...a) => (await agent()).deleteWorker(...a),
    listWorkers: async (...a) => (await agent()).listWorkers(...a),
    run: async (...a) => (await agent()).run(...a),
    checkpoint: async (...a) => (await agent()).checkpoint(...a),
    restore: async (...a) => (await agent()).restore(...a),
    stop: async (...a) => (await agent()).stop(...a),
    logs: (...a) =>
      (async function* () {
        yield* (await agent()).logs(...a);
      })(),
  };
}

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
import { checkNodeReach, checkRegistration, type NodeReachRules } from "./node-registration.ts";
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
  /**
   * Accept nodes at loopback URLs: only for a control plane that serves on loopback itself
   * (every node on its host). Default false: a node token must not point the control plane
   * at services of its own host.
   */
  allowLoopbackNodes?: boolean;
  /** The URL `ate up`'s own node registers; the control plane calls it in process (dial). */
  inProcessNodeUrl?: string;
  /**
   * How long a live node's re-registration with a new call secret may take to prove itself:
   * the node at its URL must answer a call made with that secret. Default 3 s.
   */
  verifyTimeoutMs?: number;
}

/** The registry's timing defaults (docs/cluster.md states them). */
export const nodeRegistryDefaults = {
  heartbeatMs: 2000,
  lostAfterMs: 10_000,
  verifyTimeoutMs: 3000,
} as const;

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
  private readonly reach: NodeReachRules;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lost: LostNodes;
  private readonly dialed = new Map<string, { key: string; agent: NodeAgentApi }>();
  /**
   * When each node's last failed (or running) new-secret check began (clock ms). One per node
   * per verifyTimeoutMs: each check opens a connection to the node, and a stolen token must
   * not make the control plane open them without end.
   */
  private readonly checks = new Map<string, number>();

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
    this.reach = {
      ...(o.allowLoopbackNodes ? { allowLoopback: true } : {}),
      ...(o.inProcessNodeUrl !== undefined ? { inProcessUrl: o.inProcessNodeUrl } : {}),
    };
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
   * by a heartbeating node at another URL is refused (two hosts given one --name); at its
   * URL with a new call secret, only once the node there answers a call with that secret (it
   * restarted), so a stolen node token cannot cut the real node off (see verifySecret).
   */
  async register(
    registration: NodeRegistration,
    callSecret: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<NodeRegistrationResult> {
    checkRegistration(registration, callSecret);
    checkNodeReach(registration, this.reach);
    const name = registration.name;
    let verified = false;
    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const now = this.clock.now();
      const old = await this.o.records.getNode(name);
      if (old && this.live(old, now) && old.url !== registration.url)
        throw new AteError(
          Code.AlreadyExists,
          `node ${name} is already registered from ${old.url} and heartbeating (last ${Math.round((now.getTime() - old.heartbeatAt) / 1000)}s ago): give this node another name, or stop the other one (a node is lost ${this.lostAfterMs / 1000}s after its last heartbeat)`,
        );
      if (old && this.live(old, now) && old.callSecret !== callSecret && !verified) {
        await this.verifySecret(registration, callSecret, options.signal);
        verified = true;
      }
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
    checkNodeReach(registration, this.reach);
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

  /**
   * A live node registering again at its URL with a new call secret: either it restarted (a
   * node makes a new secret each start) or someone else holds its token and wants the control
   * plane to call the real node with a secret it refuses. The node at the URL must answer a
   * call made with the new secret (within verifyTimeoutMs); else PERMISSION_DENIED (it
   * refused it) or UNAVAILABLE (no answer), and nothing is stored.
   */
  private async verifySecret(
    r: NodeRegistration,
    callSecret: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const timeoutMs = this.o.verifyTimeoutMs ?? nodeRegistryDefaults.verifyTimeoutMs;
    const silentIn = `${this.lostAfterMs / 1000}s after its last heartbeat`;
    const refused = (err: unknown): AteError => {
      const why = err instanceof Error ? err.message : String(err);
      if (isAteError(err, Code.Unauthenticated) || isAteError(err, Code.PermissionDenied)) {
        this.log.warn("refused a re-registration: the node does not accept its call secret", {
          node: r.name,
          url: r.url,
        });
        return new AteError(
          Code.PermissionDenied,
          `node ${r.name} is registered from ${r.url} and heartbeating, and the node there refuses the new call secret (${why}): this process is not that node, and nothing changed. If it is, stop the other one; a node silent for ${silentIn} may register anew`,
        );
      }
      return new AteError(
        Code.Unavailable,
        `node ${r.name} is registered from ${r.url} and heartbeating; registering it again with a new call secret needs the node at ${r.url} to answer a call with that secret, and it did not within ${timeoutMs / 1000}s (${why}): retry once its node API serves (or ${silentIn})`,
      );
    };
    let probe: NodeAgentApi;
    try {
      probe = this.o.dial({
        ...fields(r),
        version: 0,
        heartbeatAt: 0,
        state: "Ready",
        registeredAt: "",
        callSecret,
      });
    } catch (err) {
      throw refused(err); // not reachable from here (e.g. ate up's dial): no call was made
    }
    const now = this.clock.now().getTime();
    for (const [node, at] of this.checks) if (now - at >= timeoutMs) this.checks.delete(node);
    if (this.checks.has(r.name))
      throw new AteError(
        Code.Unavailable,
        `node ${r.name}: a registration with a new call secret was refused less than ${timeoutMs / 1000}s ago (one try per node in that time): retry in a few seconds`,
      );
    this.checks.set(r.name, now);
    try {
      await probe.listWorkers({ timeoutMs, ...(signal ? { signal } : {}) });
      this.checks.delete(r.name); // proven: the node is not held back on its next restart
    } catch (err) {
      signal?.throwIfAborted();
      throw refused(err);
    }
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
    freeze: async (...a) => (await agent()).freeze(...a),
    thaw: async (...a) => (await agent()).thaw(...a),
    listSnapshots: async (...a) => (await agent()).listSnapshots(...a),
    deleteSnapshot: async (...a) => (await agent()).deleteSnapshot(...a),
    logs: (...a) =>
      (async function* () {
        yield* (await agent()).logs(...a);
      })(),
  };
}

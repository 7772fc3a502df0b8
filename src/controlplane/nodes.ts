import { availableParallelism, totalmem } from "node:os";
import { AteError, Code } from "../errors/index.ts";
import { type NodeAgentApi, nodeArch } from "../node/index.ts";
import type { NodeRecord } from "../records/index.ts";

/** A node as the controllers and the scheduler see it: its registration, never its secret. */
export type NodeInfo = Omit<NodeRecord, "callSecret" | "goneWorkers">;

/** Finds the node agent of a node by name (in process on one machine, over RPC on many). */
export interface NodeDirectory {
  /**
   * The node's agent. Each call on it fails UNAVAILABLE, naming the node, when the node is
   * unknown or lost, so a caller's rollback covers an unreachable node like any failed call.
   */
  get(node: string): NodeAgentApi;
  /** The nodes that can be called (e.g. to gather an actor's logs from each node it ran on). */
  names(): Promise<string[]>;
  /** The live nodes: those that take work now (workers, actors), with what they offer. */
  list(): Promise<NodeInfo[]>;
}

/**
 * Node agents known by name, with no membership: for tests and compositions whose agents are
 * objects in the same process. Every node is live and offers this machine's resources;
 * `ate up` and the cluster register their nodes in a NodeRegistry instead.
 */
export class StaticNodeDirectory implements NodeDirectory {
  private readonly since = Date.now();

  constructor(private readonly nodes: Record<string, NodeAgentApi>) {}

  get(node: string): NodeAgentApi {
    const agent = this.nodes[node];
    if (!agent)
      throw new AteError(Code.Unavailable, `node ${node} is not reachable from this control plane`);
    return agent;
  }

  async names(): Promise<string[]> {
    return Object.keys(this.nodes);
  }

  async list(): Promise<NodeInfo[]> {
    return Object.keys(this.nodes).map((name) => ({
      name,
      version: 1,
      url: "",
      address: "",
      arch: nodeArch(),
      sandboxClasses: ["gvisor"],
      capacity: {
        workers: Number.MAX_SAFE_INTEGER,
        source: "no limit",
        memoryBytes: totalmem(),
        cpuMillis: availableParallelism() * 1000,
      },
      cachedAssets: [],
      cachedImages: [],
      heartbeatAt: Date.now(),
      state: "Ready",
      registeredAt: new Date(this.since).toISOString(),
    }));
  }
}

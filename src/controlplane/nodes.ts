import { AteError, Code } from "../errors/index.ts";
import type { NodeAgentApi } from "../node/index.ts";

/** Finds the node agent of a node by name (in process on one machine, over RPC on many). */
export interface NodeDirectory {
  get(node: string): NodeAgentApi;
  /** Every node's name (e.g. to gather an actor's logs from each node it ran on). */
  names(): string[];
}

/** Node agents known by name, e.g. the one embedded agent of `ate up`. */
export class StaticNodeDirectory implements NodeDirectory {
  constructor(private readonly nodes: Record<string, NodeAgentApi>) {}

  get(node: string): NodeAgentApi {
    const agent = this.nodes[node];
    if (!agent)
      throw new AteError(Code.Unavailable, `node ${node} is not reachable from this control plane`);
    return agent;
  }

  names(): string[] {
    return Object.keys(this.nodes);
  }
}

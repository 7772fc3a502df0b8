import { nodeEntryToken } from "../node/index.ts";
import type { Actor, Records } from "../records/index.ts";

/** Where routers reach a node's workers, and the secret its entry point takes. */
export interface NodeEntry {
  entry: string;
  token: string;
}

/** How long a watch stream trusts what it read of a node (unary answers always read afresh). */
const cachedMs = 1000;
const maxCached = 10_000;

/**
 * The entry points of the nodes actors run on, with their entry tokens (nodeEntryToken of the
 * call secret the node registered), for answers to routers only. The node's current
 * registration is the authority: a node that restarted has a new token (and perhaps a new
 * port); a lost or unknown node has none to give. Watch events read through a short cache,
 * so a stream of changes costs a record read per node per second at most; a router refused
 * by an entry point asks with a unary call, which reads afresh.
 */
export class NodeEntries {
  private readonly cache = new Map<string, { entry?: NodeEntry; at: number }>();

  constructor(private readonly records: Pick<Records, "getNode">) {}

  /** Node name → its entry, for the actors whose workers are reached through an entry point. */
  async of(actors: readonly Actor[], o: { cached: boolean }): Promise<Map<string, NodeEntry>> {
    const nodes = new Set<string>();
    for (const a of actors) if (a.worker?.entry) nodes.add(a.worker.node);
    const out = new Map<string, NodeEntry>();
    const now = Date.now();
    for (const name of nodes) {
      const hit = o.cached ? this.cache.get(name) : undefined;
      let entry = hit && now - hit.at < cachedMs ? hit.entry : undefined;
      if (!hit || now - hit.at >= cachedMs) {
        const n = await this.records.getNode(name);
        entry =
          n?.state === "Ready" && n.entry
            ? { entry: n.entry, token: nodeEntryToken(n.callSecret) }
            : undefined;
        if (this.cache.size >= maxCached) this.cache.clear();
        this.cache.set(name, { ...(entry ? { entry } : {}), at: now });
      }
      if (entry) out.set(name, entry);
    }
    return out;
  }
}

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Transport } from "@connectrpc/connect";
import { defaultMaxWorkers, machineResources } from "../controller/index.ts";
import { checkRegistration } from "../controlplane/index.ts";
import { type Logger, withFields } from "../log/index.ts";
import type { Registry } from "../metrics/index.ts";
import {
  inProcessNodeTransport,
  NodeAgent,
  type NodeAgentOptions,
  NodeMembership,
  type NodeRegistration,
  type NodeRegistryApi,
  nodeEntryToken,
  type RunningEntryProxy,
  type RunningNodeApiServer,
  startEntryProxy,
  startNodeApiServer,
} from "../node/index.ts";
import { privateDirSync } from "../private-files/index.ts";
import type { EgressOptions, NetworkOptions } from "../sandbox/gvisor/index.ts";
import { GvisorDriver } from "../sandbox/index.ts";
import { claimNetwork, type NetworkChoice } from "./network-claim.ts";
import { lockStateDir, nodeLock } from "./state-lock.ts";

/** Where the control planes and the routers of other hosts reach a node (`ate node`). */
export interface NodeListen {
  /** This host's address, reachable from the control planes and routers. */
  address: string;
  /** The node API's port. Default 7444; 0 picks a free one. */
  nodePort?: number;
  /** The actor entry point's port. Default 7481; 0 picks a free one. */
  entryPort?: number;
}

export interface NodeComponentOptions {
  /** The node's state: its network choice here, the agent's under `node/`. */
  stateDir: string;
  /** Unique in the cluster; the `node` of its Worker records. */
  name: string;
  /** The control plane's node registry: over HTTP with a node token, or in process. */
  registry: NodeRegistryApi;
  /**
   * Serve the node API and the actor entry point on the network. Absent (`ate up`): the
   * control plane calls the node in process (`transport`) and routers reach workers directly.
   */
  listen?: NodeListen;
  /** Most workers, all pools together (also bounded by the network range). Default 1 per 256 MiB. */
  maxWorkers?: number;
  /** Worker network names and addresses (see claimNetwork); what is unset is chosen. */
  network?: NetworkOptions;
  /** Where this machine's substrates record their networks. Default /run/ate/networks. */
  networkClaims?: string;
  egress?: EgressOptions;
  assetDirs?: string[];
  assetAllowHosts?: string[];
  /** The node token for the control plane's origin, so it can fetch the assets served there. */
  assetBearerTokens?: NodeAgentOptions["assetBearerTokens"];
  /** A runtime asset this host already has (ate up's runsc): cached by digest, never fetched. */
  seedAsset?: { path: string; sha256: string };
  /** A sandbox stopped on its own: the control plane should look soon. */
  onWorkerExit?: () => void;
  /**
   * Where the component registers its Prometheus metrics, served on its port. Default: a
   * registry of its own (`ate up`'s API shows it too).
   */
  metricsRegistry?: Registry;
  logger: Logger;
}

export interface RunningNode {
  name: string;
  agent: NodeAgent;
  network: NetworkChoice;
  /** The secret the control plane must present to this node's API (sent when registering). */
  callSecret: string;
  /** The node API in this process (`ate up`'s control plane dials it), checking callSecret. */
  transport: Transport;
  /** The node API's URL as registered (`http://in-process.invalid/` when not served). */
  url: string;
  /** host:port of the actor entry point, when served. */
  entry?: string;
  /** Workers that held an actor when the node last stopped and were found running again. */
  recovered: number;
  /** Resolves once registered and rid of the sandboxes of workers whose actors moved on. */
  ready: Promise<void>;
  /**
   * Stops serving and heartbeating. The sandboxes keep running: a node started again on this
   * state dir within the lost-node time takes them up again; later, the control plane has
   * moved their actors back to their last snapshot and the node tears them down.
   */
  stop(): Promise<void>;
}

/** The URL a node registers when the control plane calls it in process. */
export const inProcessNodeUrl = "http://in-process.invalid/";

/**
 * A node: the node agent and its gVisor workers on this host, recovered from the last run,
 * its node API and actor entry point (when served), and its membership (registration and
 * heartbeats) in the control plane's registry.
 */
export async function startNode(o: NodeComponentOptions): Promise<RunningNode> {
  const unlock = lockStateDir(o.stateDir, nodeLock);
  const undo: (() => Promise<void>)[] = [];
  try {
    return await start(o, undo, unlock);
  } catch (err) {
    for (const f of undo.reverse()) await f().catch(() => {});
    unlock();
    throw err;
  }
}

async function start(
  o: NodeComponentOptions,
  undo: (() => Promise<void>)[],
  unlock: () => void,
): Promise<RunningNode> {
  // Every line of this node's agent names it (several nodes may log to one collector).
  const log = withFields(o.logger, { node: o.name });
  // The worker names and addresses no other substrate on this machine uses.
  const network = await claimNetwork({
    stateDir: o.stateDir,
    ...(o.network ? { requested: o.network } : {}),
    ...(o.networkClaims ? { claimsDir: o.networkClaims } : {}),
  });
  const last = network.subnetBase + network.subnets - 1;
  log.info("worker network", {
    prefix: network.prefix,
    addresses: `169.254.${network.subnetBase}.0-169.254.${last}.255`,
  });
  privateDirSync(o.stateDir); // root only (0700), also when an older version made it 0755
  const nodeDir = join(o.stateDir, "node");
  const gvisor = new GvisorDriver({
    stateDir: nodeDir,
    network,
    ...(o.egress ? { egress: o.egress } : {}),
  });
  const agent = new NodeAgent({
    stateDir: nodeDir,
    drivers: [gvisor],
    ...(o.assetDirs ? { assetDirs: o.assetDirs } : {}),
    ...(o.assetAllowHosts?.length ? { assetAllowHosts: o.assetAllowHosts } : {}),
    ...(o.assetBearerTokens?.length ? { assetBearerTokens: o.assetBearerTokens } : {}),
    // A sandbox that stopped on its own (e.g. past its memory limit): the control plane's next
    // pass sends its actor back to its last snapshot and frees the worker.
    ...(o.onWorkerExit ? { onWorkerExit: o.onWorkerExit } : {}),
    ...(o.metricsRegistry ? { metricsRegistry: o.metricsRegistry } : {}),
    logger: log,
  });
  undo.push(() => agent.close());
  if (o.seedAsset) await agent.assets.seed(o.seedAsset.path, o.seedAsset.sha256);
  const recovered = await agent.recover();
  log.info("node agent ready", { node: o.name, workers: recovered.length });

  const callSecret = randomBytes(32).toString("base64url");
  let api: RunningNodeApiServer | undefined;
  let entry: RunningEntryProxy | undefined;
  if (o.listen) {
    const l = o.listen;
    api = await startNodeApiServer({
      host: l.address,
      port: l.nodePort ?? 7444,
      agent,
      callSecret,
      logger: log,
      metrics: [agent.metrics.registry],
    });
    const served = api;
    undo.push(() => served.close());
    entry = await startEntryProxy({
      host: l.address,
      port: l.entryPort ?? 7481,
      // Every address of this node's workers, asked at each tunnel (a worker's address holds
      // nothing but its sandbox).
      workerAddresses: async () => (await agent.listWorkers()).map((w) => w.address),
      // Routers get it from the control plane, which derives it from the same call secret.
      token: nodeEntryToken(callSecret),
      logger: log,
    });
    const proxy = entry;
    undo.push(() => proxy.close());
  }
  const maxWorkers = o.maxWorkers ?? defaultMaxWorkers();
  const identity: Omit<
    NodeRegistration,
    "arch" | "sandboxClasses" | "cachedAssets" | "cachedImages"
  > = {
    name: o.name,
    url: api?.url ?? inProcessNodeUrl,
    address: o.listen?.address ?? "127.0.0.1",
    ...(entry ? { entry: entry.entry } : {}),
    capacity: {
      ...machineResources(),
      ...(gvisor.networks.capacity < maxWorkers
        ? {
            workers: gvisor.networks.capacity,
            source: `its network range, 169.254.${network.subnetBase}.0 to 169.254.${last}.255`,
          }
        : {
            workers: maxWorkers,
            source: `--max-workers ${maxWorkers}${o.maxWorkers === undefined ? ", by default 1 per 256 MiB of memory" : ""}`,
          }),
    },
  };
  checkRegistration({ ...identity, ...(await agent.describe()) }, callSecret); // now, not in a retry loop
  const membership = new NodeMembership({
    registry: o.registry,
    agent,
    identity,
    callSecret,
    logger: log,
  });
  const leave = new AbortController();
  const membershipRun = membership.run({ signal: leave.signal });
  let stopping: Promise<void> | undefined;
  return {
    name: o.name,
    agent,
    network,
    callSecret,
    transport: inProcessNodeTransport(agent, callSecret),
    url: identity.url,
    ...(entry ? { entry: entry.entry } : {}),
    recovered: recovered.filter((w) => w.actor).length,
    ready: membership.ready,
    stop() {
      stopping ??= (async () => {
        // No new calls or tunnels; those under way end with their connections.
        await Promise.all([entry?.close(), api?.close()]);
        leave.abort();
        await membershipRun.catch(() => {});
        // The sandboxes run on; nothing of this process watches or serves them any more.
        await agent.close();
        unlock();
        log.info("node stopped", { node: o.name });
      })();
      return stopping;
    },
  };
}

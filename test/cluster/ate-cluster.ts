// An ate cluster on one machine for the cluster test and bench: hosts as network namespaces
// (test/support/cluster-hosts.ts) running the real commands — `ate controlplane` on cp1 (and
// cp2), `ate node` on each node host, `ate router` — with Valkey and s3rver on "data" and a TCP
// load balancer "lb" in front of the control planes (the one --server nodes, routers and the
// CLI use). The counter image: see images.ts.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ControlClient, controlClient } from "../../src/cli/control-client.ts";
import { openRecordStore, Records } from "../../src/records/index.ts";
import {
  type ClusterHosts,
  type HostProcess,
  startClusterHosts,
} from "../support/cluster-hosts.ts";
import {
  type HostS3,
  type HostService,
  startS3In,
  startValkeyIn,
} from "../support/cluster-services.ts";
import { killPushRegistry, pushClusterImage, startHostRegistry } from "./images.ts";
import { killNodeSandboxes, type NodeNet, sweepNode } from "./node-sweep.ts";
import { waitFor } from "./wait-for.ts";

export { waitFor };

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(repoRoot, "bin", "ate");
export const apiPort = 7443;
export const routerPort = 7480;
export const bucket = "snapshots";

export interface AteClusterOptions {
  /** The harness prefix (2 to 5 characters; one per test file). */
  prefix: string;
  /** Control plane hosts, e.g. ["cp1", "cp2"]; the first is started first and leads. */
  controlPlanes: string[];
  /** Node hosts, in the order of their --net-subnet ranges; started with startNode(). */
  nodes: string[];
  /** Worker namespaces of node i are `<netPrefix><i+1>-w<n>`, addresses 169.254.<subnetBase+4i>.x. */
  netPrefix: string;
  subnetBase: number;
  maxWorkers: number;
  /** Added to every control plane's environment. */
  env?: Record<string, string>;
}

export interface AteCluster {
  hosts: ClusterHosts;
  /** The API as nodes, routers and the CLI reach it (through the load balancer). */
  api: string;
  router: string;
  adminToken: string;
  valkey: HostService;
  s3: HostS3;
  /** The counter image, pinned by digest, pullable on every node. */
  image: string;
  /** The records in Valkey, read directly (what the API does not show: transitions, leases). */
  records: Records;
  control: ControlClient;
  controlPlanes: Map<string, HostProcess>;
  nodes: Map<string, HostProcess>;
  /** `bin/ate ARGS` in the test's namespace against the cluster's API with the admin token. */
  ate(args: string[], input?: string): Promise<{ code: number; out: string; err: string }>;
  /** Like ate(), rejecting unless it exits 0; its stdout. */
  ok(args: string[], input?: string): Promise<string>;
  /** Starts `ate node` on the host (and its registry); resolves once its record is Ready. */
  startNode(name: string): Promise<HostProcess>;
  /** Where `ate node --state-dir` keeps this node's state. */
  nodeState(name: string): string;
  /** SIGKILLs everything of the node host and every sandbox of its runsc root. */
  crashNode(name: string): Promise<void>;
  /** Every process's recent output, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const tail = (s: string, n = 3000) => (s.length > n ? `…${s.slice(-n)}` : s);

export async function startAteCluster(o: AteClusterOptions): Promise<AteCluster> {
  const nodeNets = new Map<string, NodeNet>(
    o.nodes.map((n, i) => [
      n,
      { prefix: `${o.netPrefix}${i + 1}`, subnetBase: o.subnetBase + 4 * i },
    ]),
  );
  const hosts = await startClusterHosts({
    prefix: o.prefix,
    hosts: [...o.controlPlanes, "lb", "data", ...o.nodes, "router"],
    // A killed run's sandboxes and worker namespaces (its namespaces still stand here).
    sweep: async ({ dir, tag }) => {
      killPushRegistry(dir);
      for (const n of o.nodes) await sweepNode(`/var/run/netns/${tag}-${n}`, join(dir, n));
    },
  });
  const stops: (() => Promise<void>)[] = [];
  const processes = new Map<string, HostProcess>();
  const logs = () =>
    [...processes].map(([name, p]) => `--- ${name}:\n${tail(p.output())}`).join("\n");
  try {
    const [valkey, s3] = await Promise.all([
      startValkeyIn(hosts.host("data")),
      startS3In(hosts.host("data"), { buckets: [bucket] }),
    ]);
    const img = await pushClusterImage(hosts.dir);

    const lb = hosts.host("lb");
    const api = `http://${lb.address}:${apiPort}`;
    const failover = lb.spawn(process.execPath, [
      ...["--import", "tsx", join(repoRoot, "test/cluster/tcp-failover.ts")],
      `${lb.address}:${apiPort}`,
      ...o.controlPlanes.map((cp) => `${hosts.host(cp).address}:${apiPort}`),
    ]);
    processes.set("lb", failover);
    await failover.waitForOutput("failover ready");

    const records = new Records(openRecordStore(valkey.url, hosts.dir));
    stops.push(() => records.store.close());
    const cliConfig = join(hosts.dir, "cli-none.yaml"); // never the user's own config
    let adminToken = "";
    const ate: AteCluster["ate"] = (args, input) =>
      new Promise((resolve) => {
        const child = execFile(
          bin,
          args,
          {
            encoding: "utf8",
            env: { ...process.env, ATE_SERVER: api, ATE_TOKEN: adminToken, ATE_CONFIG: cliConfig },
            timeout: 120_000,
          },
          (err, stdout, stderr) => {
            const code = err ? ((err as { code?: number }).code ?? 1) : 0;
            resolve({ code: typeof code === "number" ? code : 1, out: stdout, err: stderr });
          },
        );
        child.stdin?.end(input ?? "");
      });
    const ok: AteCluster["ok"] = async (args, input) => {
      const r = await ate(args, input);
      if (r.code !== 0) throw new Error(`ate ${args.join(" ")} exited ${r.code}: ${r.err}`);
      return r.out;
    };

    const startControlPlane = async (name: string) => {
      const h = hosts.host(name);
      const p = h.spawn(
        bin,
        [
          "controlplane",
          ...["--api-addr", `${h.address}:${apiPort}`],
          ...["--records", valkey.url],
          ...["--state-dir", join(h.dir, "state")],
          ...["--advertise-url", api],
          ...["--idle-timeout", "0"],
        ],
        {
          env: {
            ...s3.env,
            ...o.env,
            ATE_LOG: "info",
            ATE_CONFIG: join(h.dir, "cli-config.yaml"),
          },
        },
      );
      processes.set(name, p);
      await waitFor(
        `ate controlplane on ${name} answers`,
        async () => {
          if (!p.running()) throw new Error(`ate controlplane on ${name} exited`);
          const r = await fetch(`http://${h.address}:${apiPort}/`, {
            signal: AbortSignal.timeout(2000),
          });
          await r.arrayBuffer();
          return true;
        },
        60_000,
        logs,
      );
      return p;
    };
    const first = o.controlPlanes[0] as string;
    await startControlPlane(first);
    adminToken = readFileSync(join(hosts.host(first).dir, "state", "admin.token"), "utf8").trim();
    const control = controlClient(api, adminToken);
    // The first control plane leads before the others start, so the test knows the leader.
    await waitFor(
      `${first} leads`,
      async () => (await leaseHolder(records))?.includes(`-${processes.get(first)?.pid}-`),
      30_000,
      logs,
    );
    // The others get the same admin token (a control plane with none makes a new "admin"
    // token, replacing the one the first made), as an operator copies it to each.
    for (const cp of o.controlPlanes.slice(1)) {
      const state = join(hosts.host(cp).dir, "state");
      mkdirSync(state, { mode: 0o700 });
      writeFileSync(join(state, "admin.token"), `${adminToken}\n`, { mode: 0o600 });
      await startControlPlane(cp);
    }

    const tokenFile = async (name: string, role: "--node" | "--router") => {
      const token = (await ok(["create", "token", name, role])).trim();
      const path = join(hosts.dir, `${name}.token`);
      writeFileSync(path, `${token}\n`, { mode: 0o600 });
      return path;
    };

    const routerHost = hosts.host("router");
    const router = `http://${routerHost.address}:${routerPort}`;
    const routerProcess = routerHost.spawn(
      bin,
      [
        "router",
        ...["--server", api],
        ...["--token-file", await tokenFile("router", "--router")],
        ...["--router-addr", `${routerHost.address}:${routerPort}`],
      ],
      { env: { ATE_LOG: "info" } },
    );
    processes.set("router", routerProcess);
    await waitFor(
      "ate router answers",
      async () => {
        if (!routerProcess.running()) throw new Error("ate router exited");
        const r = await fetch(`${router}/`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        return true;
      },
      30_000,
      logs,
    );

    const nodeState = (name: string) => join(hosts.host(name).dir, "state");
    const nodes = new Map<string, HostProcess>();
    const startNode = async (name: string) => {
      const h = hosts.host(name);
      const net = nodeNets.get(name);
      if (!net)
        throw new Error(`${name} is not one of the cluster's nodes (${o.nodes.join(", ")})`);
      // For a sweep after a killed run: which worker names and addresses this node used.
      writeFileSync(join(h.dir, "node-net.json"), JSON.stringify(net));
      processes.set(`${name} registry`, await startHostRegistry(h, img));
      const p = h.spawn(
        bin,
        [
          "node",
          ...["--server", api],
          ...["--token-file", await tokenFile(name, "--node")],
          ...["--name", name],
          ...["--address", h.address],
          ...["--state-dir", nodeState(name)],
          ...["--net-prefix", net.prefix],
          ...["--net-subnet", String(net.subnetBase)],
          ...["--max-workers", String(o.maxWorkers)],
        ],
        // Nodes read and write snapshots in S3, as control planes do.
        { env: { ...s3.env, ATE_LOG: "info" } },
      );
      processes.set(name, p);
      nodes.set(name, p);
      await waitFor(
        `node ${name} registered`,
        async () => {
          if (!p.running()) throw new Error(`ate node on ${name} exited`);
          return (await records.getNode(name))?.state === "Ready";
        },
        60_000,
        logs,
      );
      return p;
    };

    hosts.onStop(async () => {
      for (const n of o.nodes) {
        const h = hosts.host(n);
        await sweepNode(h.nsPath, h.dir);
      }
    });

    return {
      hosts,
      api,
      router,
      adminToken,
      valkey,
      s3,
      image: img.image,
      records,
      control,
      controlPlanes: new Map(
        o.controlPlanes.flatMap((n) => {
          const p = processes.get(n);
          return p ? [[n, p] as const] : [];
        }),
      ),
      nodes,
      ate,
      ok,
      startNode,
      nodeState,
      async crashNode(name) {
        await hosts.host(name).crash();
        await killNodeSandboxes(nodeState(name));
      },
      logs,
      async stop() {
        const problems: string[] = [];
        for (const s of stops.reverse())
          await s().catch((err: Error) => problems.push(err.message));
        await hosts.stop().catch((err: Error) => problems.push(err.message));
        if (problems.length) throw new Error(problems.join("; "));
      },
    };
  } catch (err) {
    for (const s of stops.reverse()) await s().catch(() => {});
    await hosts.stop().catch(() => {});
    throw err;
  }
}

/** The controllers' lease holder as Valkey has it (`<host>-<pid>-<random>`), if any. */
export async function leaseHolder(records: Records): Promise<string | undefined> {
  const rec = (await records.store.get("lease", "controllers")) as { holder?: string } | undefined;
  return rec?.holder || undefined;
}

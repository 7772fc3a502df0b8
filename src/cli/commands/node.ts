import { isIP } from "node:net";
import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { NodeRegistryClient, registryHttpTransport } from "../../node/index.ts";
import { ateHome } from "../../resources/index.ts";
import { checkMachineToken, checkPrerequisites, startNode } from "../../up/index.ts";
import { ateVersion } from "../../version.ts";
import type { CliContext } from "../context.ts";
import {
  aborted,
  daemon,
  egressFlags,
  intFlag,
  machineFlags,
  missing,
  stopSignals,
} from "./daemon.ts";
import { checkOtlpFlag, commandTracing, otlpFlag } from "./otlp-flag.ts";

interface NodeFlags {
  server?: string;
  tokenFile?: string;
  name?: string;
  address?: string;
  stateDir?: string;
  netPrefix?: string;
  netSubnet?: string;
  nodePort: string;
  entryPort: string;
  maxWorkers?: string;
  dns?: string[];
  egressAllow?: string[];
  egressDeny?: string[];
  otlpEndpoint?: string;
}

const repeatable = (value: string, values: string[] = []) => [...values, value];

export function registerNode(program: Command, ctx: CliContext): void {
  program
    .command("node")
    .description(
      "Run a node: the node agent and its workers (gVisor sandboxes) on this host, its node API and actor entry point; it registers with the control plane and heartbeats",
    )
    .option("--server <url>", "the control plane's API, e.g. http://10.0.0.2:7443 (required)")
    .option(
      "--token-file <file>",
      "a file (mode 0600) holding this node's token: ate create token NAME --node (required)",
    )
    .option("--name <name>", "this node's name, the one its token was made for (required)")
    .option(
      "--address <ip>",
      "this host's address the control planes and routers reach; the node API and the entry point listen on it (required)",
    )
    .option("--state-dir <dir>", "where the node keeps its state (default: <home>)")
    .option(
      "--net-prefix <prefix>",
      "prefix of the worker network namespaces, distinct for each node or ate up on one machine (default: ate, else a free one; kept for the state dir)",
    )
    .option(
      "--net-subnet <octet>",
      "third octet of the workers' link-local addresses, 169.254.<octet>.0 to <octet+3>.255 (default: 64, else a free range; kept for the state dir)",
    )
    .option(
      "--node-port <port>",
      "the node API's port on --address (control planes call it)",
      "7444",
    )
    .option(
      "--entry-port <port>",
      "the actor entry point's port on --address (routers reach actors through it)",
      "7481",
    )
    .option(
      "--max-workers <n>",
      "most workers on this node, all pools together (default: 1 per 256 MiB of memory)",
    )
    .option(
      "--dns <addr>",
      "a DNS server the actors' queries go to (repeatable; default: this machine's /etc/resolv.conf)",
      repeatable,
    )
    .option(
      "--egress-allow <cidr>",
      "an IPv4 range actors may reach although it is private (repeatable; never loopback, link-local or multicast)",
      repeatable,
    )
    .option(
      "--egress-deny <cidr>",
      "an IPv4 range actors may not reach, besides private, loopback, link-local and multicast ones (repeatable)",
      repeatable,
    )
    .addHelpText(
      "after",
      `
Needs: root (network namespaces, iptables, cgroups), iproute2, iptables and conntrack
(scripts/setup-system.sh installs them); the control plane's API and S3 reachable (AWS_*
variables for snapshots); ports --node-port and --entry-port on --address reachable from the
control planes and routers. runsc comes from the control plane by sha256. Ctrl-C stops it:
the sandboxes keep running, and a node started again on this state dir within 10 s takes them
up; later the control plane has moved its actors back to their last snapshot. See
docs/cluster.md.`,
    )
    .option(...otlpFlag)
    .action(async function (this: Command, f: NodeFlags) {
      if (!f.name) missing(this, "--name", "this node's name, the one its token was made for");
      if (!f.address) missing(this, "--address", "this host's address, e.g. --address 10.0.0.11");
      const { api, token, tokenFile } = machineFlags(this, program, f, "node");
      if (!isIP(f.address) || /^(0\.0\.0\.0|::)$/.test(f.address))
        throw new AteError(
          Code.InvalidArgument,
          `--address ${JSON.stringify(f.address.slice(0, 100))}: give this host's IP address the control planes and routers reach, e.g. 10.0.0.11`,
        );
      const nodePort = intFlag(f.nodePort, "--node-port", 0, 65535) as number;
      const entryPort = intFlag(f.entryPort, "--entry-port", 0, 65535) as number;
      const subnet = intFlag(f.netSubnet, "--net-subnet", 1, 251);
      const maxWorkers = intFlag(f.maxWorkers, "--max-workers", 1, 100_000);
      const egress = egressFlags(f);
      checkOtlpFlag(f.otlpEndpoint);
      const problems = checkPrerequisites({ runsc: false, command: "ate node" }).filter(
        (p) => p.problem,
      );
      if (problems.length) {
        const lines = problems.map((p) => `Error: ${p.problem}`);
        throw new AteError(Code.FailedPrecondition, lines.join("\n"), lines);
      }
      const { logger, release } = daemon("ate node");
      const signals = stopSignals();
      const tracing = await commandTracing(f.otlpEndpoint, logger);
      try {
        await checkMachineToken({
          server: api,
          token,
          tokenFile,
          role: "node",
          name: f.name,
          signal: signals.first,
          logger,
        }).catch((err) => {
          if (signals.first.aborted) return;
          throw err;
        });
        if (signals.first.aborted) return;
        const stateDir = f.stateDir ?? (program.opts() as { home?: string }).home ?? ateHome();
        const node = await startNode({
          stateDir,
          name: f.name,
          registry: new NodeRegistryClient(registryHttpTransport(api, token)),
          listen: { address: f.address, nodePort, entryPort },
          // The runtime the control plane declared is served to node tokens.
          assetBearerTokens: [{ url: api, token }],
          // Actors reach the API for themselves (their /run/ate/token) through their gateways.
          egress: { ...egress, controlApi: { url: api } },
          network: {
            ...(f.netPrefix !== undefined ? { prefix: f.netPrefix } : {}),
            ...(subnet !== undefined ? { subnetBase: subnet } : {}),
          },
          ...(maxWorkers !== undefined ? { maxWorkers } : {}),
          logger,
        });
        const n = node.network;
        ctx.io.out(
          [
            `ate node ${ateVersion}: ${f.name} (state in ${stateDir})`,
            `  node API     ${node.url}`,
            `  entry point  ${node.entry}`,
            `  workers      network namespaces ${n.prefix}-w<n>, addresses 169.254.${n.subnetBase}.0 to 169.254.${n.subnetBase + n.subnets - 1}.255`,
            ...(node.recovered ? [`  ${node.recovered} actor(s) still running from before`] : []),
            `registering with ${api}…`,
          ].join("\n"),
        );
        await Promise.race([node.ready, aborted(signals.first)]);
        if (!signals.first.aborted)
          ctx.io.out(`registered; Ctrl-C stops (the sandboxes keep running for a restart)`);
        await aborted(signals.first);
        ctx.io.out("stopping…");
        await node.stop();
        ctx.io.out("stopped");
      } finally {
        await tracing.shutdown();
        signals.release();
        release();
      }
    });
}

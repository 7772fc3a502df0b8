// Hosts of a cluster on one machine, for tests that run ate's commands as separate machines
// would: each host a network namespace with its own address on a private /24, on one bridge,
// reachable from the test (the root namespace) and reaching nothing but each other and the test
// (see cluster-net.ts). Processes enter a host with `nsenter --net` only: `ip netns exec` also
// remounts /sys, and runsc then fails ("cannot set up cgroup for root ... /sys/fs/cgroup/cpuset").
//
//   const cluster = await startClusterHosts({ prefix: "atc", hosts: ["cp1", "data", "n1"] });
//   after(() => cluster.stop());
//   const p = cluster.host("cp1").spawn("node", ["server.js"]);
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  buildNet,
  type ClusterNet,
  cidr,
  forgetNet,
  killNetns,
  leftoversOf,
  netnsPids,
  planNet,
  removeNet,
  sweepLeftovers,
  testAddress,
  verifyNet,
} from "./cluster-net.ts";
import {
  groupMembers,
  type HostProcess,
  type SpawnOptions,
  signalGroup,
  signalPid,
  spawnInNetns,
  until,
} from "./cluster-process.ts";

export type { Exit, HostProcess, SpawnOptions } from "./cluster-process.ts";

export interface ClusterHostsOptions {
  /** 2 to 5 characters, [a-z][a-z0-9]*: every name of the run starts with it; leftovers of
   * killed runs with the same prefix are swept first. One prefix per test file. */
  prefix: string;
  /** Host names, [a-z][a-z0-9-]* up to 20 characters, unique; 1 to 100 of them. */
  hosts: string[];
  /** Called for each swept leftover with its directory, for what lives outside its namespaces. */
  sweep?: (leftover: { dir: string; tag: string }) => Promise<void>;
  /** How long stop() lets processes end after SIGTERM before SIGKILL (default 5000 ms). */
  stopGraceMs?: number;
}

export interface ExecOptions extends SpawnOptions {
  /** Killed (its process group, SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Reject when the command exits other than 0 (default true). */
  check?: boolean;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ClusterHost {
  name: string;
  /** The host's network namespace and its path (for `nsenter --net=`). */
  netns: string;
  nsPath: string;
  address: string;
  /** A directory for this host's state, removed by stop(). */
  dir: string;
  /** Starts cmd in this host, in a process group of its own; stop() kills it. */
  spawn(cmd: string, args?: string[], options?: SpawnOptions): HostProcess;
  /** Runs cmd in this host to its end. */
  exec(cmd: string, args?: string[], options?: ExecOptions): Promise<ExecResult>;
  /** The command line that runs cmd in this host, for callers that start it themselves. */
  command(cmd: string, args?: string[]): { file: string; args: string[] };
  /** SIGKILLs everything started here and anything else in its namespace, as a machine dying
   * would, and waits until it is gone. (runsc sandboxes live in their own namespaces and are
   * not reached: stop those through their runsc root.) */
  crash(): Promise<void>;
}

export interface ClusterHosts {
  tag: string;
  /** The /24, e.g. "10.217.4.0/24". */
  subnet: string;
  /** The test's (root namespace's) address on the bridge: the hosts reach it. */
  testAddress: string;
  /** The run's temporary directory (each host's dir is under it). */
  dir: string;
  hosts: ClusterHost[];
  host(name: string): ClusterHost;
  /** Runs fn in stop(), after the hosts' processes are gone, before the namespaces go. */
  onStop(fn: () => Promise<void>): void;
  /** Kills what was started, removes namespaces, bridge, link and directory; idempotent. */
  stop(): Promise<void>;
}

const namePattern = /^[a-z][a-z0-9-]{0,19}$/;
const prefixPattern = /^[a-z][a-z0-9]{1,4}$/;

function validate(o: ClusterHostsOptions): void {
  if (typeof o.prefix !== "string" || !prefixPattern.test(o.prefix))
    throw new Error(
      `prefix ${JSON.stringify(o.prefix)} must be 2 to 5 characters [a-z][a-z0-9]* (interface names are at most 15)`,
    );
  if (!Array.isArray(o.hosts) || o.hosts.length < 1 || o.hosts.length > 100)
    throw new Error(`hosts must list 1 to 100 names, not ${JSON.stringify(o.hosts)}`);
  for (const name of o.hosts)
    if (typeof name !== "string" || !namePattern.test(name))
      throw new Error(
        `host name ${JSON.stringify(name)} must be [a-z][a-z0-9-]* and at most 20 characters`,
      );
  const dup = o.hosts.find((n, i) => o.hosts.indexOf(n) !== i);
  if (dup) throw new Error(`host name ${dup} is given twice`);
}

/** Clusters of this process not stopped yet, removed on exit if a test forgot (or crashed). */
const live = new Set<{ net: ClusterNet; groups: () => number[]; hooks: number }>();
let exitHooked = false;

export async function startClusterHosts(options: ClusterHostsOptions): Promise<ClusterHosts> {
  validate(options);
  await sweepLeftovers(options.prefix, options.sweep);
  const net = planNet(options.prefix, options.hosts, (tag) =>
    mkdtempSync(join(tmpdir(), `ate-cluster-${tag}-`)),
  );
  const grace = options.stopGraceMs ?? 5000;
  const hooks: (() => Promise<void>)[] = [];
  const started = new Map<string, HostProcess[]>(options.hosts.map((n) => [n, []]));
  const groups = () =>
    [...started.values()]
      .flat()
      .filter((p) => p.ownsGroup())
      .map((p) => p.pid);
  const entry = {
    net,
    groups,
    get hooks() {
      return hooks.length;
    },
  };
  live.add(entry);
  if (!exitHooked) {
    exitHooked = true;
    process.on("exit", () => {
      for (const e of live) cleanUpAtExit(e.net, e.groups(), e.hooks > 0);
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const problems: string[] = [];
      // SIGTERM first (a node agent may clean up its workers), SIGKILL after the grace.
      for (const pgid of groups()) signalGroup(pgid, "SIGTERM");
      await until(() => groupMembers(groups()).length === 0, grace);
      const stubborn = await crashAll(
        net.hosts.map((h) => h.netns),
        groups(),
      );
      if (stubborn.length > 0) problems.push(`processes ${stubborn} survive SIGKILL`);
      for (const fn of hooks.splice(0).reverse())
        await fn().catch((err: Error) => problems.push(`an onStop hook failed: ${err.message}`));
      removeNet(net);
      rmSync(net.dir, { recursive: true, force: true });
      // A namespace goes when the last process in it has; the kernel takes a moment.
      await until(() => leftoversOf(net).length === 0, 5000);
      const left = leftoversOf(net);
      if (left.length > 0) problems.push(`${left.join(", ")} could not be removed`);
      else forgetNet(net);
      live.delete(entry);
      if (problems.length > 0) throw new Error(`cluster ${net.tag} stop: ${problems.join("; ")}`);
    })();
    return stopping;
  };

  try {
    await buildNet(net);
    verifyNet(net);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  const hosts = net.hosts.map((h): ClusterHost => {
    const nsPath = `/var/run/netns/${h.netns}`;
    const dir = join(net.dir, h.name);
    mkdirSync(dir);
    const mine = started.get(h.name) as HostProcess[];
    const spawn = (cmd: string, args: string[] = [], opts: SpawnOptions = {}) => {
      if (stopping) throw new Error(`cluster ${net.tag} is stopped: cannot start ${cmd}`);
      const p = spawnInNetns(nsPath, `${h.name}: ${cmd}`, cmd, args, opts);
      mine.push(p);
      return p;
    };
    return {
      ...h,
      nsPath,
      dir,
      spawn,
      command: (cmd, args = []) => ({
        file: "nsenter",
        args: [`--net=${nsPath}`, "--", cmd, ...args],
      }),
      async exec(cmd, args = [], opts = {}) {
        const p = spawn(cmd, args, opts);
        const timeoutMs = opts.timeoutMs ?? 60_000;
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          p.kill("SIGKILL");
        }, timeoutMs);
        // Output is complete at close; a descendant holding the pipes open must not hang us.
        const exit = await Promise.race([p.closed, p.exited.then((e) => sleep(1000, e))]);
        clearTimeout(timer);
        mine.splice(mine.indexOf(p), 1);
        const result = {
          code: exit.code,
          signal: exit.signal,
          stdout: p.stdout(),
          stderr: p.stderr(),
        };
        if (exit.error) throw new Error(`${h.name}: could not run ${cmd}: ${exit.error.message}`);
        if (timedOut) throw new Error(`${h.name}: ${cmd} ran over ${timeoutMs} ms: ${p.output()}`);
        if ((opts.check ?? true) && exit.code !== 0)
          throw new Error(
            `${h.name}: ${cmd} ${args.join(" ")} exited ${exit.code ?? exit.signal}: ${p.output().slice(-4000)}`,
          );
        return result;
      },
      async crash() {
        const left = await crashAll(
          [h.netns],
          mine.filter((p) => p.ownsGroup()).map((p) => p.pid),
        );
        if (left.length > 0) throw new Error(`${h.name}: processes ${left} survive SIGKILL`);
      },
    };
  });

  return {
    tag: net.tag,
    subnet: cidr(net),
    testAddress: testAddress(net),
    dir: net.dir,
    hosts,
    host(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h)
        throw new Error(`no host ${name} in cluster ${net.tag} (${options.hosts.join(", ")})`);
      return h;
    },
    onStop(fn) {
      hooks.push(fn);
    },
    stop,
  };
}

/** SIGKILLs these process groups and everything in these namespaces; what survives 10 s. */
async function crashAll(namespaces: string[], pgids: number[]): Promise<number[]> {
  for (const pgid of pgids) if (groupMembers([pgid]).length > 0) signalGroup(pgid, "SIGKILL");
  await until(() => groupMembers(pgids).length === 0, 10_000);
  const inNs = await killNetns(namespaces);
  return [...groupMembers(pgids), ...inNs];
}

/** At exit nothing can be awaited: kill and remove what can be at once. */
function cleanUpAtExit(net: ClusterNet, pgids: number[], keepForSweep: boolean): void {
  try {
    for (const pgid of pgids) signalGroup(pgid, "SIGKILL");
    for (const h of net.hosts) for (const pid of netnsPids(h.netns)) signalPid(pid, "SIGKILL");
    removeNet(net);
    // With onStop hooks that could not run, the marker and directory stay for the next sweep.
    if (!keepForSweep) {
      rmSync(net.dir, { recursive: true, force: true });
      if (leftoversOf(net).length === 0) forgetNet(net);
    }
  } catch {
    // best effort: the next run's sweep finishes it
  }
}

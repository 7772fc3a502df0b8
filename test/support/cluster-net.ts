// The network of a cluster on one machine (see cluster-hosts.ts): a private /24 that nothing on
// the machine uses, a bridge in a "switch" namespace of its own, one namespace per host on it,
// and one veth from the root namespace (the test) into the switch. The bridge is not in the
// root namespace because bridged traffic there passes the machine's iptables FORWARD chain
// (br_netfilter), where an `ate up` on the same machine drops what it does not know. Every run
// writes a marker under /run/ate-cluster-hosts (its names, its owner) before creating anything,
// so a later run can sweep what a killed one left.
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive, withMachineLock } from "../../src/machine-lock/index.ts";
import { procStat, signalPid, until } from "./cluster-process.ts";

export const runDir = "/run/ate-cluster-hosts";

export interface ClusterNet {
  prefix: string;
  /** prefix + 4 random characters: every name of this run starts with it. */
  tag: string;
  /** The owner (the test process) and its start time, to tell a live run from a dead one. */
  pid: number;
  start: number;
  /** The /24 as its first three octets ("10.217.4"); empty until chosen. */
  base: string;
  /** The root namespace's veth into the switch (the only interface in the root namespace). */
  link: string;
  switchNs: string;
  hosts: { name: string; netns: string; address: string }[];
  /** The run's temporary directory. */
  dir: string;
}

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8", stdio: "pipe" });
const json = <T>(text: string): T[] => (text.trim() ? (JSON.parse(text) as T[]) : []);
const quietly = (fn: () => unknown) => {
  try {
    fn();
  } catch {
    // not there (any more)
  }
};

export const testAddress = (net: ClusterNet) => `${net.base}.1`;
export const cidr = (net: ClusterNet) => `${net.base}.0/24`;
const markerPath = (tag: string) => join(runDir, `${tag}.json`);

/** A run's names; the subnet is chosen when it is built. */
export function planNet(prefix: string, names: string[], dir: (tag: string) => string): ClusterNet {
  const taken = new Set([...netnsNames(), ...linkNames()]);
  for (let i = 0; i < 100; i++) {
    const tag =
      prefix +
      randomInt(36 ** 4)
        .toString(36)
        .padStart(4, "0");
    if ([...taken].some((n) => n.startsWith(tag))) continue;
    return {
      prefix,
      tag,
      pid: process.pid,
      start: procStat(process.pid)?.start ?? 0,
      base: "",
      link: `${tag}g`,
      switchNs: `${tag}_sw`,
      hosts: names.map((name) => ({ name, netns: `${tag}-${name}`, address: "" })),
      dir: dir(tag),
    };
  }
  throw new Error(`no free name for a cluster with prefix ${prefix}: sweep /run/ate-cluster-hosts`);
}

/** Chooses the subnet and creates everything, the marker first. */
export async function buildNet(net: ClusterNet): Promise<void> {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  // One chooser at a time on the machine, so two runs never take the same /24.
  const lock = {
    waitMs: 30_000,
    staleMs: 60_000,
    busy: (holder: number) => `process ${holder} holds ${runDir}/subnet.lock for over 30 s`,
  };
  await withMachineLock(join(runDir, "subnet.lock"), lock, async () => {
    net.base = chooseSubnet();
    net.hosts.forEach((h, i) => {
      h.address = `${net.base}.${10 + i}`;
    });
    writeFileSync(markerPath(net.tag), JSON.stringify(net), { mode: 0o600 });
    const sw = ["-n", net.switchNs];
    ip("netns", "add", net.switchNs);
    ip(...sw, "link", "add", "br0", "type", "bridge");
    ip(...sw, "link", "set", "br0", "addrgenmode", "none");
    ip(...sw, "link", "set", "br0", "up");
    ip("link", "add", net.link, "type", "veth", "peer", "name", "gw", "netns", net.switchNs);
    // No IPv6 anywhere: no link-local addresses, so nothing but the /24 is reachable.
    ip("link", "set", net.link, "addrgenmode", "none");
    ip("addr", "add", `${testAddress(net)}/24`, "dev", net.link);
    ip("link", "set", net.link, "up");
    ip(...sw, "link", "set", "gw", "addrgenmode", "none");
    ip(...sw, "link", "set", "gw", "master", "br0", "up");
    net.hosts.forEach((h, i) => {
      const port = `p${i}`;
      ip("netns", "add", h.netns);
      ip(...sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.netns);
      ip(...sw, "link", "set", port, "addrgenmode", "none");
      ip(...sw, "link", "set", port, "master", "br0", "up");
      ip("-n", h.netns, "link", "set", "lo", "up");
      ip("-n", h.netns, "link", "set", "eth0", "addrgenmode", "none");
      ip("-n", h.netns, "addr", "add", `${h.address}/24`, "dev", "eth0");
      ip("-n", h.netns, "link", "set", "eth0", "up");
    });
  });
}

/** A random 10.x.y.0/24 (x in 200..254) no interface, route or other run uses. */
function chooseSubnet(): string {
  const others = new Set(markers().map((m) => m.base));
  for (let i = 0; i < 200; i++) {
    const x = 200 + randomInt(55);
    // 10.203.0.0/24 belongs to the egress tests' outside network.
    if (x === 203) continue;
    const base = `10.${x}.${randomInt(256)}`;
    if (others.has(base)) continue;
    if (json(ip("-j", "-4", "addr", "show", "to", `${base}.0/24`)).length > 0) continue;
    const routes = [
      ...json<{ dst: string }>(
        ip("-j", "-4", "route", "show", "table", "all", "match", `${base}.0/24`),
      ),
      ...json<{ dst: string }>(
        ip("-j", "-4", "route", "show", "table", "all", "root", `${base}.0/24`),
      ),
    ];
    if (routes.some((r) => r.dst !== "default")) continue;
    // What the kernel would do now: no route at all, or out through a gateway (the default).
    let got: { gateway?: string }[] = [];
    try {
      got = json(ip("-j", "route", "get", `${base}.1`));
    } catch {
      // unreachable: unused
    }
    if (got.every((r) => r.gateway !== undefined)) return base;
  }
  throw new Error("no unused 10.200-254.x.0/24 on this machine after 200 tries");
}

/**
 * Checks before anything is sent: every host address leads from the root namespace into the
 * switch, and a host has its /24 and nothing else (no default route, no IPv6 route out).
 */
export function verifyNet(net: ClusterNet): void {
  for (const h of net.hosts) {
    const [r] = json<{ dev?: string; gateway?: string }>(ip("-j", "route", "get", h.address));
    if (r?.dev !== net.link || r.gateway)
      throw new Error(`${h.address} (${h.name}) routes via ${JSON.stringify(r)}, not ${net.link}`);
    const v4 = json<{ dst: string; dev: string }>(ip("-n", h.netns, "-j", "-4", "route", "show"));
    if (v4.length !== 1 || v4[0]?.dst !== cidr(net) || v4[0]?.dev !== "eth0")
      throw new Error(`${h.name} has routes other than ${cidr(net)}: ${JSON.stringify(v4)}`);
    const v6 = json<{ dst: string }>(ip("-n", h.netns, "-j", "-6", "route", "show"));
    if (v6.some((r6) => r6.dst !== "::1"))
      throw new Error(`${h.name} has IPv6 routes: ${JSON.stringify(v6)}`);
    const [t] = json<{ dev?: string }>(ip("-n", h.netns, "-j", "route", "get", testAddress(net)));
    if (t?.dev !== "eth0") throw new Error(`${h.name} does not reach the test over eth0`);
  }
}

/** Processes whose network namespace is ns. */
export function netnsPids(ns: string): number[] {
  try {
    return ip("netns", "pids", ns)
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

export function netnsNames(): string[] {
  return json<{ name: string }>(ip("-j", "netns", "list")).map((n) => n.name);
}

function linkNames(): string[] {
  return json<{ ifname: string }>(ip("-j", "link", "show")).map((l) => l.ifname);
}

/** What of the run's namespaces and interfaces still exists. */
export function leftoversOf(net: ClusterNet): string[] {
  const ns = new Set(netnsNames());
  const names = [net.switchNs, ...net.hosts.map((h) => h.netns)].filter((n) => ns.has(n));
  return linkNames().includes(net.link) ? [...names, net.link] : names;
}

/** SIGKILLs every process in these namespaces; those still there after timeoutMs. */
export async function killNetns(namespaces: string[], timeoutMs = 10_000): Promise<number[]> {
  const all = () => namespaces.flatMap(netnsPids);
  for (const pid of all()) signalPid(pid, "SIGKILL");
  await until(() => all().length === 0, timeoutMs);
  return all();
}

/** Removes the namespaces and the root link (no waiting: what is left in them was killed). */
export function removeNet(net: ClusterNet): void {
  for (const pid of [net.switchNs, ...net.hosts.map((h) => h.netns)].flatMap(netnsPids))
    signalPid(pid, "SIGKILL");
  quietly(() => ip("link", "del", net.link));
  for (const ns of [...net.hosts.map((h) => h.netns), net.switchNs])
    quietly(() => ip("netns", "del", ns));
}

export function forgetNet(net: ClusterNet): void {
  rmSync(markerPath(net.tag), { force: true });
}

/** Every run's marker (those that do not parse, or name what is not theirs, are skipped). */
function markers(): ClusterNet[] {
  let files: string[];
  try {
    files = readdirSync(runDir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    try {
      const m = JSON.parse(readFileSync(join(runDir, f), "utf8")) as ClusterNet;
      const ours = (n: string) => typeof n === "string" && n.startsWith(m.tag);
      const valid =
        f === `${m.tag}.json` &&
        m.tag.startsWith(m.prefix) &&
        [m.link, m.switchNs, ...m.hosts.map((h) => h.netns)].every(ours);
      return valid ? [m] : [];
    } catch {
      return [];
    }
  });
}

/** Whether the run's owner still runs (the same process: pid and start time). */
function ownerAlive(m: ClusterNet): boolean {
  return processAlive(m.pid) && procStat(m.pid)?.start === m.start;
}

/**
 * Removes what runs with this prefix left when their owner died: kills the processes in their
 * namespaces, calls `sweep` with their directory (for what lives outside the namespaces, e.g.
 * runsc sandboxes), removes namespaces, link, directory and marker. Returns the swept tags.
 */
export async function sweepLeftovers(
  prefix: string,
  sweep?: (leftover: { dir: string; tag: string }) => Promise<void>,
): Promise<string[]> {
  const swept: string[] = [];
  for (const m of markers()) {
    if (m.prefix !== prefix || ownerAlive(m)) continue;
    const left = await killNetns([m.switchNs, ...m.hosts.map((h) => h.netns)]);
    if (left.length > 0)
      throw new Error(`processes ${left} in ${m.tag}'s namespaces survive SIGKILL`);
    await sweep?.({ dir: m.dir, tag: m.tag });
    removeNet(m);
    rmSync(m.dir, { recursive: true, force: true });
    const still = leftoversOf(m);
    if (still.length > 0) throw new Error(`could not remove ${still.join(", ")} of ${m.tag}`);
    forgetNet(m);
    swept.push(m.tag);
  }
  return swept;
}

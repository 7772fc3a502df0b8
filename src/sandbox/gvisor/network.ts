import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";
import { drainChain, WorkerDrain } from "./drain.ts";
import { workerNatRestore } from "./egress-rules.ts";
import { type Gated, gated } from "./gated.ts";
import { gatewayMac, innerAddress, innerGateway, innerMac } from "./inner-network.ts";
import { ipBatch } from "./ip-batch.ts";
import { iptablesRestore, run } from "./iptables-restore.ts";

/**
 * Worker networking. Every sandbox wakes up in the same network wherever it lands: its own
 * namespace with `eth0` = 10.88.0.2/24 (fixed MAC), gateway 10.88.0.1, like a Kubernetes pod.
 * In front of it, each worker has a NAT namespace reached from the node over a veth at the
 * worker's own link-local address; DNAT forwards that address to the fixed inner one. A
 * sandbox checkpointed on one worker thus restores unchanged onto any other. The sandbox's
 * own traffic leaves the same way, masqueraded as the worker's address (egress.ts decides on
 * the node what it may reach), unless the worker's egress is `none`.
 */
export interface NetworkOptions {
  /** Prefix of namespace and interface names; distinct per node agent on one machine. Default "ate". */
  prefix?: string;
  /** Third octet where worker /30s start in 169.254.0.0/16. Default 64. */
  subnetBase?: number;
  /** How many /24s from subnetBase the workers use (64 workers each). Default 4. */
  subnets?: number;
}

/** The network of a node agent that names none (the first `ate up` on a machine). */
export const defaultNetwork = { prefix: "ate", subnetBase: 64, subnets: 4 } as const;

/** Workers per /24: each has a /30 (the node's side and the worker's address). */
export const workersPerSubnet = 64;

/** Checks a prefix: 1-5 lower-case letters and digits (interface names are at most 15 bytes). */
export function checkNetworkPrefix(prefix: string, flag = "network prefix"): void {
  if (!/^[a-z][a-z0-9]{0,4}$/.test(prefix))
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(prefix)}: must be 1-5 lower-case letters and digits, starting with a letter`,
    );
}

/** Checks a range of /24s in 169.254.0.0/16 (1..254; 0 and 255 are reserved for link-local). */
export function checkSubnetRange(base: number, subnets: number, flag = "subnet"): void {
  if (!Number.isInteger(subnets) || subnets < 1 || subnets > 64)
    throw new AteError(
      Code.InvalidArgument,
      `${flag}: ${subnets} subnets: give an integer from 1 to 64`,
    );
  if (!Number.isInteger(base) || base < 1 || base + subnets - 1 > 254)
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${base}: give an integer from 1 to ${255 - subnets} (workers use 169.254.<${flag}>.0 to 169.254.<${flag}+${subnets - 1}>.255)`,
    );
  // 169.254.169.0/24 holds cloud metadata (169.254.169.254); routers refuse worker addresses there.
  if (base <= 169 && base + subnets - 1 >= 169)
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${base}: workers would use 169.254.169.0/24, where cloud metadata services live; give a range below or above it (e.g. ${flag} 64)`,
    );
}

/** Whether a name is one of the namespaces or host interfaces workers with this prefix use. */
export function workerIndexOf(prefix: string, name: string): number | undefined {
  const m = name.match(/^(.+)-w(\d+)(-sb)?$/);
  return m && m[1] === prefix ? Number(m[2]) : undefined;
}

/** Where the machine's network already is in use: what two node agents must not share. */
export interface MachineNetworkUse {
  /** Network namespaces and host interfaces, by name. */
  names: string[];
  /** Link-local addresses and routes within one /24 (169.254.<octet>.0/24 or smaller). */
  linkLocal: { octet: number; what: string; dev?: string }[];
}

/** Reads the machine's network namespaces, interfaces, link-local addresses and routes. */
export async function machineNetworkUse(): Promise<MachineNetworkUse> {
  const json = async <T>(...args: string[]): Promise<T[]> =>
    JSON.parse((await exec("ip", ["-j", ...args])).stdout.trim() || "[]") as T[];
  const netns = await json<{ name: string }>("netns", "list");
  const links = await json<{ ifname: string }>("link", "show");
  const addrs = await json<{ ifname: string; addr_info?: { local?: string }[] }>(
    "-4",
    "addr",
    "show",
  );
  const routes = await json<{ dst?: string; dev?: string }>("-4", "route", "show", "table", "all");
  const linkLocal: MachineNetworkUse["linkLocal"] = [];
  const octetOf = (cidr: string) => {
    const m = cidr.match(/^169\.254\.(\d+)\.\d+(?:\/(\d+))?$/);
    // A route wider than a /24 (e.g. the usual 169.254.0.0/16 on-link route) claims no /24.
    return m && Number(m[2] ?? 32) >= 24 ? Number(m[1]) : undefined;
  };
  for (const l of addrs)
    for (const a of l.addr_info ?? []) {
      const octet = a.local ? octetOf(a.local) : undefined;
      if (octet !== undefined)
        linkLocal.push({ octet, what: `address ${a.local} on ${l.ifname}`, dev: l.ifname });
    }
  for (const r of routes) {
    const octet = r.dst ? octetOf(r.dst) : undefined;
    if (octet !== undefined)
      linkLocal.push({
        octet,
        what: `route ${r.dst}${r.dev ? ` via ${r.dev}` : ""}`,
        ...(r.dev ? { dev: r.dev } : {}),
      });
  }
  return { names: [...netns.map((n) => n.name), ...links.map((l) => l.ifname)], linkLocal };
}

export { innerAddress } from "./inner-network.ts";

export class WorkerNetworks {
  /** Closing the connections into a worker's sandbox before a checkpoint. */
  readonly drain = new WorkerDrain((index) => this.natNs(index));
  private readonly prefix: string;
  private readonly base: number;
  private readonly subnets: number;

  constructor(options: NetworkOptions = {}) {
    this.prefix = options.prefix ?? defaultNetwork.prefix;
    this.base = options.subnetBase ?? defaultNetwork.subnetBase;
    this.subnets = options.subnets ?? defaultNetwork.subnets;
    checkNetworkPrefix(this.prefix);
    checkSubnetRange(this.base, this.subnets);
  }

  /** The names and addresses this node's workers use. */
  get range(): { prefix: string; subnetBase: number; subnets: number } {
    return { prefix: this.prefix, subnetBase: this.base, subnets: this.subnets };
  }

  /** How many workers this network has addresses for. */
  get capacity(): number {
    return this.subnets * workersPerSubnet;
  }

  natNs(index: number): string {
    return `${this.prefix}-w${index}`;
  }

  sandboxNs(index: number): string {
    return `${this.prefix}-w${index}-sb`;
  }

  /** The path runsc joins for the sandbox's network. */
  sandboxNsPath(index: number): string {
    return `/var/run/netns/${this.sandboxNs(index)}`;
  }

  private hostLink(index: number): string {
    return `${this.prefix}-w${index}`;
  }

  /** The worker's address on the node (what clients connect to), and the node's side of the link. */
  addresses(index: number): { worker: string; host: string } {
    if (!Number.isInteger(index) || index < 0 || index >= this.capacity)
      throw new AteError(
        Code.OutOfRange,
        `worker index ${index} is beyond this node's address range (169.254.${this.base}.0 to 169.254.${this.base + this.subnets - 1}.255: ${this.capacity} workers)`,
      );
    const third = this.base + Math.floor(index / workersPerSubnet);
    const fourth = (index % workersPerSubnet) * 4;
    return { host: `169.254.${third}.${fourth + 1}`, worker: `169.254.${third}.${fourth + 2}` };
  }

  /**
   * Creates the worker's namespaces from scratch (removing any leftovers first). `apiPort`: the
   * port of the node's Control API gateways, which a default worker's port 80 on its gateway
   * address leads to (see workerNatRestore).
   */
  async create(
    index: number,
    egress: "default" | "none" = "default",
    apiPort?: number,
  ): Promise<string> {
    const { host, worker } = this.addresses(index);
    await this.destroy(index);
    await this.checkAddressFree(host);
    const nat = this.natNs(index);
    const link = this.hostLink(index);
    await exec("ip", ["netns", "add", nat]);
    await exec("ip", ["link", "add", link, "type", "veth", "peer", "name", "out0", "netns", nat]);
    await exec("ip", ["addr", "add", `${host}/30`, "dev", link]);
    await exec("ip", ["link", "set", link, "up"]);
    const inNat = (...args: string[]) => exec("ip", ["-n", nat, ...args]);
    await inNat("addr", "add", `${worker}/30`, "dev", "out0");
    await inNat("link", "set", "out0", "up");
    await inNat("link", "set", "lo", "up");
    await exec("ip", ["netns", "exec", nat, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    const ipt = (...args: string[]) =>
      exec("ip", ["netns", "exec", nat, "iptables", "-w", ...args]);
    await ipt(
      "-t",
      "nat",
      "-A",
      "PREROUTING",
      "-d",
      worker,
      "-p",
      "tcp",
      "-j",
      "DNAT",
      "--to-destination",
      innerAddress,
    );
    await ipt("-t", "nat", "-A", "POSTROUTING", "-o", "gw0", "-j", "MASQUERADE");
    // The drain's chain (empty) and its jump, first in FORWARD: see WorkerDrain.blockNew.
    const drain = [
      "*filter",
      `:${drainChain} - [0:0]`,
      `-I FORWARD 1 -j ${drainChain}`,
      "COMMIT",
      "",
    ];
    const rules = workerNatRestore(egress, host, innerGateway, apiPort);
    await iptablesRestore(rules + drain.join("\n"), nat);
    if (egress === "default") await inNat("route", "add", "default", "via", host, "dev", "out0");
    await this.resetSandbox(index);
    return worker;
  }

  /**
   * A sandbox namespace ready for the next sandbox. gVisor takes eth0's addresses and routes
   * into its own stack and leaves the host side bare, so every new sandbox needs eth0 set up
   * again: where the namespace and eth0 are there (the worker's last sandbox is gone), in one
   * `ip -batch` (≈10–40 ms); otherwise the namespace and its link are made anew (5 runs of ip,
   * where there were 12: ≈0.1–0.45 s on a busy 2-core machine).
   */
  async resetSandbox(index: number, reuse = true): Promise<void> {
    const sb = this.sandboxNs(index);
    // Reused only when the former sandbox is known to be gone: one that may still run would
    // share the next one's eth0 (same address and MAC) in a reused namespace.
    const reused =
      reuse &&
      (await ipBatch(["addr flush dev eth0", ...sandboxSetUp], sb).then(
        () => true,
        () => false,
      ));
    if (!reused) await this.newSandboxNs(index, sandboxSetUp);
  }

  /**
   * resetSandbox and unblock after a sandbox stopped, from one process (a shell: the agent's
   * own fork and exec of each process blocks its event loop ≈10–30 ms on a busy machine).
   * `pre`: that shell, prepared with the checkpoint (gatedReset).
   */
  async resetAfterSandbox(index: number, reuse: boolean, pre?: Gated): Promise<void> {
    if (!reuse) {
      pre?.cancel();
      await Promise.all([this.resetSandbox(index, false), this.drain.unblock(index)]);
      return;
    }
    const code = pre
      ? await pre.go()
      : await run("/bin/sh", ["-c", this.resetScript(index)], "").then(
          (r) => r.code,
          () => 1,
        );
    // The unblock's failure is ignored, as unblock's; a failed reset makes the namespace anew.
    if (code !== 0) await this.newSandboxNs(index, sandboxSetUp);
  }

  /** resetAfterSandbox's shell, run through the launcher when resetAfterSandbox is given it. */
  gatedReset(index: number): Gated {
    return gated(["/bin/sh", "-c", this.resetScript(index)]);
  }

  private resetScript(index: number): string {
    // Names are the validated prefix and a number: nothing in them the shell would expand.
    return [
      `ip netns exec ${this.natNs(index)} iptables-restore -w --noflush <<'EOF'`,
      "*filter",
      `:${drainChain} - [0:0]`,
      "COMMIT",
      "EOF",
      `exec ip -n ${this.sandboxNs(index)} -batch - <<'EOF'`,
      "addr flush dev eth0",
      ...sandboxSetUp,
      "EOF",
      "",
    ].join("\n");
  }

  private async newSandboxNs(index: number, setUp: string[]): Promise<void> {
    const nat = this.natNs(index);
    const sb = this.sandboxNs(index);
    // gw0 first: a namespace's own clean-up (its end of the pair) is asynchronous in the kernel.
    // The old sandbox, if any is left, keeps its namespace until it is gone; the name is free.
    await execQuiet("ip", ["-n", nat, "link", "del", "gw0"]);
    await execQuiet("ip", ["netns", "del", sb]);
    await exec("ip", ["netns", "add", sb]);
    await ipBatch(
      [
        `link add gw0 address ${gatewayMac} type veth peer name eth0 netns ${sb}`,
        `addr add ${innerGateway}/24 dev gw0`,
        "link set gw0 up",
      ],
      nat,
    );
    await ipBatch(setUp, sb);
  }

  /**
   * Refuses a worker /30 that an interface of the machine already has (another node agent
   * with the same subnet): two links with one address send the node's traffic to either.
   */
  private async checkAddressFree(host: string): Promise<void> {
    const { stdout } = await exec("ip", ["-j", "-4", "addr", "show", "to", `${host}/30`]);
    const holders = (JSON.parse(stdout || "[]") as { ifname: string; addr_info?: unknown[] }[])
      .filter((l) => l.addr_info?.length)
      .map((l) => l.ifname);
    if (holders.length)
      throw new AteError(
        Code.FailedPrecondition,
        `worker address ${host}/30 is already used by interface ${holders.join(", ")} (another ate up or node agent?): give this one its own subnet (ate up --net-subnet)`,
      );
  }

  async destroy(index: number): Promise<void> {
    await execQuiet("ip", ["netns", "del", this.sandboxNs(index)]);
    await execQuiet("ip", ["netns", "del", this.natNs(index)]);
    await execQuiet("ip", ["link", "del", this.hostLink(index)]);
  }
}

/** A sandbox namespace's eth0 and routes, as `ip -batch` lines (see resetSandbox). */
const sandboxSetUp = [
  `link set eth0 address ${innerMac}`,
  `addr add ${innerAddress}/24 dev eth0`,
  "link set eth0 up",
  "link set lo up",
  `route replace default via ${innerGateway}`,
];

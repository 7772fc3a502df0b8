import { fileURLToPath } from "node:url";
import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";

/**
 * Worker networking. Every sandbox wakes up in the same network wherever it lands: its own
 * namespace with `eth0` = 10.88.0.2/24 (fixed MAC), gateway 10.88.0.1, like a Kubernetes pod.
 * In front of it, each worker has a NAT namespace reached from the node over a veth at the
 * worker's own link-local address; DNAT forwards that address to the fixed inner one. A
 * sandbox checkpointed on one worker thus restores unchanged onto any other.
 */
export interface NetworkOptions {
  /** Prefix of namespace and interface names; distinct per node agent on one machine. Default "ate". */
  prefix?: string;
  /** Third octet where worker /30s start in 169.254.0.0/16 (64..191 by default). */
  subnetBase?: number;
}

export const innerAddress = "10.88.0.2";
const innerGateway = "10.88.0.1";
const innerMac = "02:00:0a:58:00:02";
const gatewayMac = "02:00:0a:58:00:01";

export interface Flow {
  state: string;
  /** The port the sandbox sees the client on (after masquerading). */
  innerClientPort: number;
  innerPort: number;
}

export class WorkerNetworks {
  private readonly prefix: string;
  private readonly base: number;

  constructor(options: NetworkOptions = {}) {
    this.prefix = options.prefix ?? "ate";
    this.base = options.subnetBase ?? 64;
    if (!/^[a-z][a-z0-9]{0,4}$/.test(this.prefix))
      throw new AteError(
        Code.InvalidArgument,
        `network prefix "${this.prefix}" must be 1-5 lower-case letters and digits`,
      );
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
    const third = this.base + Math.floor(index / 64);
    if (index < 0 || third > 254)
      throw new AteError(
        Code.OutOfRange,
        `worker index ${index} is beyond this node's address range`,
      );
    const fourth = (index % 64) * 4;
    return { host: `169.254.${third}.${fourth + 1}`, worker: `169.254.${third}.${fourth + 2}` };
  }

  /** Creates the worker's namespaces from scratch (removing any leftovers first). */
  async create(index: number): Promise<string> {
    await this.destroy(index);
    const nat = this.natNs(index);
    const { host, worker } = this.addresses(index);
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
    await this.resetSandbox(index);
    return worker;
  }

  /**
   * A fresh sandbox namespace. gVisor takes eth0's addresses and routes into its own stack and
   * leaves the host side bare, so every new sandbox needs a newly configured namespace.
   */
  async resetSandbox(index: number): Promise<void> {
    const nat = this.natNs(index);
    const sb = this.sandboxNs(index);
    await execQuiet("ip", ["-n", nat, "link", "del", "gw0"]);
    await execQuiet("ip", ["netns", "del", sb]);
    await exec("ip", ["netns", "add", sb]);
    await exec("ip", [
      "-n",
      nat,
      "link",
      "add",
      "gw0",
      "address",
      gatewayMac,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      sb,
    ]);
    await exec("ip", ["-n", nat, "addr", "add", `${innerGateway}/24`, "dev", "gw0"]);
    await exec("ip", ["-n", nat, "link", "set", "gw0", "up"]);
    await exec("ip", ["-n", sb, "link", "set", "eth0", "address", innerMac]);
    await exec("ip", ["-n", sb, "addr", "add", `${innerAddress}/24`, "dev", "eth0"]);
    await exec("ip", ["-n", sb, "link", "set", "eth0", "up"]);
    await exec("ip", ["-n", sb, "link", "set", "lo", "up"]);
    await exec("ip", ["-n", sb, "route", "add", "default", "via", innerGateway]);
  }

  async destroy(index: number): Promise<void> {
    await execQuiet("ip", ["netns", "del", this.sandboxNs(index)]);
    await execQuiet("ip", ["netns", "del", this.natNs(index)]);
    await execQuiet("ip", ["link", "del", this.hostLink(index)]);
  }

  private drainRule(): string[] {
    return [
      "FORWARD",
      "-o",
      "gw0",
      "-p",
      "tcp",
      "--syn",
      "-m",
      "comment",
      "--comment",
      "ate-drain",
      "-j",
      "REJECT",
      "--reject-with",
      "tcp-reset",
    ];
  }

  /** Refuses new connections into the sandbox (clients get a reset at once). */
  async blockNew(index: number): Promise<void> {
    await this.unblock(index);
    const [chain, ...spec] = this.drainRule();
    await exec("ip", [
      "netns",
      "exec",
      this.natNs(index),
      "iptables",
      "-w",
      "-I",
      chain as string,
      "1",
      ...spec,
    ]);
  }

  async unblock(index: number): Promise<void> {
    await execQuiet("ip", [
      "netns",
      "exec",
      this.natNs(index),
      "iptables",
      "-w",
      "-D",
      ...this.drainRule(),
    ]);
  }

  /** TCP connections to the sandbox that are not yet closed (TIME_WAIT is closed enough). */
  async openFlows(index: number): Promise<Flow[]> {
    const { stdout } = await exec(
      "ip",
      [
        "netns",
        "exec",
        this.natNs(index),
        "conntrack",
        "-L",
        "-p",
        "tcp",
        "--reply-src",
        innerAddress,
      ],
      {
        code: Code.Internal,
      },
    ).catch(() => ({ stdout: "" }));
    const flows: Flow[] = [];
    for (const line of stdout.split("\n")) {
      const m = line.match(
        /^tcp\s+\d+\s+\d+\s+(\S+)\s.*src=10\.88\.0\.2 dst=\S+ sport=(\d+) dport=(\d+)/,
      );
      if (!m) continue;
      const state = m[1] as string;
      if (state === "TIME_WAIT" || state === "CLOSE") continue;
      flows.push({ state, innerPort: Number(m[2]), innerClientPort: Number(m[3]) });
    }
    return flows;
  }

  /**
   * Resets connections from the node's side so the sandbox's endpoints close for real. The
   * flow's tracking is dropped, then a SYN from the gateway on the same 4-tuple draws the
   * sandbox's challenge ACK, which the kernel answers with an in-window RST.
   */
  async resetFlows(index: number, flows: Flow[]): Promise<void> {
    const nat = this.natNs(index);
    for (const f of flows) {
      await execQuiet("ip", [
        "netns",
        "exec",
        nat,
        "conntrack",
        "-D",
        "-p",
        "tcp",
        "--reply-src",
        innerAddress,
        "--reply-port-dst",
        String(f.innerClientPort),
      ]);
    }
    const args = flows.map((f) => `${f.innerClientPort}:${f.innerPort}`);
    await exec(
      "ip",
      ["netns", "exec", nat, process.execPath, resetHelper, innerGateway, innerAddress, ...args],
      { timeoutMs: 10000 },
    );
  }
}

const resetHelper = fileURLToPath(new URL("./reset-connections.mjs", import.meta.url));

import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { AteError, Code } from "../../errors/index.ts";
import { exec, execQuiet } from "../exec.ts";
import { innerAddress, innerGateway } from "./inner-network.ts";
import { iptablesRestore, iptablesRestoreThen } from "./iptables-restore.ts";

export interface Flow {
  state: string;
  /** The port the sandbox sees the client on (after masquerading). */
  innerClientPort: number;
  innerPort: number;
}

/**
 * A worker's drain before a checkpoint, in its NAT namespace: new connections into the sandbox
 * refused, open ones listed and reset from the node's side, and new ones let in again.
 */
export class WorkerDrain {
  /** `natNs`: the worker's NAT namespace (see WorkerNetworks). */
  constructor(private readonly natNs: (index: number) => string) {}

  /**
   * Closes every connection into the sandbox: new ones are refused, in-flight ones get until
   * `deadline` (epoch ms) to finish, the rest are reset from the node's side, and none may
   * remain (else FAILED_PRECONDITION, new connections still refused: the caller unblocks).
   */
  async closeAll(index: number, worker: string, deadline: number, signal?: AbortSignal) {
    // New connections refused, then the open ones listed (one process chain).
    let open = await this.blockNew(index);
    while (open.length && Date.now() < deadline) {
      await sleep(25, undefined, signal ? { signal } : {});
      open = await this.openFlows(index);
    }
    // Checked again only after a reset: with new connections refused, none found stays none.
    if (open.length) await this.resetFlows(index, open);
    const left = open.length ? await this.openFlows(index) : open;
    if (left.length) {
      throw new AteError(
        Code.FailedPrecondition,
        `worker ${worker}: ${left.length} connection(s) into the sandbox could not be closed (${left.map((f) => `${f.state} :${f.innerPort}`).join(", ")}); not checkpointing, the actor keeps running`,
      );
    }
  }

  /**
   * Refuses new connections into the sandbox (clients get a reset at once), then lists the
   * connections still open, in one process chain (this runs on every checkpoint: ≈25 ms where
   * three `iptables`/`conntrack` runs took ≈75). The refusal is a rule added to a chain of its
   * own (emptied again by unblock, after every checkpoint), and the same atomic input checks
   * (`-C`) that FORWARD jumps to that chain: any rule deleted or replaced makes iptables-restore
   * wait for the kernel to release the old rules (≈15 ms here, measured), adding one does not
   * (≈4 ms in all). Blocking twice stacks two identical rules, harmless until unblock empties
   * the chain; no other rule in this namespace accepts traffic towards the sandbox (`-o gw0`),
   * so where the jump stands does not matter. A namespace without the jump (made by an older
   * agent) fails that input as a whole; the chain is then filled, the jump inserted and the
   * rule an older agent inserted removed.
   */
  async blockNew(index: number): Promise<Flow[]> {
    const nat = this.natNs(index);
    const fill = [`:${drainChain} - [0:0]`, `-A ${drainChain} ${drainRule}`];
    const fast = await iptablesRestoreThen(
      [
        "*filter",
        `-C FORWARD -j ${drainChain}`,
        `-A ${drainChain} ${drainRule}`,
        "COMMIT",
        "",
      ].join("\n"),
      nat,
      listFlows,
    );
    if (fast.restored) {
      // A listing that failed is asked again on its own (which throws if it fails too):
      // "none open" is never assumed, a connection left open would restore into a dead actor.
      return fast.code === 0 ? parseFlows(fast.stdout) : this.openFlows(index);
    }
    // Any jump left is deleted first (none: that line alone fails, so the input is tried
    // again without it); exactly one jump, first, afterwards.
    const jump = [`-D FORWARD -j ${drainChain}`, `-I FORWARD 1 -j ${drainChain}`];
    await iptablesRestore(["*filter", ...fill, ...jump, "COMMIT", ""].join("\n"), nat).catch(() =>
      iptablesRestore(["*filter", ...fill, jump[1], "COMMIT", ""].join("\n"), nat),
    );
    await this.unblockLegacy(index);
    return this.openFlows(index);
  }

  /** Lets new connections in again (empties the drain chain; creates it where missing). */
  async unblock(index: number): Promise<void> {
    await iptablesRestore(`*filter\n:${drainChain} - [0:0]\nCOMMIT\n`, this.natNs(index)).catch(
      () => {},
    );
  }

  /** Also removes the refusal an older agent inserted into FORWARD itself (adopting its workers). */
  async unblockLegacy(index: number): Promise<void> {
    await execQuiet("ip", [
      "netns",
      "exec",
      this.natNs(index),
      "iptables",
      "-w",
      "-D",
      "FORWARD",
      ...legacyDrainRule,
    ]);
  }

  /**
   * TCP connections to the sandbox that are not yet closed (TIME_WAIT is closed enough). A
   * listing that fails throws (INTERNAL): the checkpoint is refused, not made blind.
   */
  async openFlows(index: number): Promise<Flow[]> {
    const { stdout } = await exec(
      "ip",
      ["netns", "exec", this.natNs(index), "/bin/sh", "-c", listFlows],
      { code: Code.Internal },
    );
    return parseFlows(stdout);
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

/** The drain's chain in the worker's NAT namespace (made with the namespace), and its one rule. */
export const drainChain = "ate-drain";
const drainRule = "-o gw0 -p tcp --syn -j REJECT --reject-with tcp-reset";
/** The rule older agents inserted into FORWARD directly (found by its comment). */
const legacyDrainRule =
  "-o gw0 -p tcp --syn -m comment --comment ate-drain -j REJECT --reject-with tcp-reset".split(" ");

/**
 * Lists the tracked connections (a shell command run in the worker's NAT namespace). The
 * namespace's /proc/net/nf_conntrack where the kernel has it: reading it costs ≈1 ms, where
 * `conntrack -L` takes ≈7 ms even for an empty namespace (its netlink dump walks the whole
 * machine's table, 262144 buckets here) and this runs on every checkpoint. Either way the
 * lines carry both tuples, and parseFlows keeps those whose reply comes from the sandbox.
 */
const listFlows = [
  "[ -r /proc/net/nf_conntrack ] && exec cat /proc/net/nf_conntrack",
  `exec conntrack -L -p tcp --reply-src ${innerAddress}`,
].join("\n");

/**
 * `conntrack -L` or /proc/net/nf_conntrack lines → the TCP connections into the sandbox (the
 * reply tuple's source is the sandbox) not yet closed (TIME_WAIT is closed enough).
 */
export function parseFlows(stdout: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of stdout.split("\n")) {
    // /proc/net/nf_conntrack lines start with the layer 3 protocol (`ipv4     2 `).
    const m = line.match(/^(?:ipv4\s+\d+\s+)?tcp\s+\d+\s+\d+\s+(\S+)\s/);
    if (!m) continue;
    const state = m[1] as string;
    if (state === "TIME_WAIT" || state === "CLOSE") continue;
    // The original tuple, then the reply's (either may be followed by other fields).
    const tuples = [...line.matchAll(/src=(\S+) dst=\S+ sport=(\d+) dport=(\d+)/g)];
    const reply = tuples[1];
    if (!reply || reply[1] !== innerAddress) continue;
    flows.push({ state, innerPort: Number(reply[2]), innerClientPort: Number(reply[3]) });
  }
  return flows;
}

const resetHelper = fileURLToPath(new URL("./reset-connections.mjs", import.meta.url));

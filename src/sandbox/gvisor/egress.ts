import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AteError, Code } from "../../errors/index.ts";
import { withMachineLock } from "../../machine-lock/index.ts";
import { exec } from "../exec.ts";
import {
  chainsOf,
  guardChain,
  guardJump,
  guardRestore,
  type HostEgressPolicy,
  hostChainsRestore,
  hostJumps,
  type Jump,
  jumpComment,
} from "./egress-rules.ts";
import { iptablesRestore as restore } from "./iptables-restore.ts";
import { workerIndexOf } from "./network.ts";

/** Where node agents on this machine keep what they changed about forwarding (gone on reboot). */
export const defaultEgressRunDir = "/run/ate/egress";
const ipForward = "/proc/sys/net/ipv4/ip_forward";

/**
 * The node's side of egress: its chains, the jumps into them, masquerading, and
 * net.ipv4.ip_forward. Installed when a worker is prepared or adopted, removed with the
 * node's last worker link. If forwarding was off, ate turns it on, guards FORWARD so the host
 * routes nothing else, and turns it off again when no ate node on the machine needs it.
 */
export class HostEgress {
  private readonly runDir: string;

  constructor(
    private readonly policy: HostEgressPolicy,
    options: { runDir?: string } = {},
  ) {
    this.runDir = options.runDir ?? defaultEgressRunDir;
  }

  /** Installs (or repairs) everything; converges from any half-done state. */
  async install(): Promise<void> {
    await this.locked(() => this.installLocked());
  }

  /**
   * Installs again when any of the node's rules is gone (a firewall reload, `iptables -F`) while
   * it still has worker links: without them its workers would reach everything. True if it did.
   */
  async repairIfGone(): Promise<boolean> {
    return this.locked(async () => {
      if (!(await this.hasLinks()) || (await this.intact())) return false;
      await this.installLocked();
      return true;
    });
  }

  /** Whether every jump is in place, every chain filled, and the guard too if ate needs it. */
  private async intact(): Promise<boolean> {
    const { stdout } = await exec("iptables-save", []);
    const lines = new Set(stdout.split("\n"));
    const filled = (chain: string) => stdout.includes(`\n-A ${chain} `);
    const guarded = await exists(join(this.runDir, "ip_forward-was-0"));
    return (
      hostJumps(this.policy).every((j) => lines.has(`-A ${j.chain} ${j.spec.join(" ")}`)) &&
      Object.values(chainsOf(this.policy.prefix)).every(filled) &&
      (!guarded || (lines.has(`-A FORWARD ${guardJump.join(" ")}`) && filled(guardChain)))
    );
  }

  private async hasLinks(): Promise<boolean> {
    const { stdout } = await exec("ip", ["-j", "link", "show"]);
    const names = (JSON.parse(stdout || "[]") as { ifname: string }[]).map((l) => l.ifname);
    return names.some((n) => workerIndexOf(this.policy.prefix, n) !== undefined);
  }

  private async installLocked(): Promise<void> {
    const marker = join(this.runDir, "ip_forward-was-0");
    const forwarding = (await readFile(ipForward, "utf8")).trim() === "1";
    // Recorded before anything changes, so a crash leaves a note of what to undo.
    if (!forwarding) await writeFile(marker, "ate turned net.ipv4.ip_forward on\n");
    const guarded = await exists(marker);
    await restore(hostChainsRestore(this.policy) + (guarded ? guardRestore() : ""));
    for (const table of ["filter", "nat"] as const) {
      const mine = hostJumps(this.policy).filter((j) => j.table === table);
      for (const chain of new Set(mine.map((j) => j.chain))) {
        const want = mine.filter((j) => j.chain === chain);
        await ensureJumps(table, chain, want, jumpComment(this.policy.prefix));
      }
    }
    if (guarded) await ensureGuardLast();
    if (!forwarding)
      await writeFile(ipForward, "1\n").catch((err: Error) => {
        throw new AteError(
          Code.FailedPrecondition,
          `cannot turn on net.ipv4.ip_forward (${err.message}): actors reach the outside through this node's forwarding; set it to 1 (sysctl -w net.ipv4.ip_forward=1) or give ate a writable /proc/sys`,
          [],
          { cause: err },
        );
      });
  }

  /** Removes the node's rules once none of its worker links is left on the host. */
  async removeIfUnused(): Promise<boolean> {
    return this.locked(async () => {
      if (await this.hasLinks()) return false;
      await this.removeLocked();
      return true;
    });
  }

  private async removeLocked(): Promise<void> {
    const tag = jumpComment(this.policy.prefix);
    for (const [table, chain] of [
      ["filter", "INPUT"],
      ["filter", "FORWARD"],
      ["nat", "POSTROUTING"],
    ] as const)
      for (const rule of await rules(table, chain))
        if (commentOf(rule) === tag) await del(table, chain, rule);
    const c = chainsOf(this.policy.prefix);
    const chains = [
      ["filter", c.input],
      ["filter", c.forward],
      ["filter", c.deny],
      ["nat", c.nat],
    ] as const;
    // Emptied first: the forward chain jumps to the deny chain, which cannot go while used.
    for (const [table, chain] of chains) await iptablesQuiet(table, "-F", chain);
    for (const [table, chain] of chains) await iptablesQuiet(table, "-X", chain);
    // Forwarding goes back off only when ate turned it on and no ate node still uses it.
    const marker = join(this.runDir, "ip_forward-was-0");
    if (!(await exists(marker))) return;
    const left = (await rules("filter", "FORWARD")).some((r) =>
      commentOf(r)?.startsWith("ate-egress-"),
    );
    if (left) return;
    await writeFile(ipForward, "0\n");
    for (const rule of await rules("filter", "FORWARD"))
      if (commentOf(rule) === guardChain) await del("filter", "FORWARD", rule);
    await iptablesQuiet("filter", "-F", guardChain);
    await iptablesQuiet("filter", "-X", guardChain);
    await rm(marker, { force: true });
  }

  /**
   * One change at a time on the machine: node agents of other prefixes decide about the
   * shared ip_forward and guard too.
   */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.runDir, { recursive: true, mode: 0o700 });
    const lock = join(this.runDir, "lock");
    return withMachineLock(
      lock,
      {
        waitMs: 30_000,
        staleMs: 10_000,
        busy: (holder) =>
          `the egress lock ${lock} is held by process ${holder || "(unknown)"} for 30 s; if no ate node agent is changing the firewall, remove it`,
      },
      fn,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

/** `iptables -S` lines of one chain, as tokens after `-A <chain>`. */
async function rules(table: string, chain: string): Promise<string[][]> {
  const { stdout } = await exec("iptables", ["-w", "-t", table, "-S", chain]);
  return stdout
    .split("\n")
    .filter((l) => l.startsWith(`-A ${chain} `))
    .map((l) => l.split(" ").slice(2));
}

function commentOf(rule: string[]): string | undefined {
  const i = rule.indexOf("--comment");
  return i >= 0 ? rule[i + 1]?.replace(/^"|"$/g, "") : undefined;
}

function del(table: string, chain: string, rule: string[]): Promise<unknown> {
  return exec("iptables", ["-w", "-t", table, "-D", chain, ...rule]);
}

async function iptablesQuiet(table: string, ...args: string[]): Promise<void> {
  await exec("iptables", ["-w", "-t", table, ...args]).catch(() => {});
}

/** Leaves exactly the wanted jumps tagged `tag` in a chain (missing ones go first). */
async function ensureJumps(table: string, chain: string, want: Jump[], tag: string) {
  const have = (await rules(table, chain)).filter((r) => commentOf(r) === tag);
  const key = (r: string[]) => r.join(" ");
  const wanted = new Set(want.map((j) => key(j.spec)));
  const seen = new Set<string>();
  for (const r of have) {
    // A stale jump (another version's) or a duplicate left by a crash.
    if (!wanted.has(key(r)) || seen.has(key(r))) await del(table, chain, r);
    seen.add(key(r));
  }
  for (const j of want)
    if (!seen.has(key(j.spec)))
      await exec("iptables", ["-w", "-t", table, "-I", chain, "1", ...j.spec]);
}

/** The guard's jump: once, after every ate node's jumps in FORWARD (which decide first). */
async function ensureGuardLast(): Promise<void> {
  let list = await rules("filter", "FORWARD");
  const isGuard = (r: string[]) => commentOf(r) === guardChain;
  const lastAte = list.reduce((at, r, i) => (commentOf(r)?.startsWith("ate-egress-") ? i : at), -1);
  const guards = list.map((r, i) => (isGuard(r) ? i : -1)).filter((i) => i >= 0);
  if (guards.length === 1 && (guards[0] as number) > lastAte) return;
  for (const r of list.filter(isGuard)) await del("filter", "FORWARD", r);
  list = await rules("filter", "FORWARD");
  const after = list.reduce((at, r, i) => (commentOf(r)?.startsWith("ate-egress-") ? i : at), -1);
  await exec("iptables", ["-w", "-I", "FORWARD", String(after + 2), ...guardJump]);
}

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { processAlive, withMachineLock } from "../machine-lock/index.ts";
import {
  checkNetworkPrefix,
  checkSubnetRange,
  defaultNetwork,
  type MachineNetworkUse,
  machineNetworkUse,
  type NetworkOptions,
  workerIndexOf,
} from "../sandbox/gvisor/index.ts";

/** The worker network a substrate uses: its names and its link-local range. */
export interface NetworkChoice {
  prefix: string;
  subnetBase: number;
  subnets: number;
}

export interface NetworkClaimOptions {
  stateDir: string;
  /** What was asked for explicitly (flags); what is unset is chosen. */
  requested?: NetworkOptions;
  /** Machine-wide claims of every substrate's network. Default /run/ate/networks. */
  claimsDir?: string;
  /** The machine's network as it is now (tests give a fixed view). */
  machine?: () => Promise<MachineNetworkUse>;
}

/** Where the substrates on a machine record the networks they use. */
export const defaultClaimsDir = "/run/ate/networks";

interface Claim extends NetworkChoice {
  stateDir: string;
  pid: number;
}

/**
 * Picks the worker network of a substrate so that no two on one machine share namespace or
 * interface names or addresses: each claim is recorded machine-wide (claimsDir) and in the
 * state dir (network.json, so the choice stays the same across restarts, as workers are
 * recovered by name). What is asked for explicitly must be free, else it is refused naming
 * the flag; what is not is the state dir's earlier choice, else the default, else the first
 * free one. Free means: no other live claim (a running substrate, or a stopped one whose state
 * dir still records it) and nothing on the machine using the names or addresses except this
 * state dir's own workers.
 */
export async function claimNetwork(o: NetworkClaimOptions): Promise<NetworkChoice> {
  const stateDir = resolve(o.stateDir);
  const claimsDir = o.claimsDir ?? defaultClaimsDir;
  const requested = o.requested ?? {};
  if (requested.prefix !== undefined) checkNetworkPrefix(requested.prefix, "--net-prefix");
  const subnets = requested.subnets ?? defaultNetwork.subnets;
  if (requested.subnetBase !== undefined)
    checkSubnetRange(requested.subnetBase, subnets, "--net-subnet");
  mkdirSync(claimsDir, { recursive: true, mode: 0o700 });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return withLock(claimsDir, async () => {
    const others = liveClaims(claimsDir).filter((c) => c.stateDir !== stateDir);
    const recorded = readChoice(stateDir);
    const own = ownWorkers(stateDir);
    const machine = await (o.machine ?? machineNetworkUse)();
    // Our own workers (left running by a forced stop) use our recorded names and addresses.
    const ownPrefix = recorded?.prefix ?? requested.prefix ?? defaultNetwork.prefix;
    const ownIndexes = new Set(own.map((w) => w.index));
    const isOwn = (name: string) => ownIndexes.has(workerIndexOf(ownPrefix, name) ?? -1);

    const prefixUse = (prefix: string): string | undefined => {
      const claim = others.find((c) => c.prefix === prefix);
      if (claim) return `by the ate up of ${describe(claim)}`;
      const name = machine.names.find(
        (n) => workerIndexOf(prefix, n) !== undefined && !(prefix === ownPrefix && isOwn(n)),
      );
      return name ? `by ${name} on this machine` : undefined;
    };
    const rangeUse = (base: number): string | undefined => {
      const end = base + subnets - 1;
      const claim = others.find((c) => base <= c.subnetBase + c.subnets - 1 && c.subnetBase <= end);
      if (claim) return `by the ate up of ${describe(claim)}`;
      const use = machine.linkLocal.find(
        (u) => u.octet >= base && u.octet <= end && !(u.dev && isOwn(u.dev)),
      );
      return use ? `by the ${use.what} on this machine` : undefined;
    };

    let choice: NetworkChoice;
    if (own.length && recorded) {
      // Workers left running are recovered by name and address: the network cannot change.
      const asked = {
        prefix: requested.prefix ?? recorded.prefix,
        subnetBase: requested.subnetBase ?? recorded.subnetBase,
      };
      if (asked.prefix !== recorded.prefix || asked.subnetBase !== recorded.subnetBase)
        throw new AteError(
          Code.FailedPrecondition,
          `this state dir's ${own.length} worker(s) still use --net-prefix ${recorded.prefix} --net-subnet ${recorded.subnetBase}: start with those (or without the flags); once stopped with one Ctrl-C (workers removed) the network can change`,
        );
      const use = prefixUse(recorded.prefix) ?? rangeUse(recorded.subnetBase);
      if (use)
        throw new AteError(
          Code.FailedPrecondition,
          `this state dir's ${own.length} worker(s) use --net-prefix ${recorded.prefix} --net-subnet ${recorded.subnetBase}, now in use ${use}: stop that first (these workers are recovered by those names and addresses)`,
        );
      choice = { ...recorded, subnets };
    } else {
      choice = {
        prefix: pick(
          "--net-prefix",
          requested.prefix,
          recorded?.prefix,
          prefixCandidates(),
          prefixUse,
        ),
        subnetBase: pick(
          "--net-subnet",
          requested.subnetBase,
          recorded?.subnets === subnets ? recorded.subnetBase : undefined,
          baseCandidates(subnets),
          rangeUse,
        ),
        subnets,
      };
    }
    await writeJsonAtomic(join(stateDir, "network.json"), choice);
    await writeJsonAtomic(join(claimsDir, claimFile(stateDir)), {
      ...choice,
      stateDir,
      pid: process.pid,
    } satisfies Claim);
    return choice;
  });
}

/** The explicit value if free (else refused naming the flag), else the recorded one, else a free one. */
function pick<T extends string | number>(
  flag: string,
  explicit: T | undefined,
  recorded: T | undefined,
  candidates: T[],
  usedBy: (v: T) => string | undefined,
): T {
  if (explicit !== undefined) {
    const use = usedBy(explicit);
    if (use)
      throw new AteError(
        Code.FailedPrecondition,
        `${flag} ${explicit} is in use ${use}: choose another ${flag}, or leave it out to have a free one picked`,
      );
    return explicit;
  }
  for (const v of recorded !== undefined ? [recorded, ...candidates] : candidates)
    if (!usedBy(v)) return v;
  throw new AteError(
    Code.ResourceExhausted,
    `no free worker network for ${flag} on this machine (every candidate is in use): set ${flag} to one that is free`,
  );
}

function prefixCandidates(): string[] {
  return [defaultNetwork.prefix, ...Array.from({ length: 98 }, (_, i) => `ate${i + 2}`)];
}

/** Ranges from the default up, then below it; never one holding 169.254.169.254 (cloud metadata). */
function baseCandidates(subnets: number): number[] {
  const out: number[] = [];
  for (let b = defaultNetwork.subnetBase; b + subnets - 1 <= 254; b += subnets) out.push(b);
  for (let b = defaultNetwork.subnetBase - subnets; b >= 1; b -= subnets) out.push(b);
  return out.filter((b) => !(b <= 169 && 169 <= b + subnets - 1));
}

function describe(c: Claim): string {
  return `${c.stateDir} (--net-prefix ${c.prefix} --net-subnet ${c.subnetBase}${processAlive(c.pid) ? `, pid ${c.pid}` : ", stopped"})`;
}

/** The claims still in force; stale ones (their substrate gone and its state dir too) are removed. */
function liveClaims(dir: string): Claim[] {
  const out: Claim[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".json")) continue;
    const path = join(dir, f);
    const claim = readJson<Claim>(path);
    const recorded = claim ? readChoice(claim.stateDir) : undefined;
    const live =
      claim &&
      (processAlive(claim.pid) ||
        (recorded?.prefix === claim.prefix && recorded.subnetBase === claim.subnetBase));
    if (live) out.push(claim);
    else rmSync(path, { force: true });
  }
  return out;
}

function readChoice(stateDir: string): NetworkChoice | undefined {
  const c = readJson<NetworkChoice>(join(stateDir, "network.json"));
  return c && typeof c.prefix === "string" && Number.isInteger(c.subnetBase)
    ? { prefix: c.prefix, subnetBase: c.subnetBase, subnets: c.subnets ?? defaultNetwork.subnets }
    : undefined;
}

/** The workers this state dir's node agent keeps (see NodeWorkers): their network indexes. */
function ownWorkers(stateDir: string): { index: number }[] {
  const list = readJson<{ index: number }[]>(join(stateDir, "node", "workers.json"));
  return Array.isArray(list) ? list.filter((w) => Number.isInteger(w.index) && w.index >= 0) : [];
}

function claimFile(stateDir: string): string {
  return `${createHash("sha256").update(stateDir).digest("hex").slice(0, 16)}.json`;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** One substrate at a time chooses; a choice takes milliseconds, so 10 s old is abandoned. */
function withLock<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const lock = join(dir, ".lock");
  return withMachineLock(
    lock,
    {
      waitMs: 15_000,
      staleMs: 10_000,
      busy: () =>
        `another ate up is choosing its worker network (${lock} exists): try again; remove ${lock} if no ate up is starting`,
    },
    f,
  );
}

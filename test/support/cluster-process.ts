// A process started inside a cluster host (see cluster-hosts.ts): nsenter into the host's network
// namespace only, in a process group of its own (so a kill reaches what it forks), its output
// kept (the last 4 MiB of each stream), and an `exited` promise that never rejects.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

export interface HostProcess {
  readonly pid: number;
  /** The host it runs in and the command, for messages. */
  readonly where: string;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  /** Resolves once the output matches; rejects when the process exits first or on timeout. */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Signals the process group (the process and what it forked without leaving the group). */
  kill(signal?: NodeJS.Signals): void;
  /** Whether the process group with the pid's number is still this process's: false once the
   * pid was reused by another process (pid_max may be small), which must not be signalled. */
  ownsGroup(): boolean;
  readonly exited: Promise<Exit>;
  /** Resolves when the process exited and its output streams closed. */
  readonly closed: Promise<Exit>;
  running(): boolean;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
}

const keep = 4 << 20;
const tail = (s: string) => (s.length > keep ? s.slice(-keep) : s);

/** Starts `cmd` in the network namespace at nsPath (and no other namespace: see cluster-hosts.ts). */
export function spawnInNetns(
  nsPath: string,
  where: string,
  cmd: string,
  args: string[],
  options: SpawnOptions = {},
): HostProcess {
  // nsenter execs cmd, so the child's pid is cmd's; detached makes it a process group leader.
  const child = spawn("nsenter", [`--net=${nsPath}`, "--", cmd, ...args], {
    detached: true,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const pid = child.pid;
  if (pid === undefined)
    throw new Error(`${where}: could not start nsenter (is util-linux there?)`);
  // Read at once: nsenter's exec keeps the pid and start time of the forked child.
  const start = procStat(pid)?.start;
  const ownsGroup = () => {
    const s = procStat(pid);
    return s === undefined || s.start === start;
  };
  if (options.input !== undefined) child.stdin?.end(options.input);
  let out = "";
  let err = "";
  let both = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out = tail(out + d);
    both = tail(both + d);
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err = tail(err + d);
    both = tail(both + d);
  });
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    child.once("error", (error) => {
      exit = { code: null, signal: null, error };
      resolve(exit);
    });
  });
  const closed = new Promise<Exit>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
  });
  return {
    pid,
    where,
    stdout: () => out,
    stderr: () => err,
    output: () => both,
    running: () => exit === undefined,
    exited,
    closed,
    ownsGroup,
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (ownsGroup()) signalGroup(pid, signal);
    },
    async waitForOutput(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const found = () =>
        typeof pattern === "string" ? both.includes(pattern) : pattern.test(both);
      while (!found()) {
        if (exit)
          throw new Error(
            `${where} exited (${exit.code ?? exit.signal}) before ${pattern}: ${both}`,
          );
        if (Date.now() > deadline)
          throw new Error(`${where}: no ${pattern} in ${timeoutMs} ms: ${both}`);
        await sleep(25);
      }
    },
  };
}

/** Signals a process group; a group that is gone already is fine. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Signals one process; one that is gone already is fine. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** A process's state, process group and start time (clock ticks since boot), from /proc. */
export function procStat(pid: number): { state: string; pgrp: number; start: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // After the command name (which may hold spaces and parentheses): state ppid pgrp ... starttime.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: f[0] ?? "", pgrp: Number(f[2]), start: Number(f[19]) };
}

/** Whether pid is a live process (not a zombie waiting for its parent). */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== "Z";
}

/** The live processes in any of these process groups. */
export function groupMembers(pgids: Iterable<number>): number[] {
  const groups = new Set(pgids);
  if (groups.size === 0) return [];
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const s = procStat(pid);
      return s !== undefined && s.state !== "Z" && groups.has(s.pgrp);
    });
}

/** Polls until check() holds; false when the deadline passes first. */
export async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

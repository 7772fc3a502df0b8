import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AteError, Code } from "../../errors/index.ts";
import { abortError, runDirect } from "./direct.ts";
import type { ShortCommand, ShortResult } from "./types.ts";

const script = fileURLToPath(new URL("./launcher-child.mjs", import.meta.url));

/** How long short commands run from this process after the launcher failed to start. */
const directAfterFailureMs = 30_000;

interface Call {
  cmd: ShortCommand;
  resolve: (r: ShortResult) => void;
  reject: (e: unknown) => void;
}

interface Ref {
  ref(): void;
  unref(): void;
}

/** One launcher process (launcher-child.mjs) and the calls it runs. */
class Launcher {
  private readonly child: ChildProcess;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private buffered = "";
  private ready = false;
  private onReady = () => {};
  /** Settles once the process is gone. */
  readonly gone: Promise<void>;
  /** Settles true once it reads requests, false if it ended before. */
  readonly started = new Promise<boolean>((resolve) => {
    this.onReady = () => resolve(this.ready);
  });

  constructor(private readonly onGone: (l: Launcher, started: boolean) => void) {
    const { NODE_OPTIONS, ...env } = process.env;
    // Without the agent's NODE_OPTIONS (tsx): plain node starts faster and stays smaller.
    this.child = spawn(process.execPath, ["--max-old-space-size=64", script], {
      stdio: ["pipe", "pipe", "inherit"],
      env: NODE_OPTIONS === undefined ? env : { ...env, ATE_LAUNCHER_NODE_OPTIONS: NODE_OPTIONS },
    });
    const stdout = this.child.stdout;
    const stdin = this.child.stdin;
    if (!stdout || !stdin) throw new AteError(Code.Internal, "launcher: no pipes");
    stdin.on("error", () => {}); // it died: its close says so
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => this.read(chunk));
    this.gone = new Promise((resolve) => {
      let exit = "";
      this.child.once("exit", (code, signal) => {
        exit = signal ? `signal ${signal}` : `exit ${code}`;
      });
      const gone = (why: string) => {
        this.died(why);
        this.onReady();
        resolve();
      };
      this.child.once("close", () => gone(exit));
      this.child.once("error", (err) => {
        if (this.child.pid === undefined) gone(err.message);
      });
    });
    this.idle();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isReady(): boolean {
    return this.ready;
  }

  run(cmd: ShortCommand): Promise<ShortResult> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const onAbort = () => {
        if (!this.calls.delete(id)) return;
        this.send({ kill: id });
        if (this.calls.size === 0) this.idle();
        reject(abortError());
      };
      const done = () => {
        cmd.signal?.removeEventListener("abort", onAbort);
        if (this.calls.size === 0) this.idle();
      };
      this.calls.set(id, {
        cmd,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      if (this.calls.size === 1) this.busy();
      cmd.signal?.addEventListener("abort", onAbort, { once: true });
      const { file, args, input, env, cwd, timeoutMs, maxOutput } = cmd;
      this.send({ id, file, args, input, env, cwd, timeoutMs, maxOutput });
    });
  }

  /** Settles as `started`; this process waits for it (it stays unreferenced otherwise). */
  async waitReady(): Promise<boolean> {
    this.busy();
    try {
      return await this.started;
    } finally {
      if (this.calls.size === 0) this.idle();
    }
  }

  /** Ends it: its stdin closes, it stops what it runs and exits. */
  stop(): Promise<void> {
    this.child.stdin?.end();
    return this.gone;
  }

  private send(msg: object): void {
    this.child.stdin?.write(`${JSON.stringify(msg)}\n`);
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf("\n"); nl >= 0; nl = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const msg = JSON.parse(line) as Partial<ShortResult> & { id?: number; ready?: boolean };
      if (msg.ready) {
        this.ready = true;
        this.onReady();
      } else if (msg.id !== undefined) {
        const call = this.calls.get(msg.id);
        this.calls.delete(msg.id);
        const { id: _, ...result } = msg;
        call?.resolve(result as ShortResult);
      }
    }
  }

  private died(why: string): void {
    this.onGone(this, this.ready);
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) {
      // Before its first line it had run nothing (it says ready before it reads a request):
      // the command runs from here instead. (runShort sends nothing before then.)
      if (!this.ready) runDirect(call.cmd).then(call.resolve, call.reject);
      else
        call.reject(
          new AteError(
            Code.Internal,
            `the launcher (pid ${this.pid}) ended (${why}) before ${call.cmd.file} finished`,
          ),
        );
    }
  }

  /** While nothing runs it keeps this process from exiting no more than a timer would. */
  private idle(): void {
    this.child.unref();
    (this.child.stdout as unknown as Ref | null)?.unref();
  }

  private busy(): void {
    this.child.ref();
    (this.child.stdout as unknown as Ref | null)?.ref();
  }
}

let current: Launcher | undefined;
let directUntil = 0;

/**
 * Runs a short command through this process's launcher, started on first use: a spawn from
 * the agent forks all of it (≈300 MB), blocking its event loop 10–70 ms; the launcher forks
 * itself (≈45 MB) instead, and the agent only writes and reads a line. When the launcher
 * cannot start, the command runs from here (and so do others for a while). The launcher
 * exits with this process (its stdin closes).
 */
export function runShort(cmd: ShortCommand): Promise<ShortResult> {
  if (cmd.signal?.aborted) return Promise.reject(abortError());
  // ATE_LAUNCHER=off: every command from this process (to compare, or to rule the launcher out).
  if (Date.now() < directUntil || process.env.ATE_LAUNCHER === "off") return runDirect(cmd);
  const l = launcher();
  // Node takes 50–250 ms to start: meanwhile commands run from here, as they did without it.
  return l?.isReady ? l.run(cmd) : runDirect(cmd);
}

/** The launcher, started if none runs; undefined if it cannot be started. */
function launcher(): Launcher | undefined {
  try {
    current ??= new Launcher((l, started) => {
      if (current === l) current = undefined;
      if (!started) directUntil = Date.now() + directAfterFailureMs;
    });
  } catch {
    directUntil = Date.now() + directAfterFailureMs;
  }
  return current;
}

/**
 * Starts the launcher ahead of the first short command (an agent's start, tests); true once
 * it runs commands, false if it could not start (they then run from this process).
 */
export async function startLauncher(): Promise<boolean> {
  return (await launcher()?.waitReady()) ?? false;
}

/** The launcher's pid, if one runs (tests). */
export function launcherPid(): number | undefined {
  return current?.pid;
}

/** Stops the launcher, if one runs; the next short command starts another. */
export async function stopLauncher(): Promise<void> {
  const l = current;
  current = undefined;
  await l?.stop();
}

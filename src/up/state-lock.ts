import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { processAlive } from "../machine-lock/index.ts";

/** Which process a state directory is locked for: its pid file, and how errors name it. */
export interface StateLockKind {
  /** Pid file in the state directory. */
  file: string;
  /** e.g. "ate up", "ate node". */
  command: string;
  /** What to give a second one on this machine besides --state-dir. */
  otherFlags: string;
}

export const upLock: StateLockKind = {
  file: "ate-up.pid",
  command: "ate up",
  otherFlags: "--api-addr, --router-addr, --net-prefix, --net-subnet",
};

export const nodeLock: StateLockKind = {
  file: "node.pid",
  command: "ate node (or ate up)",
  otherFlags: "--net-prefix, --net-subnet, --node-port, --entry-port",
};

export const controlPlaneLock: StateLockKind = {
  file: "controlplane.pid",
  command: "ate controlplane (or ate up)",
  otherFlags: "--api-addr",
};

/**
 * Claims a state directory for one process of a kind: two would recover and wipe each other's
 * workers, or share one SQLite file as two leaders. A lock left by a process that no longer
 * runs (a crash, a kill -9) is taken over. Returns the release function.
 */
export function lockStateDir(dir: string, kind: StateLockKind = upLock): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, kind.file);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx", mode: 0o600 });
      return () => {
        if (readFileSync(path, "utf8").trim() === String(process.pid))
          rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(holder) && holder > 0 && processAlive(holder))
      throw new AteError(
        Code.FailedPrecondition,
        `another ${kind.command} (pid ${holder}) is using the state directory ${dir}: stop it first (Ctrl-C), or give this one its own --state-dir (and ${kind.otherFlags})`,
      );
    rmSync(path, { force: true });
  }
  throw new AteError(
    Code.Aborted,
    `could not lock ${path}: another ${kind.command} is starting; try again`,
  );
}

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AteError, Code } from "../errors/index.ts";
import { processAlive } from "../machine-lock/index.ts";

/**
 * Claims a state directory for one substrate: two would recover and wipe each other's workers.
 * A lock left by a process that no longer runs (a crash, a kill -9) is taken over.
 * Returns the release function.
 */
export function lockStateDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, "ate-up.pid");
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
        `another ate up (pid ${holder}) is using the state directory ${dir}: stop it first (Ctrl-C), or give this one its own --state-dir (and --api-addr, --router-addr, --net-prefix, --net-subnet)`,
      );
    rmSync(path, { force: true });
  }
  throw new AteError(Code.Aborted, `could not lock ${path}: another ate up is starting; try again`);
}

import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Resource } from "../api/schema/index.ts";
import { type Namespace, NamespaceType, SecretType } from "../api/v1/index.ts";
import {
  type ActorTemplate,
  ActorTemplateType,
  type SandboxConfig,
  SandboxConfigType,
  type WorkerPool,
  WorkerPoolType,
} from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { processAlive } from "../machine-lock/index.ts";
import {
  type Actor,
  type Atespace,
  type RecordKind,
  type RecordStore,
  SqliteRecordStore,
} from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import {
  controlPlaneLock,
  lockStateDir,
  nodeLock,
  type StateLockKind,
  upLock,
} from "../up/index.ts";

/** Everything of a stopped `ate up` the cluster keeps: its records and its resources. */
export interface UpState {
  stateDir: string;
  /** stateDir with symlinks resolved. */
  realStateDir: string;
  atespaces: Atespace[];
  actors: Actor[];
  /** Token records as stored (a hash of each secret, never the secret). */
  tokens: Record<string, unknown>[];
  namespaces: Namespace[];
  /** Secrets as stored (their values base64 in `data`); never printed. */
  secrets: Resource[];
  sandboxConfigs: SandboxConfig[];
  pools: WorkerPool[];
  templates: ActorTemplate[];
}

/**
 * Holds the state dir as `ate up` itself would (its three locks), so no `ate up` runs on it
 * while it is read: one that runs is refused naming its pid. Returns the release function.
 */
export function holdStateDir(stateDir: string): () => void {
  if (!statSync(stateDir, { throwIfNoEntry: false })?.isDirectory())
    throw new AteError(
      Code.NotFound,
      `--state-dir ${stateDir}: no such directory: give the state directory of the ate up to migrate (its --state-dir; default /var/lib/ate as root)`,
    );
  for (const f of ["records.db", "ate.db"])
    if (!existsSync(join(stateDir, f)))
      throw new AteError(
        Code.NotFound,
        `--state-dir ${stateDir} holds no ${f}: it is not the state of an ate up that kept its records in SQLite (one started with --records redis:// has its records in Valkey already; see docs/cluster.md)`,
      );
  const released: (() => void)[] = [];
  const release = () => {
    for (const r of released.reverse()) r();
  };
  try {
    for (const kind of [upLock, controlPlaneLock, nodeLock]) {
      refuseRunning(stateDir, kind);
      try {
        released.push(lockStateDir(stateDir, kind));
      } catch (err) {
        // Taken since the look above: an ate up is starting there.
        if (isAteError(err, Code.FailedPrecondition) || isAteError(err, Code.Aborted))
          throw new AteError(
            err.code,
            `an ate up is starting on ${stateDir}: stop it (Ctrl-C), then migrate (${err.message})`,
          );
        throw err;
      }
    }
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

function refuseRunning(stateDir: string, kind: StateLockKind): void {
  let pid = 0;
  try {
    pid = Number(readFileSync(join(stateDir, kind.file), "utf8").trim());
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid))
    throw new AteError(
      Code.FailedPrecondition,
      `${kind.command.replace(/ \(or ate up\)$/, "")} (pid ${pid}) is using the state directory ${stateDir}: stop it first (Ctrl-C: ate up suspends its running actors), then migrate`,
    );
}

/** Reads the records and resources of the state dir (held with holdStateDir). */
export async function readUpState(stateDir: string): Promise<UpState> {
  const records = new SqliteRecordStore(join(stateDir, "records.db"));
  const resources = new SqliteResourceStore({ path: join(stateDir, "ate.db") });
  try {
    return {
      stateDir,
      realStateDir: realpathSync(stateDir),
      atespaces: (await all(records, "atespace")) as unknown as Atespace[],
      actors: (await all(records, "actor")) as unknown as Actor[],
      tokens: await all(records, "token"),
      namespaces: (await resources.list(NamespaceType)).items,
      secrets: (await resources.list(SecretType)).items,
      sandboxConfigs: (await resources.list(SandboxConfigType)).items,
      pools: (await resources.list(WorkerPoolType)).items,
      templates: (await resources.list(ActorTemplateType)).items,
    };
  } finally {
    await records.close();
    await resources.close();
  }
}

async function all(store: RecordStore, kind: RecordKind): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(kind, { limit: 1000, ...(after !== undefined ? { after } : {}) });
    out.push(...page.items);
    if (!page.last) return out;
    after = page.last;
  }
}

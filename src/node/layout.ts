import { type FileHandle, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SandboxRuntime } from "../sandbox/index.ts";
import type { ActorIdentity, Workload } from "./api.ts";

/** What the agent records on the node for the actor a worker runs (written at Run and Restore). */
export interface ActorRecord {
  actor: ActorIdentity;
  sandboxClass: SandboxRuntime["sandboxClass"];
  arch: string;
  /** asset name → {url, sha256}: the runtime the actor booted or was restored with. */
  assets: Record<string, { url: string; sha256: string }>;
  /** asset name → the cached file that ran. */
  runtimePaths: Record<string, string>;
  images: Record<string, string>;
  workload: Workload;
}

/**
 * Where a node agent keeps things under its state directory: the worker list, each worker's
 * actor record, volumes and identity, and each actor's log (one file per actor per node,
 * appended by every run and restore here).
 */
export class NodeLayout {
  constructor(readonly stateDir: string) {}

  get workersFile(): string {
    return join(this.stateDir, "workers.json");
  }

  get snapshotsDir(): string {
    return join(this.stateDir, "snapshots");
  }

  workerDir(name: string): string {
    return join(this.stateDir, "workers", name);
  }

  identityDir(worker: string): string {
    return join(this.workerDir(worker), "identity");
  }

  logPath(actor: ActorIdentity): string {
    return join(this.stateDir, "logs", actor.atespace, `${actor.actorId}.log`);
  }

  /** volume name → its directory on the node, for the workload's durableDir volumes. */
  volumeDirs(worker: string, workload: Workload): Record<string, string> {
    return Object.fromEntries(
      (workload.volumes ?? [])
        .filter((v) => v.durableDir)
        .map((v) => [v.name, join(this.workerDir(worker), "volumes", v.name)]),
    );
  }

  /** Empty volume directories for a workload about to start. */
  async prepareVolumes(worker: string, workload: Workload): Promise<void> {
    for (const dir of Object.values(this.volumeDirs(worker, workload))) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
    }
  }

  /** Empties a worker: no record, no volumes, no identity. */
  async wipe(worker: string): Promise<void> {
    await rm(this.workerDir(worker), { recursive: true, force: true });
  }

  async readRecord(worker: string): Promise<ActorRecord | undefined> {
    const text = await readFile(join(this.workerDir(worker), "actor.json"), "utf8").catch(
      () => undefined,
    );
    return text ? (JSON.parse(text) as ActorRecord) : undefined;
  }

  writeRecord(worker: string, record: ActorRecord): Promise<void> {
    return writeJsonAtomic(join(this.workerDir(worker), "actor.json"), record);
  }

  /** The actor's log from byte `from` to its end (empty when there is none). */
  async readLog(actor: ActorIdentity, from = 0): Promise<Buffer> {
    let file: FileHandle | undefined;
    try {
      file = await open(this.logPath(actor), "r");
      const { size } = await file.stat();
      if (size <= from) return Buffer.alloc(0);
      const buf = Buffer.alloc(size - from);
      const { bytesRead } = await file.read(buf, 0, buf.length, from);
      return buf.subarray(0, bytesRead);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
      throw err;
    } finally {
      await file?.close();
    }
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2));
  await rename(`${path}.tmp`, path);
}

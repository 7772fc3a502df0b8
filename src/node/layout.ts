import { readdirSync } from "node:fs";
import {
  type FileHandle,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  fixModesSync,
  privateDir,
  privateDirSync,
  privateFileMode,
} from "../private-files/index.ts";
import type { SandboxRuntime } from "../sandbox/index.ts";
import { redactSecrets } from "../snapshots/index.ts";
import { type ActorIdentity, maxLogPieceBytes, type Workload } from "./api.ts";

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
 * appended by every run and restore here). All of it is root's alone (0700 directories,
 * 0600 files), except what a sandbox sees of it: volumes and the identity keep their modes.
 */
export class NodeLayout {
  constructor(readonly stateDir: string) {}

  /**
   * The state directory 0700, created if missing; on start, directories that older versions
   * made 0755 (and the files directly in them that are ours: records, cached assets) made
   * private. `more` names further subdirectories (the asset cache, the images).
   */
  securePrivateState(more: readonly string[] = []): void {
    privateDirSync(this.stateDir);
    privateDirSync(this.tmpDir);
    const dirs = ["workers", "logs", "snapshots", ...more].map((d) => join(this.stateDir, d));
    const cached = join(this.stateDir, "assets", "sha256");
    const list = (d: string) => {
      try {
        return readdirSync(d);
      } catch {
        return [];
      }
    };
    fixModesSync({
      dirs: [...dirs, cached, join(this.stateDir, "assets", "tmp")],
      files: [
        this.workersFile,
        ...list(this.workersDir).map((w) => join(this.workerDir(w), "actor.json")),
      ],
    });
    // Cached runtime binaries: executable by root only.
    for (const f of list(cached)) fixModesSync({ dirs: [join(cached, f)] });
  }

  /** Scratch space for snapshots being made or restored. */
  get tmpDir(): string {
    return join(this.stateDir, "tmp");
  }

  private get workersDir(): string {
    return join(this.stateDir, "workers");
  }

  get workersFile(): string {
    return join(this.stateDir, "workers.json");
  }

  get snapshotsDir(): string {
    return join(this.stateDir, "snapshots");
  }

  workerDir(name: string): string {
    return join(this.workersDir, name);
  }

  identityDir(worker: string): string {
    return join(this.workerDir(worker), "identity");
  }

  logPath(actor: ActorIdentity): string {
    return join(this.stateDir, "logs", actor.atespace, `${actor.actorId}.log`);
  }

  /**
   * Writes the identity the sandbox sees at /run/ate, before each start (a run or a restore):
   * `actor-id`, `atespace`, and when given the actor's own `token` for this start and the
   * `api` URL it reaches the Control API at. The directory and files stay readable (a
   * container user must read them); the worker directory around them is root's. Made anew
   * each time (new files, not rewritten ones), so a restored sandbox, whose gVisor revalidates
   * its bind mounts, finds this start's token and never the one its memory was taken with.
   */
  async writeIdentity(
    worker: string,
    actor: ActorIdentity,
    extra: { token?: string | undefined; apiUrl?: string | undefined } = {},
  ): Promise<string> {
    await privateDir(this.workerDir(worker));
    const dir = this.identityDir(worker);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const files: [string, string | undefined][] = [
      ["actor-id", actor.actorId],
      ["atespace", actor.atespace],
      ["token", extra.token],
      ["api", extra.apiUrl],
    ];
    for (const [name, text] of files)
      if (text !== undefined) await writeFile(join(dir, name), text, { mode: 0o444 });
    return dir;
  }

  /** volume name → its directory on the node, for the workload's durableDir volumes. */
  volumeDirs(worker: string, workload: Workload): Record<string, string> {
    return Object.fromEntries(
      (workload.volumes ?? [])
        .filter((v) => v.durableDir)
        .map((v) => [v.name, join(this.workerDir(worker), "volumes", v.name)]),
    );
  }

  /**
   * Empty volume directories for a workload about to start: each as the container sees it
   * (0755), under directories only root may enter.
   */
  async prepareVolumes(worker: string, workload: Workload): Promise<void> {
    for (const dir of Object.values(this.volumeDirs(worker, workload))) {
      await rm(dir, { recursive: true, force: true });
      await privateDir(dirname(dir));
      await mkdir(dir, { mode: 0o755 });
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

  /** Written without Secret values: nothing after the start needs them (see redactSecrets). */
  writeRecord(worker: string, record: ActorRecord): Promise<void> {
    const stored = { ...record, workload: redactSecrets(record.workload) };
    return writeJsonAtomic(join(this.workerDir(worker), "actor.json"), stored);
  }

  /** The last lines of the actor's log (from its last 64 KiB), for errors. */
  async logTail(actor: ActorIdentity, lines: number): Promise<string> {
    const size = await stat(this.logPath(actor)).then(
      (s) => s.size,
      () => 0,
    );
    return (await this.readLog(actor, Math.max(0, size - 64 * 1024)))
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .join("\n");
  }

  /**
   * The actor's log from byte `from`, at most `max` bytes of it (empty when there is none):
   * an actor writes as much as it likes, and no reader holds all of it at once.
   */
  async readLog(actor: ActorIdentity, from = 0, max = maxLogPieceBytes): Promise<Buffer> {
    let file: FileHandle | undefined;
    try {
      file = await open(this.logPath(actor), "r");
      const { size } = await file.stat();
      if (size <= from) return Buffer.alloc(0);
      const buf = Buffer.alloc(Math.min(size - from, max));
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

/** Root-only JSON, replaced atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await privateDir(dirname(path));
  await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2), { mode: privateFileMode });
  await rename(`${path}.tmp`, path);
}

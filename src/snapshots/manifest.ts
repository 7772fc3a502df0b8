import type { SandboxAsset, SandboxClass } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { ActorIdentity, SnapshotFile, SnapshotScope, Workload } from "./types.ts";

export const manifestName = "manifest.json";
export const manifestFormatVersion = 1;

/**
 * Written last beside a snapshot's files: a snapshot without it does not exist. It pins the
 * runtime the snapshot was taken with, so a restore anywhere uses exactly that runtime, and
 * the images (by digest), since runsc cannot tell a different rootfs at restore.
 */
export interface SnapshotManifest {
  formatVersion: number;
  scope: SnapshotScope;
  actor: ActorIdentity;
  createdAt: string;
  /** Go architecture the runtime assets are for. */
  arch: string;
  sandboxClass: SandboxClass;
  /** asset name → {url, sha256}, for `arch`. */
  assets: Record<string, SandboxAsset>;
  /** container → pinned image reference. */
  images: Record<string, string>;
  workload: Workload;
  snapshotFiles: SnapshotFile[];
}

/**
 * The manifest in `text`, checked: a manifest that does not parse or lacks what a restore
 * needs is DATA_LOSS (the snapshot is unusable); one in a format this version does not read
 * is FAILED_PRECONDITION. `where` names the snapshot in messages.
 */
export function parseManifest(text: string, where: string): SnapshotManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    m = undefined;
  }
  if (!isObject(m)) throw unusable(where, `${manifestName} is not a JSON object`);
  if (m.formatVersion !== manifestFormatVersion) {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${where}: manifest format ${String(m.formatVersion).slice(0, 20)} is not supported (this version of ate reads ${manifestFormatVersion}); upgrade ate to use it`,
    );
  }
  for (const field of ["actor", "assets", "images", "workload"] as const)
    if (!isObject(m[field])) throw unusable(where, `${manifestName} lacks ${field}`);
  for (const field of ["sandboxClass", "arch", "createdAt"] as const)
    if (typeof m[field] !== "string") throw unusable(where, `${manifestName} lacks ${field}`);
  if (m.scope !== "Full" && m.scope !== "Data")
    throw unusable(where, `${manifestName} has scope ${JSON.stringify(m.scope)}, not Full or Data`);
  const files = m.snapshotFiles;
  if (!Array.isArray(files) || !files.every(isSnapshotFile))
    throw unusable(where, `${manifestName} lacks a valid snapshotFiles list (name, size, sha256)`);
  return m as unknown as SnapshotManifest;
}

/**
 * A file name as ate writes them in a manifest: relative to its snapshot, segments of letters,
 * digits, `.`, `_` and `-` (no `..`, no absolute path), so a copy cannot be steered elsewhere.
 */
export function isCleanSnapshotFileName(name: string): boolean {
  return name.split("/").every((s) => /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/.test(s));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSnapshotFile(f: unknown): boolean {
  return (
    isObject(f) &&
    typeof f.name === "string" &&
    Number.isSafeInteger(f.size) &&
    (f.size as number) >= 0 &&
    typeof f.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(f.sha256)
  );
}

function unusable(where: string, what: string): AteError {
  return new AteError(Code.DataLoss, `snapshot ${where}: ${what}; the snapshot is unusable`);
}

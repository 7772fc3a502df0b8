import type { SandboxAsset, SandboxClass } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { ActorIdentity, SnapshotFile, SnapshotScope, Workload } from "./api.ts";

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

export function parseManifest(text: string, where: string): SnapshotManifest {
  let m: SnapshotManifest;
  try {
    m = JSON.parse(text) as SnapshotManifest;
  } catch {
    throw new AteError(
      Code.DataLoss,
      `snapshot ${where}: manifest.json is not JSON; the snapshot is unusable`,
    );
  }
  if (m.formatVersion !== manifestFormatVersion) {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${where}: manifest format ${m.formatVersion} is not supported (this node reads ${manifestFormatVersion})`,
    );
  }
  for (const field of [
    "scope",
    "actor",
    "sandboxClass",
    "assets",
    "images",
    "workload",
    "snapshotFiles",
  ] as const) {
    if (m[field] === undefined)
      throw new AteError(Code.DataLoss, `snapshot ${where}: manifest.json lacks ${field}`);
  }
  return m;
}

import { isAbsolute, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { AteError, Code } from "../errors/index.ts";

/** Who a snapshot belongs to: the actor whose record (or golden snapshot) names it. */
export interface SnapshotOwner {
  atespace: string;
  actorId: string;
}

/** A file:// snapshot where ate up puts them: `<root>/<atespace>/<actor>/<name>`. */
export interface LocalSnapshot {
  uri: string;
  /** The snapshot location it lies under (a directory path, no trailing slash). */
  root: string;
  /** `<atespace>/<actor>/<name>`: the snapshot's directory under root, and its key in S3. */
  rel: string;
}

/** The S3 prefix snapshots are copied under: `s3://BUCKET[/PREFIX]`, checked. */
export interface SnapshotsTarget {
  /** As given, without trailing slashes. */
  uri: string;
}

/** Bucket names as S3 allows them (lower-case letters, digits, dots and hyphens). */
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** One segment of a key under the prefix: no `.`/`..`, nothing a URL would escape. */
const segmentPattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** A snapshot's own directory name (ate writes `20240101T000000Z-0a1b2c3d`). */
const snapshotNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `--snapshots`: an s3:// bucket and optional prefix whose segments cannot escape it. */
export function parseSnapshotsTarget(value: string, flag = "--snapshots"): SnapshotsTarget {
  const m = /^s3:\/\/([^/]+)((?:\/[^/]+)*)\/*$/.exec(value);
  const segments = m?.[2] ? m[2].slice(1).split("/") : [];
  if (!m || !bucketPattern.test(m[1] as string) || !segments.every((s) => segmentPattern.test(s)))
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(value.slice(0, 200))}: give the S3 bucket and prefix the cluster's snapshots go to, e.g. s3://ate-snapshots/prod (a bucket name, then path segments of letters, digits, '.', '_' and '-', none of them '.' or '..')`,
    );
  return { uri: `s3://${m[1]}${segments.map((s) => `/${s}`).join("")}` };
}

/** The directory path of a file:// location (`file:///var/lib/ate/snapshots/` → `/var/lib/ate/snapshots`). */
export function fileLocationPath(location: string): string | undefined {
  if (!location.startsWith("file:")) return undefined;
  const path = canonicalFilePath(location);
  return path === undefined ? undefined : path.replace(/\/+$/, "") || "/";
}

/**
 * The path of a file:// URI written as ate writes them (`pathToFileURL(...).href`), else
 * undefined: a URI that a URL parser would rewrite (`..`, `%2e%2e`, `//`, a host, a query)
 * names somewhere else than it seems to, and is not followed.
 */
function canonicalFilePath(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== "file:" || url.host || url.search || url.hash) return undefined;
  if (url.href !== uri) return undefined;
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return undefined;
  }
  if (!isAbsolute(path) || path.includes("\0")) return undefined;
  const trimmed = path.replace(/\/+$/, "") || "/";
  return posix.normalize(trimmed) === trimmed ? path : undefined;
}

/**
 * Where `uri` (a file:// snapshot of `owner`) lies, checked: exactly
 * `<root>/<owner.atespace>/<owner.actorId>/<name>` under one of `roots` (the snapshot
 * locations ate up wrote to). Anything else is refused naming the places it may be: a
 * record pointing elsewhere is not followed to read and upload whatever is there.
 */
export function localSnapshot(
  uri: string,
  owner: SnapshotOwner,
  roots: readonly string[],
  what: string,
): LocalSnapshot {
  const path = canonicalFilePath(uri);
  for (const root of path === undefined ? [] : roots) {
    const base = root === "/" ? "/" : `${root}/`;
    if (!path?.startsWith(base)) continue;
    const [atespace, actorId, name, ...more] = path.slice(base.length).split("/");
    if (
      more.length === 0 &&
      atespace === owner.atespace &&
      actorId === owner.actorId &&
      name !== undefined &&
      snapshotNamePattern.test(name)
    )
      return { uri, root, rel: `${atespace}/${actorId}/${name}` };
  }
  const places = roots.map((r) => `${r === "/" ? "" : r}/${owner.atespace}/${owner.actorId}/<id>`);
  throw new AteError(
    Code.PermissionDenied,
    `${what}: snapshot ${JSON.stringify(uri.slice(0, 300))} is not where ate up keeps the snapshots of ${owner.atespace}/${owner.actorId} (${places.join(", ") || "no file:// location"}); nothing was read: fix that record in ate up, or delete the actor there, then migrate again`,
  );
}

/** Where a copied snapshot goes: `<target>/<atespace>/<actor>/<name>`. */
export function targetUri(target: SnapshotsTarget, snapshot: LocalSnapshot): string {
  return `${target.uri}/${snapshot.rel}`;
}

/**
 * Where runtime assets are copied: `<target>/_runtime/sha256/<hex>`. No atespace can be
 * named `_runtime` (a DNS label has no '_'), so it never meets an actor's snapshots.
 */
export function runtimeAssetUri(target: SnapshotsTarget, sha256: string): string {
  return `${target.uri}/_runtime/sha256/${sha256}`;
}

/**
 * Whether a runtime asset's url exists only on the `ate up` machine: a file:// path, or the
 * route its API served the runtime at (`http(s)://HOST/assets/sha256/<hex>`). Those are
 * copied to S3; any other url (https, s3, gs) is left as it is.
 */
export function assetIsLocal(asset: { url: string; sha256: string }): boolean {
  if (asset.url.startsWith("file:")) return true;
  const m = /^https?:\/\/[^/?#]+\/assets\/sha256\/([0-9a-f]{64})$/.exec(asset.url);
  return m?.[1] === asset.sha256;
}

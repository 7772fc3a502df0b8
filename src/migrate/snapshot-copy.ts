import type { BlobStore } from "../blob/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { sameJson } from "../resources/index.ts";
import {
  isCleanSnapshotFileName,
  manifestName,
  maxManifestBytes,
  metered,
  parseManifest,
  readManifestBytes,
  type SnapshotManifest,
} from "../snapshots/index.ts";
import { findUnder, openUnder, readUnder } from "./local-files.ts";
import {
  type LocalSnapshot,
  type SnapshotOwner,
  type SnapshotsTarget,
  targetUri,
} from "./locations.ts";
import type { RuntimeAssets } from "./runtime-assets.ts";

/** Far above any manifest ate writes (it lists a few files), as snapshots/io.ts bounds it. */

export interface SnapshotCopyOptions {
  target: SnapshotsTarget;
  open: (uri: string) => BlobStore;
  assets: RuntimeAssets;
  dryRun: boolean;
  say: (line: string) => void;
}

/** Whose snapshot it must be: an actor's own, or (golden) its template's too. */
export interface ExpectedOwner extends SnapshotOwner {
  template?: { namespace: string; name: string };
}

export interface CopiedSnapshot {
  /** Its s3:// uri. */
  uri: string;
  scope: SnapshotManifest["scope"];
}

/**
 * Copies file:// snapshots of ate up to S3, each once: the manifest read and checked first
 * (it must be the owner's, its files clean relative names), every file verified against the
 * manifest's sha256 and size as it is uploaded, the manifest last — a snapshot exists only
 * once its manifest does, so a copy cut short is simply done again. The copy's manifest
 * names the runtime where nodes fetch it (see RuntimeAssets). A target that already holds
 * this snapshot is left as it is; one holding a different snapshot is refused.
 */
export class SnapshotCopier {
  private readonly bySource = new Map<string, Promise<CopiedSnapshot>>();
  private readonly sourceOf = new Map<string, string>();

  constructor(private readonly o: SnapshotCopyOptions) {}

  copy(snapshot: LocalSnapshot, owner: ExpectedOwner, what: string): Promise<CopiedSnapshot> {
    const uri = targetUri(this.o.target, snapshot);
    const other = this.sourceOf.get(uri);
    if (other !== undefined && other !== snapshot.uri)
      return Promise.reject(
        new AteError(
          Code.AlreadyExists,
          `${what}: snapshots ${other} and ${snapshot.uri} would both be copied to ${uri}; nothing was copied there: delete one of them (they cannot both be ate's)`,
        ),
      );
    this.sourceOf.set(uri, snapshot.uri);
    let pending = this.bySource.get(snapshot.uri);
    if (!pending) {
      pending = this.copyOnce(snapshot, uri, owner, what);
      this.bySource.set(snapshot.uri, pending);
    }
    return pending;
  }

  private async copyOnce(
    snapshot: LocalSnapshot,
    uri: string,
    owner: ExpectedOwner,
    what: string,
  ): Promise<CopiedSnapshot> {
    const { root, rel } = snapshot;
    const manifest = await this.manifest(snapshot, owner, what);
    const assets: SnapshotManifest["assets"] = {};
    for (const [name, asset] of Object.entries(manifest.assets))
      assets[name] = await this.o.assets.place(asset, `${what} (snapshot ${snapshot.uri})`, true);
    const copy: SnapshotManifest = { ...manifest, assets };
    const store = this.o.open(uri);
    const existing = await this.existing(store, uri);
    const size = manifest.snapshotFiles.reduce((n, f) => n + f.size, 0);
    const summary = `${manifest.snapshotFiles.length} files, ${size} bytes`;
    if (existing) {
      if (!sameJson(existing, copy))
        throw new AteError(
          Code.AlreadyExists,
          `${what}: ${uri} already holds a snapshot whose ${manifestName} differs from the copy of ${snapshot.uri}; it was left as it is: give another --snapshots prefix, or remove that one if it is a leftover`,
        );
      this.o.say(`  snapshot ${rel}: already at ${uri}`);
      return { uri, scope: manifest.scope };
    }
    if (this.o.dryRun) {
      for (const f of manifest.snapshotFiles) {
        const found = await findUnder(root, `${rel}/${f.name}`, what);
        if (found.stats.size !== f.size)
          throw mismatch(what, found.path, `${found.stats.size} bytes`, `${f.size} bytes`);
      }
      this.o.say(`  would copy snapshot ${snapshot.uri} to ${uri} (${summary})`);
      return { uri, scope: manifest.scope };
    }
    for (const f of manifest.snapshotFiles) {
      const file = await openUnder(root, `${rel}/${f.name}`, what);
      const meter = metered(file.handle.createReadStream({ autoClose: false }));
      try {
        await store.put(f.name, meter);
      } finally {
        await file.handle.close();
      }
      const got = meter.digest();
      if (got.sha256 !== f.sha256 || got.size !== f.size) {
        await store.delete(f.name).catch(() => {});
        throw mismatch(
          what,
          file.path,
          `sha256 ${got.sha256} (${got.size} bytes)`,
          `sha256 ${f.sha256} (${f.size} bytes)`,
        );
      }
    }
    // Last: the copy exists from here on.
    await store.put(manifestName, Buffer.from(JSON.stringify(copy, null, 2)));
    this.o.say(`  copied snapshot ${snapshot.uri} to ${uri} (${summary})`);
    return { uri, scope: manifest.scope };
  }

  /** The source's manifest, checked: committed, the owner's, and naming only clean files. */
  private async manifest(
    snapshot: LocalSnapshot,
    owner: ExpectedOwner,
    what: string,
  ): Promise<SnapshotManifest> {
    let text: string;
    try {
      text = await readUnder(
        snapshot.root,
        `${snapshot.rel}/${manifestName}`,
        what,
        maxManifestBytes,
      );
    } catch (err) {
      if (!isAteError(err, Code.NotFound)) throw err;
      throw new AteError(
        Code.FailedPrecondition,
        `${what}: snapshot ${snapshot.uri} has no ${manifestName}: it was never committed or was deleted, so there is nothing to copy (${err.message})`,
      );
    }
    const m = parseManifest(text, snapshot.uri);
    const a = m.actor;
    const template = owner.template;
    if (
      a.atespace !== owner.atespace ||
      a.actorId !== owner.actorId ||
      (template && (a.templateNamespace !== template.namespace || a.templateName !== template.name))
    )
      throw new AteError(
        Code.PermissionDenied,
        `${what}: snapshot ${snapshot.uri} was taken by ${a.atespace}/${a.actorId} (template ${a.templateNamespace}/${a.templateName}), not by ${owner.atespace}/${owner.actorId}${template ? ` of template ${template.namespace}/${template.name}` : ""}; nothing was copied: fix that record in ate up, then migrate again`,
      );
    const names = new Set<string>();
    for (const f of m.snapshotFiles) {
      if (!isCleanSnapshotFileName(f.name) || f.name === manifestName || names.has(f.name))
        throw new AteError(
          Code.PermissionDenied,
          `${what}: snapshot ${snapshot.uri} lists the file ${JSON.stringify(f.name.slice(0, 300))}, which is not a clean relative name ate writes (or is listed twice); nothing was copied`,
        );
      names.add(f.name);
    }
    return m;
  }

  private async existing(store: BlobStore, uri: string): Promise<unknown> {
    let body: NodeJS.ReadableStream;
    try {
      body = await store.get(manifestName);
    } catch (err) {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    }
    const bytes = await readManifestBytes(
      body,
      () =>
        new AteError(
          Code.AlreadyExists,
          `${uri}/${manifestName} exists and is over ${maxManifestBytes} bytes: it is not a copy this migration made; give another --snapshots prefix`,
        ),
    );
    try {
      return JSON.parse(bytes.toString("utf8"));
    } catch {
      return null; // exists, and is not what this migration writes
    }
  }
}

function mismatch(what: string, path: string, got: string, want: string): AteError {
  return new AteError(
    Code.DataLoss,
    `${what}: ${path} has ${got}, its snapshot's manifest says ${want}: the snapshot is damaged, so it was not copied (an actor restored from it would be refused anyway)`,
  );
}

import type { BlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import {
  type ActorIdentity,
  isCleanSnapshotFileName,
  manifestName,
  metered,
  readManifest,
  removeSnapshotObjects,
  type SnapshotManifest,
} from "../snapshots/index.ts";

/**
 * Copies the committed snapshot at `from` to `to` (another prefix, possibly another store):
 * every file, each checked against the manifest's size and sha256 as it streams, then the
 * manifest last — so a copy cut short (a crash, a full disk) is never a snapshot, only
 * leftovers no record owns, which the garbage collector sweeps. With `identity`, the copy's
 * manifest names that actor: the node restores a snapshot only into the actor its manifest
 * names, and a fork is the new actor's own snapshot from here on. Returns the manifest written.
 */
export async function copySnapshot(
  open: (uri: string) => BlobStore,
  from: string,
  to: string,
  o: { identity?: ActorIdentity; signal?: AbortSignal } = {},
): Promise<SnapshotManifest> {
  const call = o.signal ? { signal: o.signal } : {};
  const source = open(from);
  const manifest = await readManifest(source, from, o.signal).catch((err) => {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${from} cannot be copied: ${(err as Error).message}`,
      [],
      { cause: err },
    );
  });
  const target = open(to);
  for (const f of manifest.snapshotFiles) {
    // A manifest names files relative to its snapshot; anything else is not one ate wrote.
    if (!isCleanSnapshotFileName(f.name))
      throw new AteError(
        Code.FailedPrecondition,
        `snapshot ${from} lists the file ${JSON.stringify(f.name.slice(0, 200))}, which is not a clean relative name; nothing was copied`,
      );
    const meter = metered(await source.get(f.name, call));
    await target.put(f.name, meter, call);
    const { sha256, size } = meter.digest();
    if (sha256 !== f.sha256 || size !== f.size) {
      await target.delete(f.name).catch(() => {});
      throw new AteError(
        Code.DataLoss,
        `snapshot ${from}: ${f.name} has sha256 ${sha256} (${size} bytes), its manifest says ${f.sha256} (${f.size} bytes): the snapshot is damaged; nothing was copied`,
      );
    }
  }
  const copy: SnapshotManifest = o.identity ? { ...manifest, actor: o.identity } : manifest;
  // Last: the copy is a snapshot from here on.
  await target.put(manifestName, Buffer.from(JSON.stringify(copy, null, 2)), call);
  return copy;
}

/** Removes what copySnapshot wrote at `uri` (the manifest first, so it stops being a snapshot at once). */
export async function removeSnapshot(open: (uri: string) => BlobStore, uri: string): Promise<void> {
  const store = open(uri);
  await removeSnapshotObjects(store, await store.list(""));
}

import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import type { BlobStore } from "../blob/index.ts";
import { AteError, Code } from "../errors/index.ts";
import {
  type ActorIdentity,
  manifestName,
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
    if (!f.name.split("/").every((s) => /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/.test(s)))
      throw new AteError(
        Code.FailedPrecondition,
        `snapshot ${from} lists the file ${JSON.stringify(f.name.slice(0, 200))}, which is not a clean relative name; nothing was copied`,
      );
    const hash = createHash("sha256");
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const body = await source.get(f.name, call);
    body.on("error", (err) => meter.destroy(err));
    await target.put(f.name, body.pipe(meter), call);
    const sha256 = hash.digest("hex");
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

// Committed file:// snapshots for tests over real records and blob stores without sandboxes:
// the files first and the manifest (naming each with its size and sha256) last, as a node's
// upload writes them; and a suspended actor whose latest snapshot is one.
import { createHash } from "node:crypto";
import { openBlobStore } from "../../src/blob/index.ts";
import type { Records } from "../../src/records/index.ts";
import { manifestFormatVersion, type SnapshotManifest } from "../../src/snapshots/index.ts";

/** Whose snapshot it is: an actor of an ActorTemplate in the default namespace. */
export interface SnapshotOwner {
  atespace: string;
  actorId: string;
  templateName: string;
}

/** Writes `files` (name → bytes) at `uri`, then the manifest that commits them; returns `uri`. */
export async function putSnapshot(
  uri: string,
  owner: SnapshotOwner,
  files: Record<string, Buffer>,
): Promise<string> {
  const store = openBlobStore(uri);
  for (const [name, body] of Object.entries(files)) await store.put(name, body);
  const manifest: SnapshotManifest = {
    formatVersion: manifestFormatVersion,
    scope: "Full",
    actor: { ...owner, templateNamespace: "default" },
    createdAt: new Date().toISOString(),
    arch: "amd64",
    sandboxClass: "gvisor",
    assets: {},
    images: {},
    workload: { containers: [] },
    snapshotFiles: Object.entries(files).map(([name, body]) => ({
      name,
      size: body.length,
      sha256: createHash("sha256").update(body).digest("hex"),
    })),
  };
  await store.put("manifest.json", Buffer.from(JSON.stringify(manifest)));
  return uri;
}

/**
 * A SUSPENDED actor record whose latest (and only owned) snapshot is a committed one holding
 * `body` as memory.img, at `<location>/<atespace>/<actorId>/s1`; returns that snapshot's URI.
 */
export async function actorWithSnapshot(
  records: Records,
  location: string,
  owner: SnapshotOwner,
  body: Buffer,
): Promise<string> {
  const uri = `${location}/${owner.atespace}/${owner.actorId}/s1`;
  await putSnapshot(uri, owner, { "memory.img": body });
  await records.createActor({
    ...owner,
    templateNamespace: "default",
    status: "SUSPENDED",
    createdAt: new Date().toISOString(),
    latestSnapshot: { type: "EXTERNAL", scope: "Full", uri },
    snapshots: [uri],
  });
  return uri;
}

// A records + resources + file:// snapshot state for the snapshot GC's crash and CLI tests:
// actors with history past the default 1, a deleted actor (orphans), a snapshot tag's copy, a
// crash's leftover and a golden actor whose template is gone; with `node`, also a node whose
// own snapshots directory holds a paused actor's snapshot and the one it superseded.
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { actorTemplate } from "../../src/api/testing.ts";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import { openBlobStore } from "../../src/blob/index.ts";
import type { NodeDirectory } from "../../src/controlplane/index.ts";
import type { NodeAgentApi } from "../../src/node/index.ts";
import { NodeLayout } from "../../src/node/layout.ts";
import { listLocalSnapshots, removeLocalSnapshot } from "../../src/node/local-snapshots.ts";
import { type Actor, Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { committedSnapshot } from "../../src/snapshots/index.ts";
import { putSnapshot } from "./committed-snapshot.ts";

let serial = 0;
const sid = () => `20260101T000000Z-${(++serial).toString(16).padStart(8, "0")}`;

/** A committed snapshot of t/<actorId> (template c): 4 KiB of the serial's byte, manifest last. */
function snapshot(uri: string, actorId: string): Promise<string> {
  const owner = { atespace: "t", actorId, templateName: "c" };
  return putSnapshot(uri, owner, { "checkpoint.img": Buffer.alloc(4096, serial) });
}

/**
 * Node n1 of the state in `dir`: its agent's own snapshot calls (the node's real listing and
 * removal, over its directory), in process; every other call is not there.
 */
export function nodeOf(dir: string): NodeDirectory {
  const layout = new NodeLayout(join(dir, "node"));
  const agent = {
    listSnapshots: () => listLocalSnapshots(layout),
    deleteSnapshot: (uri: string) => removeLocalSnapshot(layout, uri),
  } as unknown as NodeAgentApi;
  return {
    get: () => agent,
    names: async () => ["n1"],
    list: async () => [],
  };
}

/** Actors with history to trim, a deleted actor, a tag, a leftover, a deleted template's golden. */
export async function setUp(
  dir: string,
  { node = false } = {},
): Promise<{ records: Records; resources: SqliteResourceStore }> {
  const loc = pathToFileURL(join(dir, "snapshots")).href;
  const records = new Records(new SqliteRecordStore(join(dir, "records.db")));
  const resources = new SqliteResourceStore({ path: join(dir, "ate.db") });
  await resources.create(ActorTemplateType, {
    ...actorTemplate("c"),
    spec: {
      ...(actorTemplate("c").spec as Record<string, unknown>),
      snapshotsConfig: { location: loc },
    },
  });
  for (const space of ["t", "ate-golden"]) await records.createAtespace(space);
  for (const name of ["a", "b", "gone"]) {
    const history = [];
    for (let i = 0; i < 3; i++) history.push(await snapshot(`${loc}/t/${name}/${sid()}`, name));
    const actor: Omit<Actor, "version"> = {
      atespace: "t",
      actorId: name,
      templateNamespace: "default",
      templateName: "c",
      status: "SUSPENDED",
      createdAt: new Date().toISOString(),
      latestSnapshot: { type: "EXTERNAL", scope: "Full", uri: history[2] as string },
      snapshots: history,
      snapshotsConfig: { location: loc },
    };
    const created = await records.createActor(actor);
    if (name === "gone") await records.deleteActor(created);
  }
  const golden = await snapshot(`${loc}/ate-golden/default-old/${sid()}`, "default-old");
  await records.createActor({
    atespace: "ate-golden",
    actorId: "default-old",
    templateNamespace: "default",
    templateName: "old",
    status: "SUSPENDED",
    createdAt: new Date().toISOString(),
    latestSnapshot: { type: "EXTERNAL", scope: "Full", uri: golden },
    snapshots: [golden],
    snapshotsConfig: { location: loc },
  });
  const copy = await snapshot(`${loc}/_tags/t/v1/${sid()}`, "a");
  await records.store.commit([
    {
      kind: "snapshottag",
      key: "t/v1",
      expectVersion: 0,
      value: {
        atespace: "t",
        name: "v1",
        snapshot: { type: "EXTERNAL", scope: "Full", uri: copy },
      },
    },
  ]);
  await openBlobStore(`${loc}/t/a/${sid()}`).put("checkpoint.img", Buffer.alloc(10)); // a crash's
  if (node) {
    // p, paused on n1: its pause's snapshot there, the one it superseded still beside it.
    const local = pathToFileURL(new NodeLayout(join(dir, "node")).snapshotsDir).href;
    await snapshot(`${local}/t/p/${sid()}`, "p");
    const paused = await snapshot(`${local}/t/p/${sid()}`, "p");
    const external = await snapshot(`${loc}/t/p/${sid()}`, "p");
    await records.createActor({
      atespace: "t",
      actorId: "p",
      templateNamespace: "default",
      templateName: "c",
      status: "PAUSED",
      createdAt: new Date().toISOString(),
      latestSnapshot: { type: "LOCAL", scope: "Full", uri: paused, nodes: ["n1"] },
      lastExternalSnapshot: { type: "EXTERNAL", scope: "Full", uri: external },
      snapshots: [external],
      snapshotsConfig: { location: loc },
    });
  }
  return { records, resources };
}

/** Every snapshot a record points at is committed with every file the manifest names, intact. */
export async function assertAllResume(records: Records): Promise<void> {
  const { actors } = await records.listActors();
  const tags = (await records.store.list("snapshottag", { prefix: "", limit: 100 })).items;
  const uris = [
    ...actors.map((a) => a.latestSnapshot?.uri as string),
    ...tags.map((t) => (t.snapshot as { uri: string }).uri),
  ];
  assert.ok(uris.length >= 3);
  for (const uri of uris) {
    const m = await committedSnapshot(uri);
    assert.ok(m, `${uri} is still committed`);
    for (const f of m.snapshotFiles) {
      const stat = await openBlobStore(uri).stat(f.name);
      assert.equal(stat?.size, f.size, `${uri}/${f.name} intact`);
    }
  }
}

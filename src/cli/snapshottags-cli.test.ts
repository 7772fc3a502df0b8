// ate create|get|delete snapshottag and ate create actor --from-tag against a real API server
// (control plane over SQLite, real file:// snapshots, no sandboxes), as an admin and as tenants.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { runCliCaptured } from "../../test/support/cli.ts";
import { actorWithSnapshot } from "../../test/support/committed-snapshot.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { actorTemplate } from "../api/testing.ts";
import { ActorTemplateType } from "../api/v1alpha1/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { connect } from "../sdk/index.ts";

describe("ate snapshottag commands (against an API server)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-cli-tags-"));
  const location = pathToFileURL(join(dir, "snapshots")).href;
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  let server: TestApi;
  const as =
    (token: string) =>
    (...args: string[]) =>
      runCliCaptured(["--server", server.url, "--token", token, ...args]);

  before(async () => {
    server = await startTestApi({ controlPlane: cp, resources });
    await declareNoopPool(resources, records, agent, { replicas: 1 });
    await resources.create(
      ActorTemplateType,
      actorTemplate("tagged", { snapshotsConfig: { location } }),
    );
    for (const a of ["demo", "other"]) await cp.createAtespace(a);
    const a = { atespace: "demo", actorId: "a", templateName: "tagged" };
    await actorWithSnapshot(records, location, a, Buffer.from("state"));
  });
  after(async () => {
    await server.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("tags, lists, forks and deletes; tenants see their own atespace's tags only", async () => {
    const admin = as(server.adminToken);
    assert.deepEqual(await admin("create", "snapshottag", "three", "--actor", "a", "-a", "demo"), {
      code: 0,
      out: "snapshottag/three created\n",
      err: "",
    });
    const table = (await admin("get", "snapshottags", "-A")).out.replace(/ +/g, " ");
    assert.match(
      table,
      /^ATESPACE NAME TEMPLATE POLICY SOURCE AGE\ndemo three default\/tagged ATESPACE a /,
    );
    const fork = await admin(
      "create",
      "actor",
      "b",
      "-t",
      "tagged",
      "-a",
      "demo",
      "--from-tag",
      "demo/three",
    );
    assert.equal(fork.out, "actor/b created\n", fork.err);
    assert.match((await admin("get", "actor", "b", "-a", "demo", "-o", "wide")).out, /\/demo\/b\//);
    const bad = await admin(
      "create",
      "actor",
      "c",
      "-t",
      "tagged",
      "-a",
      "demo",
      "--from-tag",
      "three",
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /--from-tag: Invalid value: "three": give the tag as ATESPACE\/NAME/);

    const other = as(await server.tenantToken("o", "other"));
    const refused = await other("create", "actor", "c", "-t", "tagged", "--from-tag", "demo/three");
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /snapshottag demo\/three not found, or not published/);
    assert.equal((await other("get", "snapshottags", "-A")).err, "No snapshot tags found");
    assert.match(
      (await other("get", "snapshottag", "three", "-a", "demo")).err,
      /snapshottag demo\/three not found/,
    );
    assert.match((await other("delete", "snapshottag", "three", "-a", "demo")).err, /not found/);

    const demo = as(await server.tenantToken("d", "demo"));
    assert.equal(
      (await demo("create", "snapshottag", "pub", "--actor", "a", "--published")).code,
      0,
    );
    assert.equal(
      (await other("create", "actor", "c", "-t", "tagged", "--from-tag", "demo/pub")).code,
      0,
    );
    assert.equal(
      (await demo("delete", "snapshottag", "three", "pub")).out,
      "snapshottag/three deleted\nsnapshottag/pub deleted\n",
    );
    assert.equal((await admin("get", "snapshottags", "-A")).err, "No snapshot tags found");
  });

  it("the SDK tags, forks from and deletes a tag", async () => {
    const ate = connect({ server: server.url, token: server.adminToken, atespace: "demo" });
    const tag = await ate.snapshotTags.create("sdk", { actor: "a", published: true });
    assert.equal(tag.sourceActor?.name, "a");
    assert.deepEqual(
      (await ate.snapshotTags.list()).map((t) => t.tagRef?.name),
      ["sdk"],
    );
    const d = await ate.actors.create("d", { template: "tagged", fromTag: "demo/sdk" });
    assert.equal(d.latestSnapshotInfo?.data.case, "external");
    await ate.snapshotTags.delete("sdk");
    assert.deepEqual(await ate.snapshotTags.list({ atespace: "" }), []);
  });
});

// Snapshot tags at a real API server, as a hostile tenant and stolen machine tokens meet them:
// another atespace's tags are not there (create refused, get/delete NOT_FOUND, list empty, a
// fork of an unpublished one answered as a missing one), names that are paths or not names
// are INVALID_ARGUMENT naming the field, and node, router and actor tokens reach no tag call.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  callFailure,
  serviceClient,
  startTestApi,
  type TestApi,
} from "../../test/support/api-server.ts";
import { actorWithSnapshot } from "../../test/support/committed-snapshot.ts";
import { actorTemplate, sandboxConfig } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { ActorTokens } from "../auth/actor-token.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Control, SnapshotTag_Policy } from "../proto/gen/ateapi/control_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";

describe("snapshot tags at the API, attacked", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-api-tags-"));
  const location = pathToFileURL(join(dir, "snapshots")).href;
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  let api: TestApi;

  const control = (token: string) => serviceClient(Control, api, token);
  /** The Connect code and message a call fails with. */
  const failure = callFailure;

  before(async () => {
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await resources.create(
      ActorTemplateType,
      actorTemplate("counter", { snapshotsConfig: { location } }),
    );
    api = await startTestApi({ controlPlane: cp, resources });
    for (const a of ["t", "u"]) await cp.createAtespace(a);
    const owner = { atespace: "t", actorId: "a", templateName: "counter" };
    await actorWithSnapshot(records, location, owner, Buffer.from("t's memory"));
    await cp.snapshotTags.create(
      { atespace: "t", name: "secret" },
      { atespace: "t", name: "a" },
      "ATESPACE",
    );
  });
  after(async () => {
    await api.close();
    await cp.close();
    await records.store.close();
    await resources.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("another atespace's tags are not there for a tenant", async () => {
    const u = control(await api.tenantToken("tenant-u", "u"));
    const theirs = { tagRef: { atespace: "t", name: "secret" } };
    assert.deepEqual(
      await failure(u.createSnapshotTag({ ...theirs, actorRef: { atespace: "t", name: "a" } })),
      {
        code: "PermissionDenied",
        message:
          'token "tenant-u" (tenant of atespace u) may tag snapshots in atespace u only, not t',
      },
    );
    // Its own tag of another atespace's actor: the actor must be of the tag's atespace.
    assert.equal(
      (
        await failure(
          u.createSnapshotTag({
            tagRef: { atespace: "u", name: "stolen" },
            actorRef: { atespace: "t", name: "a" },
            policy: SnapshotTag_Policy.PUBLISHED,
          }),
        )
      ).code,
      "InvalidArgument",
    );
    for (const call of [u.getSnapshotTag(theirs), u.deleteSnapshotTag(theirs)])
      assert.deepEqual(await failure(call), {
        code: "NotFound",
        message: "snapshottag t/secret not found",
      });
    assert.deepEqual((await u.listSnapshotTags({ atespace: "t" })).snapshotTags, []);
    assert.deepEqual((await u.listSnapshotTags({})).snapshotTags, []);
    // A fork of an unpublished tag and of a missing one: the same answer, word for word.
    const fork = (name: string) =>
      failure(
        u.createActor({
          actorRef: { atespace: "u", name: "f" },
          actorTemplateName: "counter",
          sourceTag: { atespace: "t", name },
        }),
      );
    const [unpublished, missing] = [await fork("secret"), await fork("nothing")];
    assert.equal(unpublished.code, "NotFound");
    assert.deepEqual(unpublished, {
      ...missing,
      message: missing.message.replace("t/nothing", "t/secret"),
    });
    // The tag is untouched.
    assert.equal((await cp.snapshotTags.get({ atespace: "t", name: "secret" })).name, "secret");
  });

  it("names that are paths, too long, empty or not ASCII are INVALID_ARGUMENT naming the field", async () => {
    const t = control(await api.tenantToken("tenant-t", "t"));
    for (const name of [
      "..",
      "../u/x",
      "a/b",
      "_tags",
      "",
      "x".repeat(64),
      "ünï",
      "A",
      "a\u0000",
    ]) {
      const tagRef = { atespace: "t", name };
      for (const call of [
        t.createSnapshotTag({ tagRef, actorRef: { atespace: "t", name: "a" } }),
        t.getSnapshotTag({ tagRef }),
        t.deleteSnapshotTag({ tagRef }),
        t.createActor({
          actorRef: { atespace: "t", name: "f" },
          actorTemplateName: "counter",
          sourceTag: tagRef,
        }),
      ]) {
        const f = await failure(call);
        assert.equal(f.code, "InvalidArgument", `${JSON.stringify(name)}: ${f.message}`);
        assert.match(f.message, /^(tag_ref|source_tag)\.name: Invalid value/);
      }
    }
    assert.equal((await failure(t.listSnapshotTags({ atespace: "../t" }))).code, "InvalidArgument");
    assert.deepEqual(
      (await cp.snapshotTags.list("")).map((x) => `${x.atespace}/${x.name}`),
      ["t/secret"],
    );
  });

  it("node, router and actor tokens reach no tag call", async () => {
    const node = (await api.tokens.create({ name: "n1", role: "node" })).text;
    const router = (await api.tokens.create({ name: "r1", role: "router" })).text;
    const actor = await new ActorTokens(records.store).issue(await records.getActor("t", "a"));
    const tagRef = { atespace: "t", name: "secret" };
    for (const token of [node, router, actor]) {
      const c = control(token);
      for (const call of [
        c.createSnapshotTag({
          tagRef: { atespace: "t", name: "x" },
          actorRef: { atespace: "t", name: "a" },
        }),
        c.getSnapshotTag({ tagRef }),
        c.listSnapshotTags({ atespace: "t" }),
        c.deleteSnapshotTag({ tagRef }),
      ])
        assert.equal((await failure(call)).code, "PermissionDenied");
    }
    assert.equal(
      (await failure(control("ate_not-a-token").getSnapshotTag({ tagRef }))).code,
      "Unauthenticated",
    );
    assert.equal((await cp.snapshotTags.get(tagRef)).name, "secret");
  });
});

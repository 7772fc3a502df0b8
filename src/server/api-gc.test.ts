// `ate gc` through the Admin API: the control plane runs its collector once, its nodes' own
// snapshots included (which the CLI could not reach when it read the stores itself); a dry
// run removes nothing; only an admin token may ask, and a grace past a year is refused.
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
import { runCliCaptured } from "../../test/support/cli.ts";
import { assertAllResume, nodeOf, setUp } from "../../test/support/gc-state.ts";
import { ControlPlane } from "../controlplane/index.ts";
import { NodeLayout } from "../node/layout.ts";
import { listLocalSnapshots } from "../node/local-snapshots.ts";
import { Admin } from "../proto/gen/ateapi/admin_pb.ts";
import type { Records } from "../records/index.ts";
import type { SqliteResourceStore } from "../resources/index.ts";

describe("garbage collection through the Admin API", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-api-gc-"));
  let records: Records;
  let resources: SqliteResourceStore;
  let api: TestApi;

  const admin = (token: string) => serviceClient(Admin, api, token);
  const failure = callFailure;
  const nodeSnapshots = async () =>
    (await listLocalSnapshots(new NodeLayout(join(dir, "node")))).snapshots.length;

  before(async () => {
    ({ records, resources } = await setUp(dir, { node: true }));
    const controlPlane = new ControlPlane({ records, resources, nodes: nodeOf(dir) });
    api = await startTestApi({ controlPlane, resources });
  });
  after(async () => {
    await api?.close();
    await records.store.close();
    await resources.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is for admin tokens only, and takes a grace of up to a year", async () => {
    await records.createAtespace("q");
    const tenant = await api.tenantToken("gc-tenant", "q");
    assert.deepEqual(await failure(admin(tenant).collectGarbage({ dryRun: true })), {
      code: "PermissionDenied",
      message:
        'token "gc-tenant" (tenant of atespace q) may not call CollectGarbage: the Admin API (tokens, garbage collection) needs an admin token',
    });
    assert.equal(
      (await failure(admin("").collectGarbage({ dryRun: true }))).code,
      "Unauthenticated",
    );
    const late = await failure(
      admin(api.adminToken).collectGarbage({ graceMs: 366n * 86_400_000n }),
    );
    assert.equal(late.code, "InvalidArgument");
    assert.match(late.message, /^grace_ms: Invalid value: 31622400000: at most/);
  });

  it("a dry run lists what would go, the node's superseded snapshot too, and removes nothing", async () => {
    const r = await admin(api.adminToken).collectGarbage({ dryRun: true, graceMs: 0n });
    assert.ok(
      r.removals.some((x) => x.uri.includes("/node/snapshots/t/p/")),
      r.removals.map((x) => x.uri).join(" "),
    );
    assert.equal(
      r.bytes,
      r.removals.reduce((n, x) => n + x.bytes, 0n),
    );
    assert.equal(r.recordsChanged, 0);
    assert.equal(await nodeSnapshots(), 2);
    // Only the locations its records name: never the default /var/lib/ate/snapshots, where
    // this machine's own ate keeps its actors.
    const mine = pathToFileURL(dir).href;
    assert.deepEqual(
      r.removals.filter((x) => !x.uri.startsWith(mine)).map((x) => x.uri),
      [],
    );
  });

  it("ate gc asks the API: removes what no record owns, on the node too; every actor still resumes", async () => {
    const r = await runCliCaptured([
      "--server",
      api.url,
      "--token",
      api.adminToken,
      "gc",
      "--grace",
      "0s",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^removed file:\/\/.*\/node\/snapshots\/t\/p\/\S+ \d+ bytes \(unowned\)$/m);
    assert.match(r.out, /^removed \d+ snapshot\(s\), \d+ bytes; \d+ record\(s\) tidied$/m);
    assert.equal(await nodeSnapshots(), 1);
    await assertAllResume(records);
    const again = await runCliCaptured([
      "--server",
      api.url,
      "--token",
      api.adminToken,
      "gc",
      "--dry-run",
      "--grace",
      "0s",
    ]);
    assert.equal(again.out, "dry run: would remove 0 snapshot(s), 0 bytes\n");
  });
});

// The ResourceStore contract for the Kubernetes core kinds ate serves (v1 Namespace, Secret),
// run by resourceStoreContract (contract.ts) against every backend.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { Resource } from "../api/schema/index.ts";
import { namespaceObject, secretObject, workerPool } from "../api/testing.ts";
import { NamespaceType, SecretType, secretValues } from "../api/v1/index.ts";
import { WorkerPoolType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { applyResource } from "./apply.ts";
import type { ResourceStore, WatchEvent } from "./store.ts";

const rejectsWith = (code: Code, pattern: RegExp) => (err: unknown) =>
  isAteError(err, code) && pattern.test((err as Error).message);

export function coreKindsContract(store: () => ResourceStore): void {
  it("stores a Secret's stringData as base64 data, defaults its type, and keeps no stringData", async () => {
    const created = await store().create(
      SecretType,
      secretObject("db", { password: "s3cr3t", "user.name": "app" }),
    );
    const got = (await store().get(SecretType, "default", "db")) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(got, created);
    assert.equal(got.type, "Opaque");
    assert.equal(got.stringData, undefined);
    assert.deepEqual(got.data, {
      password: Buffer.from("s3cr3t").toString("base64"),
      "user.name": Buffer.from("app").toString("base64"),
    });
    assert.equal(created.metadata.generation, undefined, "a Secret has no spec, no generation");
    assert.deepEqual(secretValues(created), { password: "s3cr3t", "user.name": "app" });
  });

  it("refuses a bad Secret without echoing its values, and stores nothing", async () => {
    const bad = {
      ...secretObject("bad"),
      data: { token: "not base64 SECRETVALUE" },
    } as unknown as Resource;
    await assert.rejects(store().create(SecretType, bad), (err: unknown) => {
      assert.ok(isAteError(err, Code.InvalidArgument));
      assert.match(err.message, /illegal base64 data at input byte 3/);
      assert.doesNotMatch(err.message, /SECRETVALUE/);
      return true;
    });
    const badKey = secretObject("bad", { "a/b": "SECRETVALUE" });
    await assert.rejects(store().create(SecretType, badKey), (err: unknown) => {
      assert.match(
        (err as Error).message,
        /data\[a\/b\]: Invalid value: "a\/b": a valid config key/,
      );
      assert.doesNotMatch((err as Error).message, /SECRETVALUE/);
      return true;
    });
    await assert.rejects(
      store().get(SecretType, "default", "bad"),
      rejectsWith(Code.NotFound, /^secrets "bad" not found$/),
    );
  });

  it("keeps an immutable Secret's data as it is, while its labels may change", async () => {
    const first = {
      ...secretObject("frozen", { k: "v1" }),
      immutable: true,
    } as unknown as Resource;
    await store().create(SecretType, first);
    const changed = {
      ...secretObject("frozen", { k: "v2" }),
      immutable: true,
    } as unknown as Resource;
    await assert.rejects(
      store().update(SecretType, changed),
      rejectsWith(
        Code.InvalidArgument,
        /data: Forbidden: field is immutable when `immutable` is set/,
      ),
    );
    const relabelled = { ...first, metadata: { ...first.metadata, labels: { a: "b" } } };
    const updated = await store().update(SecretType, relabelled);
    assert.deepEqual(updated.metadata.labels, { a: "b" });
    assert.deepEqual(secretValues(updated), { k: "v1" });
  });

  it("applies a Secret as created, unchanged or configured by its data", async () => {
    const apply = (v: string) => applyResource(store(), SecretType, secretObject("s", { k: v }));
    assert.equal((await apply("a")).outcome, "created");
    assert.equal((await apply("a")).outcome, "unchanged");
    assert.equal((await apply("b")).outcome, "configured");
  });

  it("creates namespaced objects only in namespaces that exist", async () => {
    await assert.rejects(
      store().create(SecretType, secretObject("s", {}, "team")),
      rejectsWith(Code.NotFound, /^namespaces "team" not found$/),
    );
    await assert.rejects(
      store().create(WorkerPoolType, workerPool("p", {}, "team")),
      rejectsWith(Code.NotFound, /^namespaces "team" not found$/),
    );
    const ns = await store().create(NamespaceType, namespaceObject("team"));
    assert.deepEqual(ns.status, { phase: "Active" });
    assert.deepEqual(ns.spec, { finalizers: ["kubernetes"] });
    await store().create(SecretType, secretObject("s", {}, "team"));
    await store().create(WorkerPoolType, workerPool("p", {}, "team"));
    // `default` always exists, declared or not.
    await store().create(SecretType, secretObject("s"));
    const names = (await store().list(SecretType)).items.map(
      (o) => `${o.metadata.namespace}/${o.metadata.name}`,
    );
    assert.deepEqual(names, ["default/s", "team/s"]);
  });

  it("refuses a Namespace name that is not a DNS-1123 label", async () => {
    await assert.rejects(
      store().create(NamespaceType, namespaceObject("a.b")),
      rejectsWith(
        Code.InvalidArgument,
        /metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label/,
      ),
    );
  });

  it("deletes what a namespace holds with it, and nothing elsewhere", async () => {
    await store().create(NamespaceType, namespaceObject("gone"));
    await store().create(NamespaceType, namespaceObject("kept"));
    await store().create(SecretType, secretObject("s", { k: "v" }, "gone"));
    await store().create(WorkerPoolType, workerPool("p", {}, "gone"));
    await store().create(WorkerPoolType, workerPool("p", {}, "kept"));
    const { resourceVersion } = await store().list(NamespaceType);
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of store().watch({ resourceVersion, signal: ac.signal })) {
        seen.push(show(e));
        if (e.type === "DELETED" && e.object.kind === "Namespace") break;
      }
    })();
    const deleted = await store().delete(NamespaceType, undefined, "gone");
    assert.equal(deleted.metadata.name, "gone");
    await watching;
    ac.abort();
    assert.deepEqual(seen, [
      "MODIFIED Namespace/gone Terminating",
      "DELETED Secret/gone/s",
      "DELETED WorkerPool/gone/p",
      "DELETED Namespace/gone Terminating",
    ]);
    await assert.rejects(
      store().get(NamespaceType, undefined, "gone"),
      rejectsWith(Code.NotFound, /namespaces "gone" not found/),
    );
    assert.equal((await store().list(WorkerPoolType)).items.length, 1, "kept/p is still there");
  });

  it("refuses new objects in a Terminating namespace, and never deletes default", async () => {
    const ns = await store().create(NamespaceType, namespaceObject("ending"));
    await store().updateStatus(NamespaceType, { ...ns, status: { phase: "Terminating" } });
    await assert.rejects(
      store().create(SecretType, secretObject("s", {}, "ending")),
      rejectsWith(
        Code.PermissionDenied,
        /^secrets "s" is forbidden: unable to create new content in namespace ending because it is being terminated$/,
      ),
    );
    await store().delete(NamespaceType, undefined, "ending"); // a deletion cut short goes on
    await assert.rejects(
      store().delete(NamespaceType, undefined, "default"),
      rejectsWith(
        Code.PermissionDenied,
        /^namespaces "default" is forbidden: this namespace may not be deleted$/,
      ),
    );
  });
}

function show(e: WatchEvent): string {
  const { kind, metadata, status } = e.object;
  const where = metadata.namespace ? `${metadata.namespace}/` : "";
  const phase = kind === "Namespace" ? ` ${(status as { phase?: string }).phase}` : "";
  return `${e.type} ${kind}/${where}${metadata.name}${phase}`;
}

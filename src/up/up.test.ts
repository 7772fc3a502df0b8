import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sandboxConfig } from "../api/testing.ts";
import { SandboxConfigType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { silentLogger } from "../log/index.ts";
import { ateHome, SqliteResourceStore } from "../resources/index.ts";
import { ServedAssets } from "../server/index.ts";
import { assetArch, ensureDefaultRuntime } from "./default-runtime.ts";
import { ensureListenable, parseAddr } from "./listen.ts";
import { checkPrerequisites, findExecutable } from "./prerequisites.ts";
import { lockStateDir } from "./state-lock.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-up-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function fakeRunsc(name: string, content: string): { path: string; sha: string } {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, 0o755);
  return { path, sha: createHash("sha256").update(content).digest("hex") };
}

describe("the default gvisor runtime from the machine's runsc", () => {
  const list = async (store: SqliteResourceStore) =>
    (await store.list(SandboxConfigType)).items.map((c) => ({
      name: c.metadata.name,
      default: c.spec.default,
      sha: c.spec.assets?.[assetArch()]?.runsc?.sha256,
      url: c.spec.assets?.[assetArch()]?.runsc?.url,
    }));

  const api = "http://127.0.0.1:7443";
  const served = new ServedAssets();
  const ensure = (store: SqliteResourceStore, runsc: string, apiUrl = api) =>
    ensureDefaultRuntime(store, runsc, silentLogger, { apiUrl, served });

  it("is created on first start (served by the API by sha256, default), kept after, and upgraded when runsc changes", async () => {
    const store = new SqliteResourceStore({ path: ":memory:" });
    const v1 = fakeRunsc("runsc-v1", "runsc one");
    assert.deepEqual(await ensure(store, v1.path), {
      name: `gvisor-${v1.sha.slice(0, 12)}`,
      outcome: "created",
      asset: served.get(v1.sha),
    });
    assert.equal(served.get(v1.sha)?.path, v1.path, "the runsc is what the API serves");
    assert.deepEqual(await list(store), [
      {
        name: `gvisor-${v1.sha.slice(0, 12)}`,
        default: true,
        sha: v1.sha,
        url: `${api}/assets/sha256/${v1.sha}`,
      },
    ]);
    assert.equal((await ensure(store, v1.path)).outcome, "kept");

    const v2 = fakeRunsc("runsc-v2", "runsc two");
    assert.equal((await ensure(store, v2.path)).outcome, "upgraded");
    // The old runtime stays (snapshots pin it); only the default moves.
    const defaults = async () =>
      Object.fromEntries((await list(store)).map((c) => [c.sha, c.default]));
    assert.deepEqual(await defaults(), { [v1.sha]: false, [v2.sha]: true });
    // Back to the first runsc: its config becomes the default again.
    assert.equal((await ensure(store, v1.path)).outcome, "upgraded");
    assert.deepEqual(await defaults(), { [v1.sha]: true, [v2.sha]: false });
    await store.close();
  });

  it("moves its own runtime's url to where it is served now: an earlier version's file:// url, another API address", async () => {
    const store = new SqliteResourceStore({ path: ":memory:" });
    const v1 = fakeRunsc("runsc-old", "runsc of an earlier ate");
    const name = `gvisor-${v1.sha.slice(0, 12)}`;
    // As ate up declared it before it served assets.
    await store.create(SandboxConfigType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "SandboxConfig",
      metadata: { name, labels: { "ate.dev/created-by": "ate-up" } },
      spec: {
        sandboxClass: "gvisor",
        default: true,
        assets: { [assetArch()]: { runsc: { url: `file://${v1.path}`, sha256: v1.sha } } },
      },
    });
    assert.equal((await ensure(store, v1.path)).outcome, "upgraded");
    assert.deepEqual(await list(store), [
      { name, default: true, sha: v1.sha, url: `${api}/assets/sha256/${v1.sha}` },
    ]);
    const moved = "http://10.1.2.3:7443";
    assert.equal((await ensure(store, v1.path, moved)).outcome, "upgraded");
    assert.equal((await list(store))[0]?.url, `${moved}/assets/sha256/${v1.sha}`);
    assert.equal((await ensure(store, v1.path, moved)).outcome, "kept");
    await store.close();
  });

  it("leaves runtimes alone once the user declared a gvisor SandboxConfig", async () => {
    const store = new SqliteResourceStore({ path: ":memory:" });
    await store.create(SandboxConfigType, sandboxConfig("mine", { default: true }));
    const v1 = fakeRunsc("runsc-v3", "runsc three");
    assert.deepEqual(await ensure(store, v1.path), {
      name: "mine",
      outcome: "kept",
      asset: served.get(v1.sha),
    });
    assert.deepEqual(
      (await list(store)).map((c) => c.name),
      ["mine"],
    );
    await store.close();
  });
});

describe("ate up's checks", () => {
  it("names what is missing and how to get it", () => {
    const problems = checkPrerequisites({ runsc: join(dir, "no-runsc") }).filter((c) => c.problem);
    assert.ok(
      problems.some((p) => p.what === "runsc" && /apt-get install .*runsc/.test(p.problem ?? "")),
    );
    const asUser = checkPrerequisites({ uid: 1000 }).find((c) => c.what === "root");
    assert.match(asUser?.problem ?? "", /needs root: run it as root \(sudo ate up\)/);
    assert.equal(findExecutable("definitely-not-a-command-xyz"), undefined);
    assert.match(findExecutable("sh") ?? "", /\/sh$/);
  });

  it("parses addresses naming the flag, and refuses one in use", async () => {
    assert.deepEqual(parseAddr("127.0.0.1:7443", "--api-addr"), { host: "127.0.0.1", port: 7443 });
    assert.deepEqual(parseAddr("[::1]:80", "--api-addr"), { host: "::1", port: 80 });
    assert.deepEqual(parseAddr(":80", "--api-addr"), { host: "127.0.0.1", port: 80 });
    assert.throws(
      () => parseAddr("localhost", "--router-addr"),
      /--router-addr "localhost": expected HOST:PORT/,
    );
    // Port 0: one free now, named before the server listens (the runtime's url has it).
    const free = await ensureListenable({ host: "127.0.0.1", port: 0 }, "--api-addr");
    assert.ok(free > 0 && free < 65536);
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const { port } = busy.address() as { port: number };
    try {
      await assert.rejects(
        ensureListenable({ host: "127.0.0.1", port }, "--api-addr"),
        (e) => isAteError(e, Code.FailedPrecondition) && /is in use/.test(e.message),
      );
    } finally {
      busy.close();
    }
  });

  it("lets one substrate at a time use a state directory, taking over a dead one's lock", () => {
    const state = join(dir, "state");
    const release = lockStateDir(state);
    assert.throws(
      () => lockStateDir(state),
      /another ate up \(pid \d+\) is using the state directory/,
    );
    release();
    lockStateDir(state)();
    writeFileSync(join(state, "ate-up.pid"), "999999999");
    lockStateDir(state)();
  });

  it("keeps state in $ATE_HOME, else /var/lib/ate for root, else the user's data dir", () => {
    assert.equal(ateHome({ ATE_HOME: "/x" }, 0), "/x");
    assert.equal(ateHome({}, 0), "/var/lib/ate");
    assert.equal(ateHome({ HOME: "/home/u" }, 1000), "/home/u/.local/share/ate");
  });
});

// The control-plane component settles what a crashed run left mid-transition before `ate up`
// serves (SQLite), and on shared records (a real valkey-server) releases its former runs'
// presence and lease at once instead of waiting for them to expire.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RunningValkey, startValkey } from "../../test/support/valkey.ts";
import { Lease } from "../lease/index.ts";
import { silentLogger } from "../log/index.ts";
import { type Actor, openRecordStore, Records } from "../records/index.ts";
import { type RunningControlPlane, startControlPlane } from "./controlplane-component.ts";
import { formerRunsFile } from "./former-runs.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), "ate-cp-component-"));
  dirs.push(d);
  return d;
};

/** An actor a crashed run left SUSPENDING (no snapshot written yet, no worker). */
async function interrupted(records: Records, name: string, owner: string): Promise<void> {
  await records.createAtespace("t").catch(() => {});
  await records.createActor({
    atespace: "t",
    actorId: name,
    templateNamespace: "default",
    templateName: "counter",
    status: "SUSPENDING",
    createdAt: new Date().toISOString(),
    inProgressSnapshot: `file:///nowhere/t/${name}/never-written`,
    transition: { op: "suspend", owner, expiresAt: Date.now() + 600_000 },
  } as Omit<Actor, "version">);
}

const healthy = (url: string) =>
  fetch(`${url}/healthz`).then(
    (r) => r.ok,
    () => false,
  );

describe("the control-plane component after a crash", () => {
  it("with deferApi, serves only when asked, once the first pass settled the former run's transitions", async () => {
    const dir = stateDir();
    const seed = new Records(openRecordStore(undefined, dir));
    await interrupted(seed, "left", "controlplane-crashed");
    await seed.store.close();

    let cp: RunningControlPlane | undefined;
    let url = "";
    try {
      cp = await startControlPlane({
        stateDir: dir,
        apiAddr: "127.0.0.1:0",
        runsc: false,
        deferApi: true,
        resyncMs: 600_000,
        logger: silentLogger,
      });
      url = cp.apiUrl;
      assert.equal(await healthy(url), false, "not listening before serveApi");
      await cp.settled;
      const actor = await cp.records.getActor("t", "left");
      assert.equal(actor.status, "SUSPENDED", "rolled back to its last snapshot");
      assert.equal(actor.transition, undefined);
      await cp.serveApi();
      assert.equal(await healthy(url), true);
    } finally {
      await cp?.stop();
    }
    assert.equal(await healthy(url), false, "closed on stop");
  });

  it("refuses to serve once stopping", async () => {
    const cp = await startControlPlane({
      stateDir: stateDir(),
      apiAddr: "127.0.0.1:0",
      runsc: false,
      deferApi: true,
      logger: silentLogger,
    });
    await cp.stop();
    await assert.rejects(cp.serveApi(), /stopping/);
    await cp.settled; // resolved by the stop: nobody waiting on it hangs
  });
});

describe("the control-plane component on valkey-server", () => {
  let valkey: RunningValkey;
  before(async () => {
    valkey = await startValkey();
  });
  after(async () => {
    await valkey?.stop();
  });

  it("releases a former run's presence and lease at once: it leads and settles that run's transitions without waiting for their ttl", async () => {
    const dir = stateDir();
    const former = { owner: "controlplane-0badc0de", leaseHolder: "oldhost-1-abcdef" };
    const seed = new Records(openRecordStore(valkey.url, dir));
    await interrupted(seed, "left", former.owner);
    // What the former run held when it was killed: its presence and the controllers' lease,
    // both fresh (others would wait 10 s for them), and its names in the state dir.
    for (const [name, holder] of [
      [`presence.${former.owner}`, former.owner],
      ["controllers", former.leaseHolder],
    ] as const)
      await seed.store.commit([
        {
          kind: "lease",
          key: name,
          expectVersion: 0,
          value: { name, holder, fence: 1, ttlMs: 10_000, renewedAt: new Date().toISOString() },
        },
      ]);
    writeFileSync(join(dir, formerRunsFile), JSON.stringify([former]), { mode: 0o600 });

    const started = Date.now();
    let cp: RunningControlPlane | undefined;
    try {
      cp = await startControlPlane({
        stateDir: dir,
        apiAddr: "127.0.0.1:0",
        records: valkey.url,
        runsc: false,
        resyncMs: 600_000,
        logger: silentLogger,
      });
      await cp.settled;
      assert.ok(
        Date.now() - started < 8000,
        `settled in ${Date.now() - started} ms, not after the ttl`,
      );
      const actor = await seed.getActor("t", "left");
      assert.equal(actor.status, "SUSPENDED");
      assert.equal(actor.transition, undefined);
      const holder = (await Lease.current(seed.store, "controllers"))?.holder;
      assert.ok(holder && holder !== former.leaseHolder, `this run leads (holder ${holder})`);
      const runs = JSON.parse(readFileSync(join(dir, formerRunsFile), "utf8"));
      assert.deepEqual(
        runs.map((r: { leaseHolder: string }) => r.leaseHolder),
        [holder],
        "the released run is forgotten; this one is remembered",
      );
    } finally {
      await cp?.stop();
      await seed.store.close();
    }
  });

  it("is settled at once when another control plane leads (its passes settle them)", async () => {
    const store = openRecordStore(valkey.url, stateDir());
    const other = new Lease({ store, name: "controllers", holder: "other-cp", ttlMs: 10_000 });
    const stopOther = new AbortController();
    let leading = () => {};
    const led = new Promise<void>((r) => {
      leading = r;
    });
    const otherRun = other.run({ signal: stopOther.signal }, async ({ signal }) => {
      leading();
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    });
    let cp: RunningControlPlane | undefined;
    try {
      await led;
      cp = await startControlPlane({
        stateDir: stateDir(),
        apiAddr: "127.0.0.1:0",
        records: valkey.url,
        runsc: false,
        deferApi: true,
        logger: silentLogger,
      });
      await cp.settled;
      assert.equal((await Lease.current(store, "controllers"))?.holder, "other-cp");
    } finally {
      await cp?.stop();
      stopOther.abort();
      await otherRun;
      await store.close();
    }
  });
});

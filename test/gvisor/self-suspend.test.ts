// The self-suspend demo end to end on real runsc, in the all-in-one substrate, driven with the
// SDK from the test side: an actor does half its job, suspends itself through the Control API
// with its own token (/run/ate/token, reached at /run/ate/api), and finishes its job from its
// memory after the next request. Its token is new at every start, the old one refused, and
// it reaches nothing but its own get/suspend/pause, from inside the sandbox or outside.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { Resource } from "../../src/api/schema/index.ts";
import {
  ActorTemplateType,
  SandboxConfigType,
  WorkerPoolType,
} from "../../src/api/v1alpha1/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import { buildNodeAppImage } from "../../src/node/index.ts";
import { Role } from "../../src/proto/gen/ateapi/admin_pb.ts";
import { Actor_Status, type AteClient, Code, connect, isAteError } from "../../src/sdk/index.ts";
import { type RunningSubstrate, startSubstrate } from "../../src/up/index.ts";
import { waitForGolden } from "../support/counter-resources.ts";
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";

const demo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "demos", "self-suspend");

/** The demo's job, as the actor computes it: the chain of sha256 over its steps. */
function expectedDigest(steps: number): string {
  let digest = "";
  for (let i = 0; i < steps; i++)
    digest = createHash("sha256").update(`${digest}:${i}`).digest("hex");
  return digest;
}

const short = (token: string) => createHash("sha256").update(token).digest("hex").slice(0, 12);

describe("the self-suspend demo on gvisor", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-self-suspend-"));
  const nodeDir = join(dir, "state", "node");
  const network = { prefix: "atsf", subnetBase: 176, subnets: 1 };
  let registry: RunningRegistry;
  let ate: RunningSubstrate;
  let admin: AteClient;

  /** What the actor answers at `path` (through the router, resuming it if need be). */
  const ask = async (path: string, init: RequestInit = {}) => {
    const res = await admin.actor("job-a").fetch(path, init);
    const text = await res.text();
    assert.ok(res.status < 500, `${path}: ${res.status} ${text}`);
    return { status: res.status, body: JSON.parse(text) };
  };
  /** A Control API call the actor makes with its token, as the gateway and API answer it. */
  const fromInside = async (method: string, body: unknown, query = "") => {
    const r = await ask(`/api/${method}${query}`, { method: "POST", body: JSON.stringify(body) });
    return r.body as { status: number; body: { code?: string; message?: string } };
  };
  const statusSoon = async (name: string, want: Actor_Status) => {
    for (const deadline = Date.now() + 120_000; ; await sleep(200)) {
      const a = await admin.actors.get(name);
      if (a.status === want) return a;
      assert.ok(Date.now() < deadline, `${name} ${Actor_Status[want]} within 120 s`);
    }
  };
  /** The token the node wrote for the actor's current start. */
  const tokenOnNode = async (name: string) => {
    const a = await ate.controlPlane.getActor({ atespace: "demo", name });
    const worker = a.worker?.name as string;
    return readFileSync(join(nodeDir, "workers", worker, "identity", "token"), "utf8");
  };
  const self = { actorRef: { atespace: "demo", name: "job-a" } };

  before(async () => {
    registry = await startRegistry();
    ate = await startSubstrate({
      runsc: false, // declared below, as the counter tests do
      stateDir: join(dir, "state"),
      apiAddr: "127.0.0.1:0",
      routerAddr: "127.0.0.1:0",
      nodeName: "node-1",
      network,
      idleTimeoutMs: 0,
      logger: silentLogger,
    });
    const image = await buildNodeAppImage({
      entry: join(demo, "server.ts"),
      reference: `${registry.host}/demo/self-suspend:v1`,
    });
    const sha = createHash("sha256").update(readFileSync("/usr/bin/runsc")).digest("hex");
    await ate.resources.create(SandboxConfigType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "SandboxConfig",
      metadata: { name: "gvisor-default" },
      spec: {
        sandboxClass: "gvisor",
        default: true,
        assets: { amd64: { runsc: { url: "file:///usr/bin/runsc", sha256: sha } } },
      },
    });
    // The demo's own manifests, as a user applies them.
    const docs = (file: string) =>
      parseAllDocuments(
        readFileSync(join(demo, file), "utf8")
          .replaceAll("IMAGE", image)
          .replace("file:///var/lib/ate/snapshots", `file://${dir}/snapshots`),
      ).map((d) => d.toJS() as Resource);
    for (const pool of docs("workerpool.yaml")) await ate.resources.create(WorkerPoolType, pool);
    for (const t of docs("actortemplate.yaml")) await ate.resources.create(ActorTemplateType, t);
    await waitForGolden(ate.resources, ["self-suspend"], 180_000);
    await ate.controlPlane.createAtespace("demo");
    admin = connect({
      server: ate.apiUrl,
      router: ate.routerUrl,
      token: ate.credential.token,
      atespace: "demo",
    });
  });

  after(async () => {
    await ate?.stop().catch(() => {});
    await removeLeftoverWorkers(nodeDir, network);
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("does half its job, suspends itself with its own token, and finishes it after the next request", async () => {
    await admin.actors.create("job-a", { template: "self-suspend" });
    const started = await ask("/job?steps=20000", { method: "POST" });
    assert.equal(started.status, 202);
    assert.deepEqual(
      { state: started.body.state, done: started.body.done, steps: started.body.steps },
      { state: "suspending", done: 10000, steps: 20000 },
    );
    // Nobody but the actor asked for this.
    const suspended = await statusSoon("job-a", Actor_Status.SUSPENDED);
    assert.equal(suspended.latestSnapshotInfo !== undefined, true, "a snapshot was taken");

    const done = await ask("/job"); // the router resumes it on this request
    assert.equal(done.status, 200);
    assert.deepEqual(done.body, {
      state: "done",
      steps: 20000,
      done: 20000,
      suspensions: 1,
      digest: expectedDigest(20000),
      // gVisor's restored process reads this start's token from /run/ate/token, not the one
      // its memory was taken with.
      tokenChanged: true,
    });
    let logs = "";
    for await (const t of admin.actor("job-a").logs()) logs += t;
    assert.match(logs, /job: 10000\/20000 steps done[\s\S]*yielding[\s\S]*job: 20000\/20000/);
  });

  it("sees this start's token and API address in /run/ate; the token before is refused", async () => {
    const who = await ask("/whoami");
    assert.equal(who.body.actor, "job-a");
    assert.equal(who.body.atespace, "demo");
    assert.equal(who.body.api, "http://10.88.0.1");
    assert.equal(
      who.body.token,
      short(await tokenOnNode("job-a")),
      "the node's token for this start",
    );
    assert.equal(who.body.getActor.status, 200);
    assert.equal(who.body.getActor.body.actor.actorId, "job-a");
    assert.equal(who.body.getActor.body.actor.status, "STATUS_RUNNING");
    const old = await fromInside("GetActor", self, "?token=start");
    assert.equal(old.status, 401);
    assert.equal(old.body.code, "unauthenticated");
  });

  it("refuses the actor anything but its own get, suspend and pause, and hostile requests", async () => {
    const denied = async (method: string, body: unknown, query = "") => {
      const r = await fromInside(method, body, query);
      assert.equal(r.status, 403, `${method}${query}: ${JSON.stringify(r)}`);
      assert.equal(r.body.code, "permission_denied", `${method}${query}`);
      return r.body.message ?? "";
    };
    assert.match(
      await denied("GetActor", { actorRef: { atespace: "demo", name: "other" } }),
      /the actor token of demo\/job-a may not get actor demo\/other/,
    );
    await denied("SuspendActor", { actorRef: { atespace: "default", name: "job-a" } });
    await denied("PauseActor", { actorRef: { atespace: "ate-golden", name: "self-suspend" } });
    await denied("ListActors", {});
    await denied("ListActors", { atespace: "demo" });
    await denied("CreateActor", {
      actorRef: { atespace: "demo", name: "clone" },
      actorTemplateNamespace: "default",
      actorTemplateName: "self-suspend",
    });
    await denied("ResumeActor", self);
    await denied("DeleteActor", self);
    await denied("ListAtespaces", {});
    await denied("ListWorkers", {});
    // Not the Control API: the gateway passes nothing else on.
    assert.match(
      await denied("GetActor", {}, "?path=/apis/ate.dev/v1alpha1/actortemplates"),
      /this address reaches the Control API only/,
    );
    await denied("GetActor", {}, "?path=/ate/v1/atespaces/demo/actors/job-a/logs");
    // The Admin service: who it is, yes; tokens, no.
    await denied("GetActor", { name: "x" }, "?path=/ateapi.Admin/CreateToken");
    // An admin's token inside a sandbox opens nothing there: the gateway takes actor tokens only.
    assert.match(
      await denied("ListActors", {}, `?token=${encodeURIComponent(ate.credential.token)}`),
      /takes an actor's own token only/,
    );
    const tampered = await fromInside("GetActor", self, "?token=tampered");
    assert.equal(tampered.status, 401);
    const big = await fromInside("GetActor", self, "?pad=100000");
    assert.equal(big.status, 413);
    assert.match(big.body.message ?? "", /more than this gateway takes/);
    // A burst: bounded by the gateway (calls at once, rate) and the node's connection rules;
    // what goes beyond them is refused (429, or a reset connection), never passed on.
    const began = Date.now();
    const burst = (await ask("/api/GetActor?burst=60", {
      method: "POST",
      body: JSON.stringify(self),
    })) as { body: { statuses: Record<string, number> } };
    const seconds = (Date.now() - began) / 1000;
    const { statuses } = burst.body;
    const passed = statuses["200"] ?? 0;
    // 20 at once, then 5 a second (a dropped SYN comes back a second or more later).
    assert.ok(passed <= 20 + Math.ceil(5 * seconds), `${JSON.stringify(statuses)} in ${seconds} s`);
    assert.ok(passed < 60, `some are refused: ${JSON.stringify(statuses)}`);
    assert.ok((statuses["429"] ?? 0) + (statuses["0"] ?? 0) > 0, JSON.stringify(statuses));
    // And once the rate allows again, it still works for what it may do.
    for (const deadline = Date.now() + 10_000; ; await sleep(200)) {
      const r = await fromInside("GetActor", self);
      if (r.status === 200) break;
      assert.ok(Date.now() < deadline, `GetActor answered again within 10 s: ${JSON.stringify(r)}`);
    }
  });

  it("is good from outside the sandbox for the same calls only, until the actor starts again", async () => {
    const token = await tokenOnNode("job-a");
    const asActor = connect({
      server: ate.apiUrl,
      router: ate.routerUrl,
      token,
      atespace: "demo",
    });
    const who = await (await asActor.admin()).whoAmI({});
    assert.equal(who.token?.role, Role.ACTOR);
    assert.equal(who.token?.actor, "job-a");
    assert.equal((await asActor.actors.get("job-a")).actorId, "job-a");
    const denied = (e: unknown) => isAteError(e, Code.PermissionDenied);
    await assert.rejects(asActor.actors.list(), denied);
    await assert.rejects(asActor.actors.get("other"), denied);
    await assert.rejects(asActor.actors.resume("job-a"), denied);
    await assert.rejects(asActor.atespaces.list(), denied);
    // It pauses itself (from outside here); resumed, it has a new token and the old one is dead.
    await asActor.actors.pause("job-a");
    await statusSoon("job-a", Actor_Status.PAUSED);
    await admin.actors.resume("job-a");
    assert.notEqual(await tokenOnNode("job-a"), token);
    await assert.rejects(asActor.actors.get("job-a"), (e: unknown) =>
      isAteError(e, Code.Unauthenticated),
    );
    const after = await ask("/whoami");
    assert.equal(after.body.token, short(await tokenOnNode("job-a")));
    assert.equal(after.body.getActor.status, 200);
  });
});

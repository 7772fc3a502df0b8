// The router and the frozen tier: a request to a frozen actor thaws it (ResumeActor, no
// worker claimed) before it is forwarded, concurrent requests share one thaw, and the wire
// carries the tier only while the actor is frozen.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { actorToWire } from "../controlplane/wire.ts";
import { Actor_Tier } from "../proto/gen/ateapi/control_pb.ts";
import { routedFromWire } from "./remote-backend.ts";
import { Router } from "./router.ts";
import { type RouterTestbed, routerTestbed } from "./testing.ts";

describe("router and the frozen tier", () => {
  let n = 0;
  const app = (): http.RequestListener => (_req, res) => res.end(String(++n));
  let bed: RouterTestbed;
  let router: Router;
  const server = http.createServer((req, res) => router.handle(req, res));
  let port = 0;
  const get = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: "/", headers: { host: "f.t.actors.ate.test" } },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const ref = { atespace: "t", name: "f" };

  before(async () => {
    bed = await routerTestbed(app, { p: 2 });
    await bed.add("f");
    router = new Router({ backend: bed.backend(), domain: "ate.test", reportIntervalMs: 100 });
    router.start();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await router.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await bed.close();
  });

  it("thaws a frozen actor once for 20 concurrent requests, then forwards them all", async () => {
    assert.equal((await get()).status, 200); // resumed
    const frozen = await bed.cp.freezeActor(ref); // waits for the router to see the mark
    assert.equal(frozen.tier, "frozen");
    assert.equal(bed.agent.frozen.size, 1);
    const resumes = bed.calls.ResumeActor ?? 0;
    const restores = bed.agent.calls.restore;
    const answers = await Promise.all(Array.from({ length: 20 }, get));
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal((bed.calls.ResumeActor ?? 0) - resumes, 1, "one thaw");
    assert.equal(bed.agent.calls.restore, restores, "no restore");
    assert.equal(bed.agent.frozen.size, 0, "resumed on the node");
    const thawed = await bed.cp.getActor(ref);
    assert.equal(thawed.status, "RUNNING");
    assert.equal(thawed.tier, undefined);
    // Running again: requests go straight to it.
    await get();
    assert.equal((bed.calls.ResumeActor ?? 0) - resumes, 1);
  });

  it("carries the tier on the wire only while the actor is frozen", async () => {
    const running = await bed.cp.getActor(ref);
    assert.equal(actorToWire(running).tier, Actor_Tier.UNSPECIFIED);
    assert.equal(routedFromWire(actorToWire(running)).frozen, undefined);
    const frozen = { ...running, tier: "frozen" as const };
    assert.equal(actorToWire(frozen).tier, Actor_Tier.FROZEN);
    assert.equal(routedFromWire(actorToWire(frozen)).frozen, true);
    // A tier means nothing once the actor holds no worker.
    assert.equal(actorToWire({ ...frozen, status: "SUSPENDED" }).tier, Actor_Tier.UNSPECIFIED);
  });
});

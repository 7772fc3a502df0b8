// The dashboard at /ui against a real API server (records and resources in SQLite, a node
// agent that does no sandbox work) and in a real browser: Debian's chromium, headless, driven
// by playwright-core. Screenshots go to test-output/ui/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, chromium, type Page } from "playwright-core";
import { actorTemplate } from "../src/api/testing.ts";
import { ActorTemplateType } from "../src/api/v1alpha1/index.ts";
import { bearer } from "../src/cli/control-client.ts";
import { ControlPlane, StaticNodeDirectory } from "../src/controlplane/index.ts";
import type { CheckpointRequest, CheckpointResult } from "../src/node/index.ts";
import { Control } from "../src/proto/gen/ateapi/control_pb.ts";
import { Records, SqliteRecordStore } from "../src/records/index.ts";
import { SqliteResourceStore } from "../src/resources/index.ts";
import { auth, startTestApi, type TestApi } from "./support/api-server.ts";
import { runCliCaptured } from "./support/cli.ts";
import { NoopNodeAgent } from "./support/noop-node-agent.ts";
import { declareNoopPool } from "./support/noop-pool.ts";

/** Debian's chromium (scripts/setup-system.sh installs it); ATE_CHROMIUM names another. */
const chromiumPath = process.env.ATE_CHROMIUM ?? "/usr/bin/chromium";
const shots = "test-output/ui";
const hostile = `<img src=x onerror="window.__xss=1">`;

/**
 * A node agent that does no sandbox work but, like the real one, writes the snapshot's
 * manifest (last) before it answers a checkpoint: the dashboard reads size and age from it.
 */
class ManifestAgent extends NoopNodeAgent {
  override async checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
    const r = await super.checkpoint(req);
    if (r.local) return r;
    const dir = fileURLToPath(r.uri);
    mkdirSync(dir, { recursive: true });
    const manifest = {
      formatVersion: 1,
      scope: "Full",
      actor: req.actor,
      createdAt: new Date().toISOString(),
      arch: "amd64",
      sandboxClass: "gvisor",
      assets: {},
      images: {},
      workload: { containers: [] },
      snapshotFiles: [
        { name: "checkpoint.img", size: 3 * 1024 * 1024, sha256: "a".repeat(64) },
        { name: "rootfs.tar", size: 512 * 1024, sha256: "b".repeat(64) },
      ],
    };
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    return r;
  }
}

describe("the dashboard at /ui", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new ManifestAgent();
  const snapshotDir = mkdtempSync(join(tmpdir(), "ate-ui-"));
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  let api: TestApi;
  let tenantB = "";
  let routerToken = "";
  let browser: Browser;

  const control = (token: string) =>
    createClient(
      Control,
      createConnectTransport({
        baseUrl: api.url,
        httpVersion: "1.1",
        interceptors: [bearer(token)],
      }),
    );

  /** The first view a token's event stream sends (or the refusal). */
  const firstView = async (token?: string) => {
    const ac = new AbortController();
    const res = await fetch(`${api.url}/ui/api/events`, {
      headers: token ? auth(token) : {},
      signal: ac.signal,
    });
    if (!res.ok) return { status: res.status, body: (await res.json()) as { message: string } };
    const reader = (res.body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
    ac.abort();
    const data = text.split("\n").find((l) => l.startsWith("data: ")) as string;
    return { status: res.status, view: JSON.parse(data.slice(6)) };
  };

  const login = async (page: Page, token: string) => {
    await page.goto(`${api.url}/ui`);
    await page.locator("#token").fill(token);
    await page.locator("#login button[type=submit]").click();
  };
  const statusOf = (page: Page, key: string) =>
    page.locator(`#actors tr:has(td[data-actor="${key}"]) td.status`);

  before(async () => {
    assert.ok(
      existsSync(chromiumPath),
      `no browser at ${chromiumPath}: run scripts/setup-system.sh (installs chromium) or set ATE_CHROMIUM`,
    );
    mkdirSync(shots, { recursive: true });
    await declareNoopPool(resources, records, agent, { replicas: 2 });
    api = await startTestApi({ controlPlane: cp, resources });
    for (const s of ["a", "b"]) await cp.createAtespace(s);
    await resources.create(
      ActorTemplateType,
      actorTemplate("snap", { snapshotsConfig: { location: `file://${snapshotDir}` } }),
    );
    await cp.createActor({ atespace: "a", name: "x" }, "default", "snap");
    await cp.createActor({ atespace: "b", name: "y" }, "default", "counter");
    await cp.resumeActor({ atespace: "a", name: "x" });
    // Exit messages come from what a sandbox printed: a hostile one must show as text.
    const y = await records.getActor("b", "y");
    await records.updateActor({
      ...y,
      lastExit: { reason: "Exited", message: hostile, at: new Date().toISOString() },
    });
    tenantB = await api.tenantToken("tenant-b", "b");
    routerToken = (await api.tokens.create({ name: "r1", role: "router" })).text;
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await api?.close();
    await cp.close();
    resources.close();
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it("serves the page to anyone, with a CSP that forbids inline script, and nothing else", async () => {
    const res = await fetch(`${api.url}/ui`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<form id="login"/);
    assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self';/);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal((await fetch(`${api.url}/ui/app.js`)).status, 200);
    // No other file, and no path of the request's, reaches the disk.
    for (const p of ["/ui/board.ts", "/ui/../package.json", "/ui/static/app.js", "/ui/%2e%2e/x"])
      assert.equal((await fetch(`${api.url}${p}`)).status, 401, p);
    const post = await fetch(`${api.url}/ui`, { method: "POST" });
    assert.equal(post.status, 405);
  });

  it("gives data only for a valid admin or tenant token, a tenant only its atespace", async () => {
    assert.equal((await firstView()).status, 401);
    assert.equal((await firstView("ate_not-a-token")).status, 401);
    const router = await firstView(routerToken);
    assert.equal(router.status, 403);
    assert.match(router.body?.message ?? "", /admin and tenant tokens, not router token "r1"/);
    const post = await fetch(`${api.url}/ui/api/events`, {
      method: "POST",
      headers: auth(api.adminToken),
    });
    assert.equal(post.status, 400);
    const admin = await firstView(api.adminToken);
    assert.deepEqual(admin.view.actors.map((a: { actorId: string }) => a.actorId).sort(), [
      "x",
      "y",
    ]);
    assert.deepEqual(admin.view.pools, [{ pool: "default/pool", free: 1, assigned: 1 }]);
    const tenant = await firstView(tenantB);
    assert.deepEqual(
      tenant.view.actors.map((a: { actorId: string }) => a.actorId),
      ["y"],
    );
    assert.equal(tenant.view.pools, undefined, "workers are for admins");
  });

  it("ends a stream once its token is revoked", async () => {
    const fast = await startTestApi({ controlPlane: cp, resources, tokenRecheckMs: 50 });
    try {
      const token = await fast.tenantToken("tenant-b-revoked", "b");
      const res = await fetch(`${fast.url}/ui/api/events`, { headers: auth(token) });
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the first view
      await fast.tokens.delete("tenant-b-revoked");
      // Views keep coming every 2 s until the re-check ends the stream.
      for (let r = await reader.read(); !r.done; r = await reader.read());
    } finally {
      await fast.close();
    }
  });

  it("in a browser: logs in, shows actors, follows a suspend and a resume live", async () => {
    const page = await browser.newPage();
    await page.goto(`${api.url}/ui`);
    await page.locator("#login").waitFor();
    assert.equal(await page.locator("#board").isVisible(), false, "no token: the login only");
    await login(page, api.adminToken);
    await statusOf(page, "a/x").filter({ hasText: "RUNNING" }).waitFor();
    assert.equal(await statusOf(page, "b/y").textContent(), "SUSPENDED");
    const suspended = await runCliCaptured([
      "--server",
      api.url,
      "--token",
      api.adminToken,
      "suspend",
      "actor",
      "x",
      "-a",
      "a",
    ]);
    assert.equal(suspended.code, 0, suspended.err);
    await statusOf(page, "a/x").filter({ hasText: "SUSPENDED" }).waitFor();
    // Size and age from the snapshot's manifest (3.5 MiB written by the agent above).
    await page.locator("#actors td", { hasText: "EXTERNAL Full, 3.5 MiB" }).waitFor();
    await page.locator("#transitions td", { hasText: "SUSPENDING" }).first().waitFor();
    await control(api.adminToken).resumeActor({ actorRef: { atespace: "a", name: "x" } });
    await statusOf(page, "a/x").filter({ hasText: "RUNNING" }).waitFor();
    // The resume is timed (the page saw it start) and drawn as an activation.
    await page.locator("#transitions tr", { hasText: "RESUMING" }).first().waitFor();
    assert.match(
      (await page.locator("#transitions tr", { hasText: "RESUMING" }).first().textContent()) ?? "",
      /\d+ ms|\d\.\d\d s/,
    );
    await page.locator("#chart rect.bar[height]:not([height='0'])").first().waitFor();
    // A router reports a request to it: its last activity shows.
    await cp.activity.report(
      {
        routerId: "r-1",
        sequence: 1,
        actors: [
          { atespace: "a", name: "x", inFlight: 0, idleMillis: 3000, version: 0, waiting: 0 },
        ],
      },
      "r1",
    );
    await page
      .locator("#actors tr:has(td[data-actor='a/x']) td", { hasText: /^\ds ago$/ })
      .waitFor();
    // The hostile exit message is text in its cell, and never ran.
    const exit = page.locator("#actors tr:has(td[data-actor='b/y']) td.wrap");
    assert.equal(await exit.textContent(), `Exited: ${hostile}`);
    assert.equal(await page.locator("#actors img").count(), 0);
    assert.equal(await page.evaluate("window.__xss"), undefined);
    // The token lives in the tab's sessionStorage: not in the URL, not in a cookie.
    assert.doesNotMatch(page.url(), /ate_|token/);
    assert.deepEqual(await page.context().cookies(), []);
    await page.screenshot({ path: `${shots}/admin.png`, fullPage: true });
    await page.locator("#logout").click();
    await page.locator("#login").waitFor();
    assert.equal(await page.evaluate("sessionStorage.length"), 0);
    await page.close();
  });

  it("in a browser: a wrong token gets the login again, a tenant sees its atespace only", async () => {
    const page = await browser.newPage();
    await login(page, "ate_wrong");
    await page.locator("#login-error").filter({ hasText: /\S/ }).waitFor();
    assert.equal(await page.locator("#board").isVisible(), false);
    assert.equal(await page.evaluate("sessionStorage.length"), 0, "a refused token is forgotten");
    await login(page, tenantB);
    await statusOf(page, "b/y").filter({ hasText: "SUSPENDED" }).waitFor();
    assert.equal(await page.locator("td[data-actor='a/x']").count(), 0);
    assert.equal(await page.locator("#pools-box").isVisible(), false);
    // A reload keeps the tab's login.
    await page.reload();
    await statusOf(page, "b/y").waitFor();
    await page.screenshot({ path: `${shots}/tenant.png`, fullPage: true });
    await page.close();
  });
});

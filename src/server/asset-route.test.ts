// The control plane serves the runtime it declared (GET /assets/sha256/<hex>) to node and
// admin tokens, and a node agent on another host fetches it by digest over http, verified.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { auth } from "../../test/support/api-server.ts";
import { type SandboxConfig, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { TokenStore } from "../auth/index.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { silentLogger } from "../log/index.ts";
import { AssetCache, NodeAgent } from "../node/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { assetArch, ensureDefaultRuntime } from "../up/default-runtime.ts";
import { type RunningApiServer, startApiServer } from "./api-server.ts";
import { ServedAssets } from "./served-assets.ts";

/** A GET (or other method) with the path sent exactly as given: no client-side normalizing. */
function raw(
  base: string,
  path: string,
  o: { token?: string; method?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request(
      {
        host: hostname,
        port,
        path,
        method: o.method ?? "GET",
        headers: o.token ? auth(o.token) : {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("runtime assets served by the control plane", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-assets-"));
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  const served = new ServedAssets();
  const runsc = join(dir, "runsc");
  // Big enough to arrive in many chunks: served streaming, with its length up front.
  const content = Buffer.alloc(3 * 1024 * 1024 + 17, "runsc!");
  const sha = createHash("sha256").update(content).digest("hex");
  const path = `/assets/sha256/${sha}`;
  const tokens = new TokenStore(records.store);
  let api: RunningApiServer;
  let admin = "";
  let node = "";
  let router = "";
  let tenant = "";
  let config: SandboxConfig;

  before(async () => {
    writeFileSync(runsc, content, { mode: 0o755 });
    // Whole seconds: the tamper test below puts this mtime back exactly.
    utimesSync(runsc, 1_700_000_000, 1_700_000_000);
    api = await startApiServer({
      port: 0,
      controlPlane: cp,
      resources,
      tokens,
      assets: served,
      logger: silentLogger,
    });
    await ensureDefaultRuntime(resources, runsc, silentLogger, { apiUrl: api.url, served });
    config = (await resources.list(SandboxConfigType)).items[0] as SandboxConfig;
    await records.createAtespace("a");
    admin = (await tokens.create({ name: "admin1", role: "admin" })).text;
    node = (await tokens.create({ name: "n1", role: "node" })).text;
    router = (await tokens.create({ name: "r1", role: "router" })).text;
    tenant = (await tokens.create({ name: "t1", role: "tenant", atespace: "a" })).text;
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is declared at the API's own url, and streamed whole to node and admin tokens", async () => {
    assert.deepEqual(config.spec.assets?.[assetArch()]?.runsc, {
      url: `${api.url}${path}`,
      sha256: sha,
    });
    for (const token of [node, admin]) {
      const r = await raw(api.url, path, { token });
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-length"], String(content.length));
      assert.equal(r.headers["content-type"], "application/octet-stream");
      assert.ok(r.body.equals(content));
    }
    const head = await raw(api.url, path, { token: node, method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(content.length));
    assert.equal(head.body.length, 0);
  });

  it("is refused to callers without a token, and to tenant and router tokens before any lookup", async () => {
    assert.equal((await raw(api.url, path)).status, 401);
    for (const [token, who] of [
      [tenant, /token "t1" \(tenant of atespace a\) may not fetch runtime assets/],
      [router, /router token "r1" may not fetch runtime assets: that needs a node or admin token/],
    ] as const) {
      // The same answer whether the digest is served or not: nothing to probe.
      for (const p of [path, `/assets/sha256/${"0".repeat(64)}`, "/assets/../etc/passwd"]) {
        const r = await raw(api.url, p, { token });
        assert.equal(r.status, 403, p);
        assert.match(JSON.parse(r.body.toString()).message, who);
      }
    }
  });

  it("answers 404 for digests it did not declare and for every other spelling of a path", async () => {
    const upper = sha.toUpperCase();
    for (const p of [
      `/assets/sha256/${"0".repeat(64)}`,
      `/assets/sha256/${upper}`,
      `/assets/sha256/${sha}0`,
      `/assets/sha256/${sha.slice(1)}`,
      `/assets/sha256/${"a".repeat(10_000)}`,
      `/assets/sha256/${sha}/`,
      `/assets/sha256/${sha}%00`,
      `/assets/sha256/${sha}/..`,
      `/assets/sha256/../../../../etc/passwd`,
      `/assets/sha256/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
      `/assets/sha256/..%2f..%2f..%2fetc%2fpasswd`,
      `/assets/../assets/sha256/${sha}`,
      `/assets/sha256/${sha.slice(0, 60)}%2e%2e`,
      `/assets/sha512/${sha}`,
      `/assets/${sha}`,
      "/assets/",
      "/assets",
    ]) {
      const r = await raw(api.url, p, { token: node });
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body.toString(), /root:|runsc!/, p);
    }
    const post = await raw(api.url, path, { token: node, method: "POST" });
    assert.equal(post.status, 400);
    assert.match(JSON.parse(post.body.toString()).message, /POST is not supported on assets/);
  });

  it("is fetched by a node agent on another host with its node token, and verified", async () => {
    const agent = new NodeAgent({
      stateDir: join(dir, "node"),
      drivers: [],
      assetBearerTokens: [{ url: api.url, token: node }],
    });
    const asset = config.spec.assets?.[assetArch()]?.runsc;
    assert.ok(asset);
    const cached = await agent.assets.fetch(asset, { name: "runsc" });
    assert.ok(readFileSync(cached).equals(content));
    assert.ok(await agent.assets.has(sha));
    // Without its token the control plane refuses the node.
    const anonymous = new AssetCache({ dir: join(dir, "anon"), allowHosts: ["127.0.0.1"] });
    await assert.rejects(
      anonymous.fetch(asset, { name: "runsc" }),
      (e) => isAteError(e, Code.PermissionDenied) && /HTTP 401/.test(e.message),
    );
    // A tenant's token is no node's.
    const wrong = new AssetCache({
      dir: join(dir, "wrong"),
      bearerTokens: [{ url: api.url, token: tenant }],
    });
    await assert.rejects(
      wrong.fetch(asset, { name: "runsc" }),
      (e) => isAteError(e, Code.PermissionDenied) && /HTTP 403/.test(e.message),
    );
  });

  it("refuses a tampered file: the node verifies the digest, and a replaced file is not served", async () => {
    const asset = config.spec.assets?.[assetArch()]?.runsc;
    assert.ok(asset);
    const before = statSync(runsc);
    const tampered = Buffer.from(content);
    tampered.write("evil", 1000);
    // Same inode, size and mtime: the server cannot tell; the node's digest check does.
    writeFileSync(runsc, tampered);
    utimesSync(runsc, before.atime, 1_700_000_000);
    const cache = new AssetCache({
      dir: join(dir, "tampered"),
      bearerTokens: [{ url: api.url, token: node }],
    });
    await assert.rejects(
      cache.fetch(asset, { name: "runsc" }),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        new RegExp(`expected ${sha}.*nothing was cached`).test(e.message),
    );
    assert.equal(await cache.has(sha), false);
    // Rewritten with another length (or replaced): the server stops serving it at all.
    writeFileSync(runsc, Buffer.concat([content, Buffer.from("more")]));
    const r = await raw(api.url, path, { token: node });
    assert.equal(r.status, 503);
    assert.match(
      JSON.parse(r.body.toString()).message,
      /the file it was declared from changed since .*restart the control plane/,
    );
  });
});

describe("bearer tokens for asset origins", () => {
  it("go to their origin only, never to another port or a redirect's target", async () => {
    const { createServer } = await import("node:http");
    const seen: (string | undefined)[] = [];
    const body = Buffer.from("the asset");
    const sha = createHash("sha256").update(body).digest("hex");
    const target = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end(body);
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}`;
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { location: `${targetUrl}/asset` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", r));
    const redirectorUrl = `http://127.0.0.1:${(redirector.address() as { port: number }).port}`;
    const dir = mkdtempSync(join(tmpdir(), "ate-asset-tokens-"));
    try {
      const cache = new AssetCache({
        dir,
        bearerTokens: [{ url: `${redirectorUrl}/`, token: "ate_cp_secret" }],
      });
      // The token's host is allowed though it is loopback; the redirect's target gets no token.
      await cache.fetch({ url: `${redirectorUrl}/asset`, sha256: sha });
      assert.deepEqual(seen, [undefined]);
      assert.throws(
        () => new AssetCache({ dir, bearerTokens: [{ url: "ftp://x", token: "t" }] }),
        /asset bearer token url "ftp:\/\/x": give the http\(s\) url/,
      );
      assert.throws(
        () => new AssetCache({ dir, bearerTokens: [{ url: redirectorUrl, token: "a\r\nx: y" }] }),
        /has spaces or control characters/,
      );
    } finally {
      target.close();
      redirector.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

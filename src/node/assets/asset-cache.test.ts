import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import { AssetCache, assetsForArch } from "./asset-cache.ts";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const mode = (path: string) => statSync(path).mode & 0o777;

describe("AssetCache", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-assets-"));
  const allowed = join(dir, "allowed");
  const outside = join(dir, "outside");
  let server: Server;
  let base = "";
  let requests = 0;
  const payload = Buffer.alloc(256 * 1024, 3);
  const local = { allowHosts: ["127.0.0.1"] };

  before(async () => {
    mkdirSync(allowed);
    mkdirSync(outside);
    writeFileSync(join(allowed, "runsc-a"), "binary A");
    writeFileSync(join(outside, "secret"), "not an asset");
    server = createServer((req, res) => {
      requests++;
      if (req.url === "/runsc") setTimeout(() => res.end(payload), 50);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cacheFiles = (c: string) => [
    ...readdirSync(join(c, "sha256")),
    ...readdirSync(join(c, "tmp")),
  ];

  it("fetches file:// assets by sha256, executable by root only, and hits the cache afterwards", async () => {
    const cache = new AssetCache({ dir: join(dir, "c1"), fileDirs: [allowed] });
    const asset = { url: `file://${join(allowed, "runsc-a")}`, sha256: sha("binary A") };
    const path = await cache.fetch(asset);
    assert.equal(path, join(dir, "c1", "sha256", asset.sha256));
    assert.equal(mode(path), 0o700);
    for (const d of ["c1", "c1/sha256", "c1/tmp"]) assert.equal(mode(join(dir, d)), 0o700, d);
    const copy = join(allowed, "runsc-copy");
    writeFileSync(copy, "binary A");
    rmSync(copy);
    assert.equal(
      await cache.fetch({ ...asset, url: `file://${copy}` }),
      path,
      "a hit does not read the source",
    );
  });

  it("downloads concurrent requests for one http asset once", async () => {
    const cache = new AssetCache({ dir: join(dir, "c2"), ...local });
    requests = 0;
    const asset = { url: `${base}/runsc`, sha256: sha(payload) };
    const paths = await Promise.all(Array.from({ length: 5 }, () => cache.fetch(asset)));
    assert.equal(new Set(paths).size, 1);
    assert.equal(requests, 1);
  });

  it("keeps a shared download going when the caller that started it gives up", async () => {
    const cache = new AssetCache({ dir: join(dir, "c2b"), ...local });
    requests = 0;
    const asset = { url: `${base}/runsc`, sha256: sha(payload) };
    const first = new AbortController();
    const started = cache.fetch(asset, { signal: first.signal });
    const second = cache.fetch(asset);
    first.abort();
    await assert.rejects(started, { code: Code.Canceled });
    assert.equal(await second, join(dir, "c2b", "sha256", asset.sha256));
    assert.equal(requests, 1);
  });

  it("rejects a wrong sha256 of a remote asset naming asset, expected and actual, caching nothing", async () => {
    const cache = new AssetCache({ dir: join(dir, "c3"), ...local });
    const wrong = "f".repeat(64);
    await assert.rejects(
      cache.fetch({ url: `${base}/runsc`, sha256: wrong }, { name: "runsc" }),
      (e) => {
        assert.ok(isAteError(e, Code.FailedPrecondition));
        assert.match(
          (e as Error).message,
          new RegExp(
            `asset runsc \\(${base}/runsc\\) has sha256 ${sha(payload)}, expected ${wrong}`,
          ),
        );
        return true;
      },
    );
    assert.deepEqual(cacheFiles(join(dir, "c3")), []);
  });

  it("never tells the digest of a local file that does not match", async () => {
    const cache = new AssetCache({ dir: join(dir, "c3b"), fileDirs: [allowed] });
    const url = `file://${join(allowed, "runsc-a")}`;
    await assert.rejects(cache.fetch({ url, sha256: "e".repeat(64) }), (e) => {
      assert.ok(isAteError(e, Code.FailedPrecondition));
      assert.match((e as Error).message, /does not have sha256 e{64}/);
      assert.ok(!(e as Error).message.includes(sha("binary A")), "the actual digest is not told");
      return true;
    });
  });

  it("stops oversized downloads and unreachable urls with clear errors", async () => {
    const cache = new AssetCache({ dir: join(dir, "c4"), maxBytes: 1024, ...local });
    await assert.rejects(
      cache.fetch({ url: `${base}/runsc`, sha256: sha(payload) }),
      (e) =>
        isAteError(e, Code.ResourceExhausted) &&
        /over the 1024-byte limit/.test((e as Error).message),
    );
    assert.deepEqual(cacheFiles(join(dir, "c4")), []);
    await assert.rejects(
      cache.fetch({ url: `${base}/missing`, sha256: sha("x") }),
      (e) => isAteError(e, Code.NotFound) && /HTTP 404/.test((e as Error).message),
    );
    await assert.rejects(
      cache.fetch({ url: "http://127.0.0.1:1/runsc", sha256: sha("x") }),
      (e) => isAteError(e, Code.Unavailable) && /cannot be reached/.test((e as Error).message),
    );
    await assert.rejects(
      cache.fetch({ url: "ftp://host/x", sha256: sha("x") }),
      /scheme ftp: is not supported/,
    );
  });

  it("takes a seeded local file (the runtime ate up declares) by digest, verified, with no fetch", async () => {
    // Outside every allowed directory: seeding is the caller's word, not a url's.
    const file = join(outside, "runsc-seed");
    writeFileSync(file, "binary S");
    const cache = new AssetCache({ dir: join(dir, "seeded"), fileDirs: [] });
    await assert.rejects(
      cache.seed(file, sha("binary T")),
      (e) => isAteError(e, Code.FailedPrecondition) && /nothing was cached/.test(e.message),
    );
    assert.deepEqual(cacheFiles(join(dir, "seeded")), []);
    const path = await cache.seed(file, sha("binary S"));
    assert.equal(path, join(dir, "seeded", "sha256", sha("binary S")));
    assert.equal(mode(path), 0o700);
    // Cached: a fetch by that digest needs neither the url nor the network.
    rmSync(file);
    assert.equal(
      await cache.fetch({ url: "https://unreachable.invalid/runsc", sha256: sha("binary S") }),
      path,
    );
    assert.equal(await cache.seed(file, sha("binary S")), path, "a second seed is a stat");
  });

  it("projects assets onto this node's architecture", () => {
    const assets = { amd64: { runsc: { url: "u", sha256: sha("a") } } };
    assert.deepEqual(assetsForArch(assets, "amd64", "SandboxConfig x"), assets.amd64);
    assert.throws(
      () => assetsForArch(assets, "arm64", "SandboxConfig x"),
      /SandboxConfig x has no assets for architecture arm64 \(it has: amd64\)/,
    );
  });
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tar from "tar";
import { type RunningRegistry, startRegistry } from "../../../test/support/registry.ts";
import { Code, isAteError } from "../../errors/index.ts";
import { ImageStore } from "./image-store.ts";
import { mediaTypes } from "./media-types.ts";
import { packAndPush } from "./pack.ts";
import { parseReference } from "./reference.ts";
import { RegistryClient } from "./registry-client.ts";

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("images", () => {
  let registry: RunningRegistry;
  const dir = mkdtempSync(join(tmpdir(), "ate-images-"));
  const client = new RegistryClient();

  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tree = (name: string, files: Record<string, string>) => {
    const root = join(dir, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };

  async function putBlob(repo: string, blob: Buffer): Promise<string> {
    const start = await client.request(registry.host, repo, "blobs/uploads/", { method: "POST" });
    const url = new URL(start.headers.get("location") as string, `http://${registry.host}`);
    url.searchParams.set("digest", sha256(blob));
    assert.equal((await fetch(url, { method: "PUT", body: blob })).status, 201);
    return sha256(blob);
  }

  async function putManifest(repo: string, manifest: unknown, mediaType: string): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await client.request(registry.host, repo, `manifests/${sha256(body)}`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body,
    });
    assert.equal(res.status, 201, await res.text());
    return sha256(body);
  }

  async function layerOf(root: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of tar.c({ gzip: true, cwd: root, portable: true }, ["."]))
      chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  it("packs a directory, pushes it, and pulls it back by digest into a rootfs", async () => {
    const ref = await packAndPush({
      dir: tree("app", { "app/main.js": "console.log(1)", "etc/hostname": "actor" }),
      reference: `${registry.host}/ate/app:v1`,
      entrypoint: ["/app/main.js"],
    });
    assert.match(ref, new RegExp(`^${registry.host}/ate/app@sha256:[a-f0-9]{64}$`));
    const again = await packAndPush({
      dir: join(dir, "app"),
      reference: `${registry.host}/ate/app:v2`,
      entrypoint: ["/app/main.js"],
    });
    assert.equal(again, ref, "the same directory packs to the same digest");
    const store = new ImageStore({ dir: join(dir, "cache1") });
    const image = await store.ensure(ref);
    assert.equal(readFileSync(join(image.rootfs, "app/main.js"), "utf8"), "console.log(1)");
    assert.deepEqual(image.config.config?.Entrypoint, ["/app/main.js"]);
    assert.deepEqual(await store.ensure(ref), image, "cached");
  });

  it("keeps its cache root's (0700, 0600) and the rootfs as the image says", async () => {
    const root = tree("modes", { "bin/tool": "#!/bin/sh", "etc/conf": "x", "home/u/.key": "k" });
    chmodSync(join(root, "bin/tool"), 0o755);
    chmodSync(join(root, "etc/conf"), 0o644);
    chmodSync(join(root, "home/u"), 0o750);
    chmodSync(join(root, "home/u/.key"), 0o600);
    const ref = await packAndPush({
      dir: root,
      reference: `${registry.host}/ate/modes:v1`,
      entrypoint: ["/bin/tool"],
    });
    const cache = join(dir, "cache-modes");
    const image = await new ImageStore({ dir: cache }).ensure(ref);
    const mode = (p: string) => statSync(p).mode & 0o777;
    for (const d of [
      "",
      "blobs",
      "blobs/sha256",
      "images",
      join("images", ref.split(":").pop() as string),
    ])
      assert.equal(mode(join(cache, d)), 0o700, d || "the cache");
    for (const f of readdirSync(join(cache, "blobs", "sha256")))
      assert.equal(mode(join(cache, "blobs", "sha256", f)), 0o600, f);
    assert.equal(mode(`${join(cache, "images", ref.split(":").pop() as string)}.json`), 0o600);
    assert.equal(mode(image.rootfs), 0o755, "the container's / as usual");
    assert.equal(mode(join(image.rootfs, "bin/tool")), 0o755);
    assert.equal(mode(join(image.rootfs, "etc/conf")), 0o644);
    assert.equal(mode(join(image.rootfs, "home/u")), 0o750);
    assert.equal(mode(join(image.rootfs, "home/u/.key")), 0o600);
  });

  it("follows an image index to this platform's manifest and applies whiteouts in layer order", async () => {
    const repo = "ate/layered";
    const lower = await layerOf(
      tree("lower", { "keep/a": "a", "gone/b": "b", "opaque/c": "c", file: "old" }),
    );
    const upperRoot = tree("upper", {
      ".wh.gone": "",
      "opaque/.wh..wh..opq": "",
      "opaque/d": "d",
      file: "new",
    });
    const upper = await layerOf(upperRoot);
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [] },
      }),
    );
    const layers: { mediaType: string; digest: string; size: number }[] = [];
    for (const l of [lower, upper])
      layers.push({
        mediaType: mediaTypes.ociLayerGzip,
        digest: await putBlob(repo, l),
        size: l.length,
      });
    const manifestFor = async (cfg: Buffer) =>
      putManifest(
        repo,
        {
          schemaVersion: 2,
          mediaType: mediaTypes.ociManifest,
          config: {
            mediaType: mediaTypes.ociConfig,
            digest: await putBlob(repo, cfg),
            size: cfg.length,
          },
          layers,
        },
        mediaTypes.ociManifest,
      );
    const manifestDigest = await manifestFor(config);
    const armDigest = await manifestFor(
      Buffer.from(
        JSON.stringify({
          architecture: "arm64",
          os: "linux",
          rootfs: { type: "layers", diff_ids: [] },
        }),
      ),
    );
    const index = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociIndex,
      manifests: [
        {
          mediaType: mediaTypes.ociManifest,
          digest: armDigest,
          size: 1,
          platform: { os: "linux", architecture: "arm64" },
        },
        {
          mediaType: mediaTypes.ociManifest,
          digest: manifestDigest,
          size: 1,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    };
    const indexDigest = await putManifest(repo, index, mediaTypes.ociIndex);
    const image = await new ImageStore({ dir: join(dir, "cache2"), architecture: "amd64" }).ensure(
      `${registry.host}/${repo}@${indexDigest}`,
    );
    assert.equal(image.manifestDigest, manifestDigest);
    assert.equal(readFileSync(join(image.rootfs, "keep/a"), "utf8"), "a");
    assert.equal(readFileSync(join(image.rootfs, "file"), "utf8"), "new");
    assert.equal(readFileSync(join(image.rootfs, "opaque/d"), "utf8"), "d");
    assert.ok(!existsSync(join(image.rootfs, "gone")), "whiteout removed gone/");
    assert.ok(!existsSync(join(image.rootfs, "opaque/c")), "opaque whiteout hid lower contents");
    assert.ok(!existsSync(join(image.rootfs, ".wh.gone")));
    await assert.rejects(
      new ImageStore({ dir: join(dir, "cache3"), architecture: "s390x" }).ensure(
        `${registry.host}/${repo}@${indexDigest}`,
      ),
      /has no linux\/s390x manifest \(it has: linux\/arm64, linux\/amd64\)/,
    );
  });

  it("refuses unpinned references and content whose digest does not match", async () => {
    assert.throws(() => parseReference("localhost:5000/app:latest"), /not pinned by digest/);
    const missing = `${registry.host}/ate/app@sha256:${"0".repeat(64)}`;
    await assert.rejects(new ImageStore({ dir: join(dir, "cache4") }).ensure(missing), (e) =>
      isAteError(e, Code.NotFound),
    );
    // A registry that serves other bytes than the digest names.
    const ref = await packAndPush({
      dir: join(dir, "app"),
      reference: `${registry.host}/ate/app:v1`,
    });
    const tamper: Server = createServer(async (req, res) => {
      const upstream = await fetch(`http://${registry.host}${req.url}`, {
        headers: { accept: String(req.headers.accept ?? "") },
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, {
        "content-type": upstream.headers.get("content-type") ?? "",
      });
      res.end(req.url?.includes("/manifests/") ? Buffer.concat([body, Buffer.from(" ")]) : body);
    });
    await new Promise<void>((r) => tamper.listen(0, "127.0.0.1", r));
    const host = `127.0.0.1:${(tamper.address() as { port: number }).port}`;
    try {
      await assert.rejects(
        new ImageStore({ dir: join(dir, "cache5") }).ensure(ref.replace(registry.host, host)),
        (e) => isAteError(e, Code.DataLoss) && /refusing it/.test((e as Error).message),
      );
      assert.ok(!existsSync(join(dir, "cache5", "images")), "nothing unpacked");
    } finally {
      tamper.close();
    }
  });

  it("authenticates with a bearer token when the registry asks for one", async () => {
    const ref = await packAndPush({
      dir: join(dir, "app"),
      reference: `${registry.host}/ate/app:v1`,
    });
    let tokens = 0;
    const front: Server = createServer(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/token") {
        tokens++;
        assert.equal(url.searchParams.get("scope"), "repository:ate/app:pull");
        res.end(JSON.stringify({ token: "t0ken" }));
        return;
      }
      if (req.headers.authorization !== "Bearer t0ken") {
        res.writeHead(401, {
          "www-authenticate": `Bearer realm="http://${req.headers.host}/token",service="test",scope="repository:ate/app:pull"`,
        });
        res.end();
        return;
      }
      const upstream = await fetch(`http://${registry.host}${req.url}`, {
        headers: { accept: String(req.headers.accept ?? "") },
      });
      res.writeHead(upstream.status, {
        "content-type": upstream.headers.get("content-type") ?? "",
      });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    const host = `127.0.0.1:${(front.address() as { port: number }).port}`;
    try {
      const image = await new ImageStore({ dir: join(dir, "cache6") }).ensure(
        ref.replace(registry.host, host),
      );
      assert.ok(existsSync(join(image.rootfs, "app/main.js")));
      assert.equal(tokens, 1, "the token is reused for every request of the pull");
    } finally {
      front.close();
    }
  });
});

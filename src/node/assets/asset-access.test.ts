// What the node agent refuses to fetch as an asset, and how fast a bad source lets go.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import { AssetCache } from "./asset-cache.ts";
import { canonicalIp, forbiddenAddress } from "./asset-policy.ts";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("asset access", () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-asset-access-"));
  const allowed = join(dir, "allowed");
  const outside = join(dir, "outside");
  let n = 0;
  const cache = (o: Partial<ConstructorParameters<typeof AssetCache>[0]> = {}) =>
    new AssetCache({ dir: join(dir, `cache-${n++}`), fileDirs: [allowed], ...o });
  const cached = (c: AssetCache) =>
    readdirSync(join((c as unknown as { options: { dir: string } }).options.dir, "sha256"));

  before(() => {
    mkdirSync(allowed);
    mkdirSync(outside);
    writeFileSync(join(allowed, "runsc"), "runsc");
    writeFileSync(join(outside, "shadow"), "root:secret");
    symlinkSync(join(outside, "shadow"), join(allowed, "escape"));
    symlinkSync(outside, join(allowed, "dir-escape"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("file:// urls", () => {
    const refused = (path: string, resolved?: string) => (e: unknown) => {
      assert.ok(isAteError(e, Code.PermissionDenied), String(e));
      const m = (e as Error).message;
      assert.match(m, /^asset runsc: file:\/\//);
      assert.ok(m.includes(path), m);
      if (resolved) assert.ok(m.includes(`which resolves to ${resolved}`), m);
      assert.match(m, /ate up --asset-dir DIR/);
      assert.ok(!m.includes(sha("root:secret")), "no digest of a refused file");
      return true;
    };

    it("are read under an allowed directory", async () => {
      const c = cache();
      const path = await c.fetch({ url: `file://${join(allowed, "runsc")}`, sha256: sha("runsc") });
      assert.ok(path.endsWith(sha("runsc")));
    });

    it("are refused outside the allowed directories, with or without the right sha256, and never cached", async () => {
      const c = cache();
      for (const sha256 of [sha("root:secret"), "0".repeat(64)]) {
        await assert.rejects(
          c.fetch({ url: `file://${join(outside, "shadow")}`, sha256 }, { name: "runsc" }),
          refused(join(outside, "shadow")),
        );
      }
      await assert.rejects(
        c.fetch({ url: "file:///etc/shadow", sha256: "0".repeat(64) }, { name: "runsc" }),
        refused("/etc/shadow"),
      );
      assert.deepEqual(cached(c), []);
    });

    it("are refused when a symlink or `..` leads out of the allowed directory", async () => {
      const c = cache();
      await assert.rejects(
        c.fetch(
          { url: `file://${join(allowed, "escape")}`, sha256: sha("root:secret") },
          { name: "runsc" },
        ),
        refused(join(allowed, "escape"), join(outside, "shadow")),
      );
      await assert.rejects(
        c.fetch(
          { url: `file://${join(allowed, "dir-escape", "shadow")}`, sha256: sha("root:secret") },
          { name: "runsc" },
        ),
        refused(join(allowed, "dir-escape", "shadow"), join(outside, "shadow")),
      );
      for (const dots of ["..", "%2e%2e", ".%2E"]) {
        await assert.rejects(
          c.fetch(
            { url: `file://${allowed}/${dots}/outside/shadow`, sha256: sha("root:secret") },
            { name: "runsc" },
          ),
          refused(join(outside, "shadow")),
        );
      }
      // Into /proc (this process's environment), and a sibling whose name starts alike.
      symlinkSync("/proc/self/environ", join(allowed, "environ"));
      await assert.rejects(
        c.fetch({ url: `file://${join(allowed, "environ")}`, sha256: sha("x") }, { name: "runsc" }),
        refused(join(allowed, "environ"), "/proc/"),
      );
      mkdirSync(`${allowed}-x`);
      writeFileSync(join(`${allowed}-x`, "runsc"), "runsc");
      await assert.rejects(
        c.fetch({ url: `file://${allowed}-x/runsc`, sha256: sha("runsc") }, { name: "runsc" }),
        refused(`${allowed}-x/runsc`),
      );
      await assert.rejects(
        c.fetch({ url: `file://${allowed}/runsc%00`, sha256: sha("runsc") }),
        (e) => isAteError(e, Code.InvalidArgument) && /NUL byte/.test(String(e)),
      );
      assert.deepEqual(cached(c), []);
    });

    it("tell a missing file inside apart, but not one outside; read only regular files", async () => {
      const c = cache();
      await assert.rejects(
        c.fetch({ url: `file://${join(allowed, "nope")}`, sha256: sha("x") }),
        (e) => isAteError(e, Code.NotFound),
      );
      await assert.rejects(
        c.fetch({ url: `file://${join(outside, "nope")}`, sha256: sha("x") }),
        (e) => isAteError(e, Code.PermissionDenied),
      );
      // A FIFO would block a reader forever: it is refused without waiting for a writer.
      const fifo = join(allowed, "fifo");
      const mk = spawn("mkfifo", [fifo]);
      await once(mk, "exit");
      await assert.rejects(
        c.fetch({ url: `file://${fifo}`, sha256: sha("x") }),
        (e) => isAteError(e, Code.InvalidArgument) && /not a regular file/.test(String(e)),
      );
    });

    it("are all refused when no directory is allowed", async () => {
      const c = cache({ fileDirs: [] });
      await assert.rejects(
        c.fetch({ url: `file://${join(allowed, "runsc")}`, sha256: sha("runsc") }),
        (e) => isAteError(e, Code.PermissionDenied) && /\(none\)/.test(String(e)),
      );
    });
  });

  describe("http(s) urls", () => {
    let server: Server;
    let port = 0;
    let hits = 0;
    const body = Buffer.from("remote runsc");
    const hanging = new Set<import("node:http").ServerResponse>();

    before(async () => {
      server = createServer((req, res) => {
        hits++;
        if (req.url === "/runsc") res.end(body);
        else if (req.url === "/to-localhost") {
          res.writeHead(302, { location: `http://localhost:${port}/runsc` });
          res.end();
        } else if (req.url === "/headers-then-nothing") {
          res.writeHead(200, { "content-length": "1000" });
          res.flushHeaders();
          hanging.add(res);
        } else if (req.url === "/trickle") {
          res.writeHead(200, { "content-length": "1000" });
          const t = setInterval(() => res.write("x"), 20);
          res.on("close", () => clearInterval(t));
          hanging.add(res);
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as { port: number }).port;
    });
    after(() => {
      for (const r of hanging) r.destroy();
      server.close();
    });

    it("to loopback are refused before any request is made", async () => {
      hits = 0;
      for (const host of [
        "127.0.0.1",
        "localhost",
        "LocalHost",
        "[::ffff:127.0.0.1]",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::127.0.0.1]",
        // The same address spelt as WHATWG URLs allow: decimal, octal, hex, short.
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "127.1",
        "%31%32%37.0.0.1",
      ]) {
        await assert.rejects(
          cache().fetch(
            { url: `http://${host}:${port}/runsc`, sha256: sha(body) },
            { name: "runsc" },
          ),
          (e) => {
            assert.ok(isAteError(e, Code.PermissionDenied), String(e));
            assert.match((e as Error).message, /is a loopback address/);
            assert.match((e as Error).message, /ate up --asset-allow-host/);
            return true;
          },
          host,
        );
      }
      assert.equal(hits, 0, "nothing reached the server");
    });

    it("to an allowed host are fetched", async () => {
      const c = cache({ allowHosts: ["127.0.0.1"] });
      assert.ok(await c.fetch({ url: `http://127.0.0.1:${port}/runsc`, sha256: sha(body) }));
      const byName = cache({ allowHosts: ["LOCALHOST"] });
      assert.ok(await byName.fetch({ url: `http://localhost:${port}/runsc`, sha256: sha(body) }));
    });

    it("follow redirects only to hosts that pass the same checks", async () => {
      const c = cache({ allowHosts: ["127.0.0.1"] });
      await assert.rejects(
        c.fetch({ url: `http://127.0.0.1:${port}/to-localhost`, sha256: sha(body) }),
        (e) =>
          isAteError(e, Code.PermissionDenied) &&
          /localhost:\d+ resolves to (127\.0\.0\.1|::1), which is a loopback address/.test(
            String(e),
          ),
      );
      const both = cache({ allowHosts: ["127.0.0.1", "localhost"] });
      assert.ok(
        await both.fetch({ url: `http://127.0.0.1:${port}/to-localhost`, sha256: sha(body) }),
      );
    });

    it("stop a source that sends headers and then nothing after the idle timeout, naming the asset", async () => {
      const c = cache({ allowHosts: ["127.0.0.1"], idleTimeoutMs: 300 });
      const started = Date.now();
      await assert.rejects(
        c.fetch(
          { url: `http://127.0.0.1:${port}/headers-then-nothing`, sha256: sha("x") },
          { name: "runsc" },
        ),
        (e) =>
          isAteError(e, Code.DeadlineExceeded) &&
          /^asset runsc \(http:.*\/headers-then-nothing\): no data for 300 ms \(idle timeout\)/.test(
            (e as Error).message,
          ),
      );
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(readdirSync(join(dir, `cache-${n - 1}`, "tmp")), [], "no partial file left");
    });

    it("stop a trickling source at the total budget", async () => {
      const c = cache({ allowHosts: ["127.0.0.1"], idleTimeoutMs: 5000, totalTimeoutMs: 400 });
      await assert.rejects(
        c.fetch({ url: `http://127.0.0.1:${port}/trickle`, sha256: sha("x") }, { name: "runsc" }),
        (e) =>
          isAteError(e, Code.DeadlineExceeded) &&
          /not fetched within 400 ms \(total download budget\)/.test((e as Error).message),
      );
    });

    it("stop a connection that is never accepted after the connect timeout", async (t) => {
      // A listener with a full accept queue (backlog 0, one connection queued, never accepted):
      // Linux drops further SYNs, so the next connect hangs.
      const py = spawn("python3", [
        "-c",
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)",
      ]);
      t.after(() => py.kill());
      const [line] = (await once(py.stdout, "data")) as [Buffer];
      const blackhole = Number(line.toString().trim());
      const fillers = [connect(blackhole, "127.0.0.1"), connect(blackhole, "127.0.0.1")];
      t.after(() => {
        for (const f of fillers) f.destroy();
      });
      for (const f of fillers) f.on("error", () => {});
      await once(fillers[0] as import("node:net").Socket, "connect");
      const c = cache({ allowHosts: ["127.0.0.1"], connectTimeoutMs: 300, idleTimeoutMs: 10_000 });
      const started = Date.now();
      await assert.rejects(
        c.fetch(
          { url: `http://127.0.0.1:${blackhole}/runsc`, sha256: sha("x") },
          { name: "runsc" },
        ),
        (e) =>
          isAteError(e, Code.DeadlineExceeded) &&
          /asset runsc: http:.*: no connection to 127\.0\.0\.1:\d+ within 0\.3 s \(connect timeout\)/.test(
            (e as Error).message,
          ),
      );
      assert.ok(Date.now() - started < 5000);
    });

    it("is aborted at once by the caller's signal", async () => {
      const c = cache({ allowHosts: ["127.0.0.1"] });
      const ac = new AbortController();
      const p = c.fetch(
        { url: `http://127.0.0.1:${port}/headers-then-nothing`, sha256: sha("y") },
        { signal: ac.signal },
      );
      setImmediate(() => ac.abort());
      await assert.rejects(p);
    });
  });

  it("refuses an s3:// url whose key is not valid percent-encoding, before any request", async () => {
    await assert.rejects(
      cache().fetch({ url: "s3://bucket/runsc%zz", sha256: sha("x") }, { name: "runsc" }),
      (e) => isAteError(e, Code.InvalidArgument) && /bad percent-encoding/.test(String(e)),
    );
  });

  describe("addresses", () => {
    it("refuse loopback, unspecified, link-local, the node's own and the workers'", () => {
      for (const a of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1"])
        assert.match(forbiddenAddress(a) ?? "", /loopback/, a);
      for (const a of ["0.0.0.0", "::"]) assert.match(forbiddenAddress(a) ?? "", /unspecified/, a);
      for (const a of ["169.254.169.254", "169.254.64.2", "fe80::1", "FE80::abcd"])
        assert.match(forbiddenAddress(a) ?? "", /link-local/, a);
      assert.match(forbiddenAddress("10.99.0.7", ["10.99.0.7"]) ?? "", /workers/);
      const own = Object.values(networkInterfaces())
        .flat()
        .find((i) => i && !i.internal && !i.address.startsWith("fe80"));
      if (own) assert.match(forbiddenAddress(own.address) ?? "", /address of this node/);
      // IPv4 hidden in IPv6 (compatible, translated, NAT64) is checked as that IPv4.
      for (const a of ["::127.0.0.1", "::7f00:1", "::ffff:0:7f00:1", "64:ff9b::127.0.0.1"])
        assert.match(forbiddenAddress(a) ?? "", /loopback/, a);
      assert.match(forbiddenAddress("64:ff9b::169.254.169.254") ?? "", /link-local/);
      assert.match(forbiddenAddress("::10.99.0.7", ["10.99.0.7"]) ?? "", /workers/);
      // Cloud metadata away from 169.254/16: AWS over IPv6, Alibaba.
      for (const a of ["fd00:ec2::254", "100.100.100.200", "::ffff:100.100.100.200"])
        assert.match(forbiddenAddress(a) ?? "", /cloud metadata/, a);
      for (const a of ["8.8.8.8", "2001:4860:4860::8888", "10.99.0.8", "64:ff9b::8.8.8.8", "::2"])
        assert.equal(forbiddenAddress(a, ["10.99.0.7"]), undefined, a);
      assert.equal(canonicalIp("[::FFFF:7F00:1]"), "127.0.0.1");
      assert.equal(canonicalIp("runsc"), undefined);
      assert.ok(existsSync(dir));
    });
  });
});

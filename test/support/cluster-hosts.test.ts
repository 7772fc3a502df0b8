// The cluster harness itself: hosts on one machine reach each other and the test and nothing
// else; valkey and s3rver in one host answer another; stop() and the sweep leave nothing behind,
// also when the test process fails or is killed. Sends only to addresses of its own namespaces.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ClusterHosts, startClusterHosts } from "./cluster-hosts.ts";
import { netnsNames, runDir } from "./cluster-net.ts";
import { alive, until } from "./cluster-process.ts";
import { startS3In, startValkeyIn } from "./cluster-services.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);
const markers = () =>
  existsSync(runDir) ? readdirSync(runDir).filter((f) => f.endsWith(".json")) : [];
const forever = ["-e", "setInterval(() => {}, 1000)"];

// Answers each connection with the host's name.
const server = `const [address, name] = process.argv.slice(1);
require("net").createServer((s) => s.end(name)).listen(7000, address, () => console.log("listening"));`;
// Connects to each [address, port] and prints what each answered (or the error).
const client = `const targets = JSON.parse(process.argv[1]);
Promise.all(targets.map(([host, port]) => new Promise((resolve) => {
  const c = require("net").connect(port, host);
  let got = "";
  c.setTimeout(5000, () => { c.destroy(); resolve("timeout"); });
  c.on("data", (d) => (got += d));
  c.on("end", () => resolve(got));
  c.on("error", (e) => resolve(e.code));
}))).then((r) => console.log(JSON.stringify(r)));`;

describe("cluster hosts on one machine", { timeout: 240_000 }, () => {
  const clusters: ClusterHosts[] = [];
  after(async () => {
    for (const c of clusters) await c.stop().catch(() => {});
  });
  const start = async (...args: Parameters<typeof startClusterHosts>) => {
    const c = await startClusterHosts(...args);
    clusters.push(c);
    return c;
  };

  it("refuses hostile names before creating anything", async () => {
    const before = { ns: netnsNames().length, markers: markers().length };
    const bad: [unknown, unknown, RegExp][] = [
      ["", ["a"], /prefix ""/],
      ["a", ["a"], /prefix "a"/],
      ["abcdef", ["a"], /prefix "abcdef"/],
      ["Ab", ["a"], /prefix/],
      ["../x", ["a"], /prefix/],
      ["a-b", ["a"], /prefix/],
      [5, ["a"], /prefix 5/],
      ["atcx", [], /hosts must list/],
      ["atcx", "a", /hosts must list/],
      ["atcx", Array.from({ length: 101 }, (_, i) => `h${i}`), /hosts must list/],
      ["atcx", ["A"], /host name "A"/],
      ["atcx", ["a b"], /host name "a b"/],
      ["atcx", ["../../etc"], /host name/],
      ["atcx", ["-x"], /host name/],
      ["atcx", ["x;rm -rf /"], /host name/],
      ["atcx", ["x".repeat(21)], /at most 20/],
      ["atcx", [7], /host name 7/],
      ["atcx", ["a", "b", "a"], /a is given twice/],
    ];
    for (const [prefix, hosts, message] of bad)
      await assert.rejects(
        startClusterHosts({ prefix, hosts } as Parameters<typeof startClusterHosts>[0]),
        message,
      );
    assert.deepEqual({ ns: netnsNames().length, markers: markers().length }, before);
  });

  describe("a running cluster", () => {
    let cluster: ClusterHosts;

    it("gives each host an address on an unused /24, names within interface limits", async () => {
      cluster = await start({ prefix: "atch", hosts: ["a", "b", "data"] });
      assert.match(cluster.subnet, /^10\.2\d\d\.\d+\.0\/24$/);
      const addresses = cluster.hosts.map((h) => h.address);
      assert.equal(new Set(addresses).size, 3);
      const base = cluster.subnet.slice(0, -5);
      for (const a of [...addresses, cluster.testAddress]) assert.ok(a.startsWith(`${base}.`), a);
      assert.ok(`${cluster.tag}g`.length <= 15 && linkExists(`${cluster.tag}g`));
      for (const h of cluster.hosts) assert.ok(existsSync(h.nsPath), h.nsPath);
    });

    it("enters only the network namespace: mounts (/sys, cgroups) are the test's own", async () => {
      const ns = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);
      const { stdout } = await cluster
        .host("a")
        .exec("sh", ["-c", "readlink /proc/self/ns/mnt /proc/self/ns/net; ls -d /sys/fs/cgroup/*"]);
      const [mnt, net, ...cgroups] = stdout.trim().split("\n");
      assert.equal(mnt, ns("mnt"));
      assert.notEqual(net, ns("net"));
      assert.deepEqual(
        cgroups,
        readdirSync("/sys/fs/cgroup")
          .map((d) => `/sys/fs/cgroup/${d}`)
          .sort(),
      );
    });

    it("hosts reach each other and the test reaches them", async () => {
      const test = createServer((s) => s.end("test"));
      await new Promise<void>((r) => test.listen(0, cluster.testAddress, r));
      const testPort = (test.address() as { port: number }).port;
      try {
        for (const h of cluster.hosts)
          await h
            .spawn(process.execPath, ["-e", server, h.address, h.name])
            .waitForOutput("listening");
        const fromTest = await Promise.all(
          cluster.hosts.map(
            (h) =>
              new Promise<string>((resolve) => {
                const c = connect(7000, h.address);
                let got = "";
                c.on("data", (d) => {
                  got += d;
                });
                c.on("end", () => resolve(got));
                c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
              }),
          ),
        );
        assert.deepEqual(fromTest, ["a", "b", "data"]);
        for (const h of cluster.hosts) {
          const targets = [
            ...cluster.hosts.map((o) => [o.address, 7000]),
            [cluster.testAddress, testPort],
            [`127.0.0.1`, 7000], // loopback is up, but nothing of the host listens there
          ];
          const { stdout } = await h.exec(process.execPath, [
            "-e",
            client,
            JSON.stringify(targets),
          ]);
          assert.deepEqual(JSON.parse(stdout), ["a", "b", "data", "test", "ECONNREFUSED"], h.name);
        }
      } finally {
        test.close();
      }
    });

    it("hosts have no route to anything else (route lookups only, nothing sent)", async () => {
      const world = ["1.1.1.1", "192.0.2.1", "10.203.0.2", "169.254.1.1"];
      for (const h of cluster.hosts) {
        for (const address of world) {
          const r = await h.exec("ip", ["route", "get", address], { check: false });
          assert.notEqual(r.code, 0, `${h.name} has a route to ${address}: ${r.stdout}`);
          assert.match(r.stderr, /unreachable/i);
        }
        const v6 = await h.exec("ip", ["-6", "route", "get", "2606:4700::1111"], { check: false });
        assert.notEqual(v6.code, 0, `${h.name} has an IPv6 route out: ${v6.stdout}`);
        const { stdout } = await h.exec("ip", ["-j", "route", "show", "table", "all"]);
        const routes = JSON.parse(stdout) as { dst: string; type?: string }[];
        assert.ok(!routes.some((r) => r.dst === "default"), JSON.stringify(routes));
      }
    });

    it("valkey and s3rver in one host answer from another", async () => {
      const data = cluster.host("data");
      const valkey = await startValkeyIn(data);
      const s3 = await startS3In(data, { buckets: ["snapshots"] });
      assert.equal(valkey.url, `redis://${data.address}:6379`);
      const a = cluster.host("a");
      const setGet = `import { Redis } from "ioredis";
        const r = new Redis(${JSON.stringify(valkey.url)}, { maxRetriesPerRequest: 1 });
        await r.set("from-a", "hello");
        console.log(await r.get("from-a"));
        r.disconnect();`;
      const kv = await a.exec(process.execPath, ["--input-type=module", "-e", setGet], {
        cwd: repoRoot,
      });
      assert.equal(kv.stdout.trim(), "hello");
      const putGet = `import { S3Client, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
        const s3 = new S3Client({ forcePathStyle: true });
        await s3.send(new PutObjectCommand({ Bucket: "snapshots", Key: "k", Body: "snap" }));
        const got = await s3.send(new GetObjectCommand({ Bucket: "snapshots", Key: "k" }));
        console.log(await got.Body.transformToString());`;
      const obj = await a.exec(process.execPath, ["--input-type=module", "-e", putGet], {
        cwd: repoRoot,
        env: s3.env,
      });
      assert.equal(obj.stdout.trim(), "snap");
      await valkey.stop();
      assert.ok(!alive(valkey.process.pid));
    });
  });

  it("stop kills what was started, leaves nothing, and may be called again", async () => {
    const c = await start({ prefix: "atcs", hosts: ["a", "b"], stopGraceMs: 500 });
    const [a, b] = c.hosts as [ClusterHosts["hosts"][0], ClusterHosts["hosts"][0]];
    const plain = a.spawn(process.execPath, forever);
    const stubborn = a.spawn(process.execPath, [
      "-e",
      "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)",
    ]);
    await stubborn.waitForOutput("ready");
    // A grandchild in a session of its own: out of the group, still in the host's namespace.
    const escaper = b.spawn(process.execPath, [
      "-e",
      `const c = require("child_process").spawn(process.execPath, ${JSON.stringify(forever)},
         { detached: true, stdio: "ignore" });
       console.log("grandchild " + c.pid); c.unref();`,
    ]);
    await escaper.waitForOutput(/grandchild \d+/);
    const grandchild = Number(/grandchild (\d+)/.exec(escaper.output())?.[1]);
    assert.ok(alive(grandchild));

    // crash() takes one host down, and only that one.
    const inB = b.spawn(process.execPath, forever);
    await b.crash();
    assert.ok(!alive(inB.pid) && !alive(grandchild));
    assert.equal((await inB.exited).signal, "SIGKILL");
    assert.ok(alive(plain.pid) && alive(stubborn.pid));
    const late = b.spawn(process.execPath, [
      "-e",
      `require("child_process").spawn(process.execPath, ${JSON.stringify(forever)},
         { detached: true, stdio: "ignore" }).unref(); console.log("ok")`,
    ]);
    await late.waitForOutput("ok");

    let hookRan = false;
    c.onStop(async () => {
      hookRan = !alive(plain.pid) && !alive(stubborn.pid);
    });
    const names = [...c.hosts.map((h) => h.netns), `${c.tag}_sw`];
    await c.stop();
    assert.ok(hookRan, "onStop ran after the processes were gone");
    assert.equal((await plain.exited).signal, "SIGTERM");
    assert.equal((await stubborn.exited).signal, "SIGKILL");
    for (const p of [plain, stubborn, escaper, late]) assert.ok(!alive(p.pid), p.where);
    const ns = netnsNames();
    for (const n of names) assert.ok(!ns.includes(n), `${n} is left`);
    assert.ok(!linkExists(`${c.tag}g`));
    assert.ok(!existsSync(c.dir));
    assert.ok(!markers().includes(`${c.tag}.json`));
    await c.stop();
    assert.throws(() => a.spawn("true"), /stopped/);
  });

  describe("when the test process fails or is killed", () => {
    // A test process of its own that starts a cluster, a process in it, and then fails or waits.
    const child = (mode: "throw" | "wait", hooks: boolean) =>
      spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          `import { startClusterHosts } from ${JSON.stringify(join(repoRoot, "test/support/cluster-hosts.ts"))};
          const c = await startClusterHosts({ prefix: "atcf", hosts: ["x", "y"] });
          const p = c.host("x").spawn(process.execPath, ${JSON.stringify(forever)});
          ${hooks ? "c.onStop(async () => {});" : ""}
          console.log(JSON.stringify({ tag: c.tag, dir: c.dir, pid: p.pid, netns: c.hosts.map((h) => h.netns) }));
          ${mode === "throw" ? 'throw new Error("the test failed");' : "setInterval(() => {}, 1000);"}`,
        ],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
      );
    const started = async (p: ReturnType<typeof child>) => {
      let out = "";
      p.stdout.on("data", (d) => {
        out += d;
      });
      p.stderr.on("data", (d) => {
        out += d;
      });
      assert.ok(await until(() => out.includes("}\n") || p.exitCode !== null, 60_000), out);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line, out);
      return JSON.parse(line) as { tag: string; dir: string; pid: number; netns: string[] };
    };
    const gone = (run: { tag: string; dir: string; pid: number; netns: string[] }) => {
      const ns = netnsNames();
      assert.ok(!alive(run.pid), `process ${run.pid} is left`);
      for (const n of [...run.netns, `${run.tag}_sw`]) assert.ok(!ns.includes(n), `${n} is left`);
      assert.ok(!linkExists(`${run.tag}g`));
    };

    it("a failing test process removes its hosts as it exits", async () => {
      const p = child("throw", false);
      const run = await started(p);
      await new Promise((r) => (p.exitCode !== null ? r(undefined) : p.once("exit", r)));
      assert.equal(p.exitCode, 1);
      gone(run);
      assert.ok(!existsSync(run.dir) && !markers().includes(`${run.tag}.json`));
    });

    it("a killed one's leftovers are swept by the next run with its prefix, a live one's kept", async () => {
      const p = child("wait", true);
      const run = await started(p);
      const exited = new Promise((r) => p.once("exit", r));
      if (p.pid) process.kill(p.pid, "SIGKILL");
      await exited;
      assert.ok(alive(run.pid), "the killed run left its process");
      assert.ok(netnsNames().includes(run.netns[0] as string));
      const swept: string[] = [];
      const sweep = async ({ dir }: { dir: string }) => {
        swept.push(dir);
      };
      const first = await start({ prefix: "atcf", hosts: ["l"], sweep });
      assert.deepEqual(swept, [run.dir]);
      gone(run);
      assert.ok(!existsSync(run.dir) && !markers().includes(`${run.tag}.json`));
      // The first is alive (this process owns it): the next run with the prefix keeps it.
      const next = await start({ prefix: "atcf", hosts: ["z"], sweep });
      assert.deepEqual(swept, [run.dir]);
      assert.ok(existsSync(first.host("l").nsPath), "a live run with the prefix is not swept");
      await next.stop();
      await first.stop();
    });
  });
});

// Env from a Secret, end to end on one machine (`ate up`'s wiring, real runsc): the golden boot
// reads the Secret, the actor sees the value, no snapshot manifest, node record, status or log
// line holds it, and a restore works after the Secret is deleted (the memory holds what the
// process read); a cold boot then is refused naming the Secret and key, and a recreated
// (rotated) Secret reaches the next cold boot only.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SecretType } from "../../src/api/v1/index.ts";
import { ActorTemplateType } from "../../src/api/v1alpha1/index.ts";
import { Code, isAteError } from "../../src/errors/index.ts";
import type { Logger } from "../../src/log/index.ts";
import { waitForGolden } from "../support/counter-resources.ts";
import { counterSubstrate } from "../support/counter-substrate.ts";
import { getJson } from "../support/http.ts";

// Per run, so a leftover file of another run cannot pass for this one's.
const value = `s3cr3t-${process.pid}-${Date.now()}`;
const rotated = `${value}-rotated`;

// The counter image's node, running a tiny actor that says what its env holds.
const script = `const boot = require("node:crypto").randomBytes(8).toString("hex"); let n = 0;
require("node:http").createServer((q, s) => {
  if (q.url === "/readyz") return s.end("ok");
  n++;
  s.end(JSON.stringify({ token: process.env.TOKEN ?? null, extra: process.env.EXTRA ?? null, boot, n }));
}).listen(8080);`;

/** Every file under `dir` whose bytes hold `needle`. */
function holders(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile() && readFileSync(path).includes(needle)) found.push(path);
    } catch {
      // gone meanwhile (a sandbox's transient files)
    }
  }
  return found;
}

describe("env from a Secret", { timeout: 600_000 }, () => {
  const lines: string[] = [];
  const log = (msg: string, fields?: Record<string, unknown>) =>
    void lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: log, info: log, warn: log, error: log };

  it("boots with it, stores it nowhere, restores without it", async () => {
    // No counter template: the test declares its own, whose golden boot reads the Secret.
    const bed = await counterSubstrate({
      tmpPrefix: "ate-secret-env-",
      replicas: 2,
      templates: {},
      logger,
    });
    const { ate, dir, image } = bed;
    const { snapshotsDir } = bed.setup;
    const secret = (token: string) =>
      ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "api", namespace: "default" },
        stringData: { token },
      }) as never;
    await ate.resources.create(SecretType, secret(value));
    await ate.resources.create(ActorTemplateType, {
      apiVersion: "ate.dev/v1alpha1",
      kind: "ActorTemplate",
      metadata: { name: "env", namespace: "default" },
      spec: {
        pauseImage: image,
        containers: [
          {
            name: "main",
            image,
            command: ["/usr/bin/node", "-e", script],
            env: [
              { name: "TOKEN", valueFrom: { secretKeyRef: { name: "api", key: "token" } } },
              {
                name: "EXTRA",
                valueFrom: { secretKeyRef: { name: "gone", key: "x", optional: true } },
              },
            ],
            readyz: { httpGet: { port: 8080 } },
          },
        ],
        snapshotsConfig: { location: `file://${snapshotsDir}` },
      },
    });
    await waitForGolden(ate.resources, ["env"], 120_000);
    const template = await ate.resources.get(ActorTemplateType, "default", "env");
    const golden = fileURLToPath(String(template.status?.goldenSnapshot));
    const goldenManifest = readFileSync(join(golden, "manifest.json"), "utf8");
    assert.doesNotMatch(goldenManifest, new RegExp(value), "golden manifest");
    assert.deepEqual(JSON.parse(goldenManifest).workload.containers[0].env, [
      { name: "TOKEN", secretKeyRef: { name: "api", key: "token" } },
      { name: "EXTRA", secretKeyRef: { name: "gone", key: "x", optional: true } },
    ]);

    const cp = ate.controlPlane;
    const ref = (name: string) => ({ atespace: "demo", name });
    const env = async (name: string) =>
      getJson<{ token: string | null; extra: string | null; boot: string; n: number }>(
        `http://${(await cp.getActor(ref(name))).worker?.address}:8080/`,
      );
    await cp.createAtespace("demo");
    await cp.createActor(ref("a1"), "default", "env");
    await cp.resumeActor(ref("a1"));
    const first = await env("a1");
    assert.equal(first.token, value, "the actor sees the Secret's value");
    assert.equal(first.extra, null, "a missing optional reference leaves the variable unset");

    // While it runs: at most runsc's bundle of a boot holds it (config.json, root only; a1 was
    // restored from the golden, whose boot's bundle may be gone or another worker's).
    const state = join(dir, "state");
    const running = holders(state, value);
    const configs = running.filter((p) => p.endsWith("/config.json"));
    for (const c of configs) assert.equal(statSync(c).mode & 0o777, 0o600, c);
    assert.deepEqual(
      running.filter((p) => !p.endsWith("/config.json") && !/\/checkpoint\//.test(p)),
      [],
      "nothing but a boot's config.json and memory images",
    );
    assert.deepEqual(
      running.filter((p) => p.endsWith("actor.json") || p.includes("/logs/")),
      [],
      "node records and logs",
    );

    const suspended = await cp.suspendActor(ref("a1"));
    const own = fileURLToPath(String(suspended.latestSnapshot?.uri));
    assert.doesNotMatch(readFileSync(join(own, "manifest.json"), "utf8"), new RegExp(value));

    // The Secret goes: a restore needs none (the memory holds what the process read).
    await ate.resources.delete(SecretType, "default", "api");
    await cp.resumeActor(ref("a1"));
    const restored = await env("a1");
    assert.equal(restored.token, value);
    assert.equal(restored.boot, first.boot, "restored, not booted");
    assert.equal(restored.n, first.n + 1, "its memory kept");

    // A cold boot reads the Secret now: refused without it, naming the Secret and key.
    await cp.createActor(ref("a2"), "default", "env");
    await assert.rejects(
      cp.resumeActor(ref("a2"), true),
      (e) =>
        isAteError(e, Code.FailedPrecondition) &&
        e.message ===
          'ActorTemplate default/env cannot boot: env TOKEN of container main needs key "token" of Secret default/api, which does not exist: create the Secret with that key (or mark the reference optional: true)',
    );
    // Recreated with another value: the next cold boot reads it; the restored actor keeps its own.
    await ate.resources.create(SecretType, secret(rotated));
    await cp.resumeActor(ref("a2"), true);
    assert.equal((await env("a2")).token, rotated);
    assert.equal((await env("a1")).token, value);

    const status = JSON.stringify(await ate.resources.get(ActorTemplateType, "default", "env"));
    assert.doesNotMatch(status, /s3cr3t/, "template status");
    assert.deepEqual(
      lines.filter((l) => l.includes("s3cr3t")),
      [],
      "log lines",
    );
    await cp.suspendActor(ref("a1"));
    await cp.suspendActor(ref("a2"));
    const stored = [...holders(snapshotsDir, value), ...holders(snapshotsDir, rotated)];
    assert.deepEqual(
      stored.filter((p) => !/\/checkpoint\//.test(p)),
      [],
      "only memory images hold it in snapshots",
    );
    console.log(
      `holders of the value while running: ${running.map((p) => p.slice(state.length)).join(", ")}`,
    );
    console.log(
      `holders in snapshots: ${stored.map((p) => p.slice(snapshotsDir.length)).join(", ")}`,
    );

    const stopped = await bed.stop();
    assert.deepEqual(stopped.left, []);
  });
});

// A template's Secret references read for a cold boot: each Secret once, optional ones skipped,
// every missing required one named (Secret and key, never a value).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { actorTemplate } from "../api/testing.ts";
import type { ActorTemplate } from "../api/v1alpha1/index.ts";
import { readSecrets, type SecretLookup } from "./secret-env.ts";
import { workloadOf } from "./workload.ts";

const image = `registry.local/app@sha256:${"c".repeat(64)}`;
const ref = (name: string, key: string, optional?: boolean) => ({
  valueFrom: { secretKeyRef: { name, key, ...(optional ? { optional } : {}) } },
});
const template = actorTemplate(
  "app",
  {
    containers: [
      {
        name: "web",
        image,
        env: [
          { name: "A", ...ref("db", "user") },
          { name: "B", ...ref("db", "password") },
          { name: "C", ...ref("db", "absent", true) },
        ],
      },
      {
        name: "side",
        image,
        env: [
          { name: "D", ...ref("nope", "k") },
          { name: "E", value: "x" },
        ],
      },
    ],
  },
  "prod",
) as unknown as ActorTemplate;

function store(secrets: Record<string, Record<string, string>>) {
  const reads: string[] = [];
  const lookup: SecretLookup = async (ns, name) => {
    reads.push(`${ns}/${name}`);
    return secrets[name];
  };
  return { lookup, reads };
}

describe("Secret references at a cold boot", () => {
  it("resolve in the template's namespace, each Secret read once", async () => {
    const s = store({ db: { user: "u-s3cr3t", password: "p-s3cr3t" }, nope: { k: "k-s3cr3t" } });
    const w = await workloadOf(template, s.lookup);
    assert.deepEqual(s.reads.sort(), ["prod/db", "prod/nope"]);
    assert.deepEqual(w.containers[0]?.env, [
      { name: "A", value: "u-s3cr3t", secretKeyRef: { name: "db", key: "user" } },
      { name: "B", value: "p-s3cr3t", secretKeyRef: { name: "db", key: "password" } },
      { name: "C", secretKeyRef: { name: "db", key: "absent", optional: true } },
    ]);
    assert.deepEqual(w.containers[1]?.env, [
      { name: "D", value: "k-s3cr3t", secretKeyRef: { name: "nope", key: "k" } },
      { name: "E", value: "x" },
    ]);
  });

  it("refuse the boot naming every missing required Secret and key, and no value", async () => {
    const s = store({ db: { user: "u-s3cr3t" } });
    await assert.rejects(workloadOf(template, s.lookup), (err: Error & { code?: unknown }) => {
      assert.equal(
        err.message,
        'ActorTemplate prod/app cannot boot: env B of container web needs key "password" of Secret prod/db, which has no key "password"; env D of container side needs key "k" of Secret prod/nope, which does not exist: create the Secret with that key (or mark the reference optional: true)',
      );
      assert.doesNotMatch(err.message, /s3cr3t/);
      return true;
    });
  });

  it("for a restore, give what resolved and list what did not", async () => {
    const s = store({ db: { user: "u-s3cr3t", password: "p-s3cr3t" } });
    const reading = await readSecrets(template, s.lookup);
    assert.deepEqual(reading.values, [
      { secret: "db", key: "user", value: "u-s3cr3t" },
      { secret: "db", key: "password", value: "p-s3cr3t" },
    ]);
    assert.equal(reading.missing.length, 1);
  });

  it("let a store that cannot be read fail the boot as it failed", async () => {
    const lookup: SecretLookup = async () => {
      throw new Error("resource store unreachable");
    };
    await assert.rejects(workloadOf(template, lookup), /resource store unreachable/);
  });
});

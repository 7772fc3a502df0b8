import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningValkey, startValkey } from "../../test/support/valkey.ts";
import { sandboxConfig } from "../api/testing.ts";
import { SandboxConfigType } from "../api/v1alpha1/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { resourceStoreContract } from "./contract.ts";
import { openResourceStore } from "./factory.ts";
import { RedisResourceStore } from "./redis-store.ts";

// Against a real valkey-server; each storage is a key prefix of its own on it.
let valkey: RunningValkey | undefined;
before(async () => {
  valkey = await startValkey();
});
after(async () => {
  await valkey?.stop();
});

async function removePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

resourceStoreContract("RedisResourceStore on valkey-server", async (options = {}) => {
  const url = (valkey as RunningValkey).url;
  const prefix = `ate-test-${randomUUID()}`;
  return {
    open: () => new RedisResourceStore({ url, prefix, watchBlockMs: 200, ...options }),
    dispose: () => removePrefix(url, prefix),
  };
});

describe("RedisResourceStore", () => {
  it("is what openResourceStore opens for a redis:// URL, sharing the default prefix", async () => {
    const url = (valkey as RunningValkey).url;
    const a = openResourceStore({ url });
    const b = openResourceStore({ url });
    try {
      assert.ok(a instanceof RedisResourceStore);
      await a.create(SandboxConfigType, sandboxConfig("shared"));
      assert.equal((await b.get(SandboxConfigType, undefined, "shared")).metadata.name, "shared");
    } finally {
      await Promise.all([a.close(), b.close()]);
      await removePrefix(url, "ate-resources");
    }
  });

  it("ends its watches when the store closes, and reports an unreachable server as UNAVAILABLE", async () => {
    const url = (valkey as RunningValkey).url;
    const prefix = `ate-test-${randomUUID()}`;
    const store = new RedisResourceStore({ url, prefix });
    const watching = (async () => {
      for await (const _ of store.watch({})) return "event";
      return "ended";
    })();
    await store.close();
    assert.equal(await watching, "ended");
    const nowhere = new RedisResourceStore({ url: "redis://127.0.0.1:1", prefix });
    try {
      await assert.rejects(
        nowhere.get(SandboxConfigType, undefined, "c"),
        (err: unknown) =>
          isAteError(err, Code.Unavailable) && /resource store \(redis\)/.test(String(err)),
      );
    } finally {
      await nowhere.close();
    }
  });
});

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type RunningValkey, startValkey } from "../../test/support/valkey.ts";
import { RedisRecordStore } from "../records/index.ts";
import { type Leadership, Lease } from "./index.ts";

// Leases on a real valkey-server, with the leader a separate process killed with SIGKILL.
const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const leaseModule = pathToFileURL(join(repo, "src", "lease", "index.ts")).href;
const recordsModule = pathToFileURL(join(repo, "src", "records", "index.ts")).href;

/** A process that campaigns with the default TTL and prints each term it starts. */
const holderScript = `
import { Lease } from ${JSON.stringify(leaseModule)};
import { RedisRecordStore } from ${JSON.stringify(recordsModule)};
const store = new RedisRecordStore({ url: process.env.VALKEY_URL });
const lease = new Lease({ store, name: "controllers", holder: "child" });
await lease.run({ signal: new AbortController().signal }, async (l) => {
  console.log("leading " + l.fence);
  await new Promise((r) => l.signal.addEventListener("abort", r));
});
`;

async function waitFor<T>(
  what: string,
  ms: number,
  check: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() - started > ms) throw new Error(`${what} did not happen in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once the lease's record has been written `n` more times (renewals). */
async function renewals(s: RedisRecordStore, name: string, n: number, ms: number): Promise<void> {
  const version = async () => ((await s.get("lease", name))?.version as number | undefined) ?? 0;
  const from = await version();
  await waitFor(`${n} renewals of ${name}`, ms, async () =>
    (await version()) >= from + n ? true : undefined,
  );
}

describe("Lease on valkey-server", () => {
  let valkey: RunningValkey | undefined;
  const children: ChildProcess[] = [];
  const stores: RedisRecordStore[] = [];
  before(async () => {
    valkey = await startValkey();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(stores.map((s) => s.close()));
    await valkey?.stop();
  });
  const store = () => {
    const s = new RedisRecordStore({ url: (valkey as RunningValkey).url });
    stores.push(s);
    return s;
  };

  it("hands over within 15 s when the leading process is killed with SIGKILL (default TTL)", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", holderScript],
      {
        cwd: repo,
        env: { ...process.env, VALKEY_URL: (valkey as RunningValkey).url },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor("the child leading", 20_000, () =>
      out.includes("leading 1") ? true : undefined,
    );

    const ac = new AbortController();
    let term: (Leadership & { at: number }) | undefined;
    const mine = new Lease({ store: store(), name: "controllers", holder: "parent" });
    const running = mine.run({ signal: ac.signal }, async (l) => {
      term = { ...l, at: Date.now() };
      await new Promise((r) => l.signal.addEventListener("abort", r, { once: true }));
    });
    try {
      await renewals(store(), "controllers", 1, 5000); // the parent sees the child renew
      assert.equal(term, undefined, "two leaders at once");
      const killedAt = Date.now();
      child.kill("SIGKILL");
      await once(child, "exit");
      const t = await waitFor("the parent leading", 16_000, () => term);
      const took = t.at - killedAt;
      assert.ok(took < 15_000, `took ${took} ms`);
      assert.ok(
        took >= 10_000 - 10_000 / 3 - 500,
        `took over too early: ${took} ms after the kill`,
      );
      assert.equal(t.fence, 2);
      assert.deepEqual(await Lease.current(store(), "controllers"), {
        holder: "parent",
        fence: 2,
      });
    } finally {
      ac.abort();
      await running;
    }
  });

  it("keeps one leader among two processes' leases; one that stops renewing hands over", async () => {
    const ttlMs = 600;
    const log: string[] = [];
    const leading = new Set<string>();
    const campaign = (name: string, s: RedisRecordStore) => {
      const ac = new AbortController();
      const lease = new Lease({ store: s, name: "pair", holder: name, ttlMs });
      const done = lease.run({ signal: ac.signal }, async (l) => {
        leading.add(name);
        log.push(`${name} ${l.fence} ${leading.size}`);
        await new Promise((r) => l.signal.addEventListener("abort", r, { once: true }));
        leading.delete(name);
      });
      return { ac, done };
    };
    const aStore = store();
    const a = campaign("a", aStore);
    await waitFor("a leading", 5000, () => (leading.has("a") ? true : undefined));
    const b = campaign("b", store());
    try {
      await renewals(store(), "pair", 4, 5000); // longer than a TTL: b must not lead meanwhile
      assert.deepEqual(log, ["a 1 1"]);
      await aStore.close(); // a can no longer renew: it stops leading, b takes over after the TTL
      await waitFor("b leading", 5000, () => (leading.has("b") ? true : undefined));
      assert.deepEqual(log, ["a 1 1", "b 2 1"], "never two at once");
    } finally {
      a.ac.abort();
      b.ac.abort();
      await Promise.all([a.done, b.done]);
    }
  });
});

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type RecordStore, type RecordWrite, SqliteRecordStore } from "../records/index.ts";
import type { LeaseClock } from "./clock.ts";
import { type Leadership, Lease, type LeaseRecord } from "./lease.ts";

/** A clock that moves only when the test says, firing due sleeps in order. */
class ManualClock implements LeaseClock {
  private t = 0;
  private timers: { at: number; wake: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = {
        at: this.t + Math.max(0, ms),
        wake: () => {
          signal?.removeEventListener("abort", cancel);
          resolve();
        },
      };
      const cancel = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        resolve();
      };
      signal?.addEventListener("abort", cancel, { once: true });
      this.timers.push(timer);
    });
  }
  /** Moves time forward by ms, letting everything that wakes on the way run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** A store whose commits can be made to hang or fail, as on a host that stops renewing. */
function flaky(inner: RecordStore) {
  const state = { mode: "ok" as "ok" | "hang" | "fail", hung: [] as (() => void)[] };
  const commit = async (writes: RecordWrite[]): Promise<number[]> => {
    if (state.mode === "hang") await new Promise<void>((r) => state.hung.push(r));
    if (state.mode === "fail") throw new AteError(Code.Unavailable, "records store (test): down");
    return inner.commit(writes);
  };
  const store = new Proxy(inner, {
    get: (target, prop) => {
      if (prop === "commit") return commit;
      if (prop === "close") return async () => {};
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  /** Lets hung commits through (so everything can finish). */
  const thaw = () => {
    state.mode = "ok";
    for (const r of state.hung.splice(0)) r();
  };
  return { store, state, thaw };
}

/** Runs a lease, recording each term as it starts and ends. */
function campaign(lease: Lease, log: string[], name: string) {
  const ac = new AbortController();
  const terms: Leadership[] = [];
  const done = lease.run({ signal: ac.signal }, async (l) => {
    terms.push(l);
    log.push(`${name} leads ${l.fence}`);
    await new Promise((r) => l.signal.addEventListener("abort", r, { once: true }));
    log.push(`${name} stops ${l.fence}`);
  });
  return { ac, terms, done, leading: () => terms.at(-1)?.signal.aborted === false };
}

describe("Lease (manual clock, SQLite records)", () => {
  let records: SqliteRecordStore;
  let clock: ManualClock;
  let stops: (() => Promise<void>)[];
  const opts = (holder: string, store: RecordStore = records) => ({
    store,
    name: "controllers",
    holder,
    ttlMs: 9000,
    clock,
  });
  beforeEach(() => {
    records = new SqliteRecordStore(":memory:");
    clock = new ManualClock();
    stops = [];
  });
  afterEach(async () => {
    for (const stop of stops) await stop();
    await records.close();
  });
  const start = (lease: Lease, log: string[], name: string) => {
    const c = campaign(lease, log, name);
    stops.push(async () => {
      c.ac.abort();
      await clock.advance(0);
      await c.done;
    });
    return c;
  };

  it("lets one lead; the other takes over at once when the leader stops, with a higher fence", async () => {
    const log: string[] = [];
    const a = start(new Lease(opts("a")), log, "a");
    await clock.advance(0);
    const b = start(new Lease(opts("b")), log, "b");
    await clock.advance(30_000);
    assert.deepEqual(log, ["a leads 1"], "a renews; b waits however long it takes");
    assert.deepEqual(await Lease.current(records, "controllers"), { holder: "a", fence: 1 });
    a.ac.abort();
    await clock.advance(0);
    await a.done; // resolves once a's work has stopped and the lease is released
    await clock.advance(3000);
    assert.deepEqual(log, ["a leads 1", "a stops 1", "b leads 2"]);
    assert.ok(b.leading());
  });

  it("takes over from a holder that stopped renewing only after ttl, once it has stopped leading", async () => {
    const log: string[] = [];
    const frozen = flaky(records);
    stops.push(async () => frozen.thaw());
    const a = start(new Lease(opts("a", frozen.store)), log, "a");
    await clock.advance(1);
    start(new Lease(opts("b")), log, "b"); // b reads at 1, 3001, 6001, …
    await clock.advance(2999); // t = 3000: a renews
    frozen.state.mode = "hang"; // a's next renewal never answers, as on a host cut off
    await clock.advance(5999); // t = 8999
    assert.deepEqual(log, ["a leads 1"]);
    await clock.advance(1); // t = 9000: the renewal sent at 6000 is overdue (3000 + ttl - renew)
    assert.deepEqual(log, ["a leads 1", "a stops 1"]);
    assert.equal(a.leading(), false);
    await clock.advance(3000);
    assert.deepEqual(
      log,
      ["a leads 1", "a stops 1"],
      "b waits a full ttl since it saw a's renewal",
    );
    await clock.advance(1); // t = 12001: ttl after b saw it at 3001
    assert.deepEqual(log, ["a leads 1", "a stops 1", "b leads 2"]);
  });

  it("stops leading at the first failed renewal, and when another took the lease", async () => {
    const log: string[] = [];
    const down = flaky(records);
    const a = start(new Lease(opts("a", down.store)), log, "a");
    await clock.advance(0);
    down.state.mode = "fail";
    await clock.advance(3000);
    assert.deepEqual(log, ["a leads 1", "a stops 1"]);
    down.state.mode = "ok";
    await clock.advance(3000); // a's own record: it may take it again at once, in a new term
    assert.deepEqual(log, ["a leads 1", "a stops 1", "a leads 2"]);
    const rec = (await records.get("lease", "controllers")) as unknown as LeaseRecord;
    await records.commit([
      {
        kind: "lease",
        key: "controllers",
        expectVersion: rec.version,
        value: { ...rec, holder: "intruder", fence: 7 },
      },
    ]);
    await clock.advance(3000);
    assert.deepEqual(log.slice(3), ["a stops 2"]);
    assert.equal(a.leading(), false);
  });

  it("resolves run only when the leader's work has finished", async () => {
    const ac = new AbortController();
    let finish = () => {};
    let finished = false;
    const lease = new Lease(opts("a"));
    const done = lease.run({ signal: ac.signal }, async (l) => {
      await new Promise((r) => l.signal.addEventListener("abort", r, { once: true }));
      await new Promise<void>((r) => {
        finish = r;
      });
      finished = true;
    });
    await clock.advance(0);
    ac.abort();
    let resolved = false;
    void done.then(() => {
      resolved = true;
    });
    await clock.advance(20_000);
    assert.equal(resolved, false, "still waiting for the work");
    assert.deepEqual(await Lease.current(records, "controllers"), { holder: "a", fence: 1 });
    finish();
    await clock.advance(0);
    await done;
    assert.ok(finished);
    assert.equal(await Lease.current(records, "controllers"), undefined, "released");
  });

  it("gives up the term when the work fails or returns, and campaigns again", async () => {
    const ac = new AbortController();
    const fences: number[] = [];
    const lease = new Lease(opts("a"));
    const done = lease.run({ signal: ac.signal }, async (l) => {
      fences.push(l.fence);
      if (fences.length === 1) throw new Error("boom");
    });
    await clock.advance(0);
    await clock.advance(3000);
    await clock.advance(3000);
    ac.abort();
    await clock.advance(0);
    await done;
    assert.deepEqual(fences.slice(0, 3), [1, 2, 3]);
  });

  it("judges expiry by its own clock, never by the times written in the record", async () => {
    await records.commit([
      {
        kind: "lease",
        key: "controllers",
        expectVersion: 0,
        value: {
          name: "controllers",
          holder: "old",
          fence: 4,
          ttlMs: 9000,
          renewedAt: "1970-01-01T00:00:00Z",
        },
      },
    ]);
    const log: string[] = [];
    start(new Lease(opts("b")), log, "b");
    await clock.advance(8999);
    assert.deepEqual(log, []);
    await clock.advance(1);
    assert.deepEqual(log, ["b leads 5"]);
  });

  it("refuses bad names, holders and timings", () => {
    const bad = (o: Partial<ConstructorParameters<typeof Lease>[0]>, re: RegExp) =>
      assert.throws(
        () => new Lease({ ...opts("a"), ...o }),
        (err: unknown) => isAteError(err, Code.InvalidArgument) && re.test(String(err)),
      );
    bad({ name: "../x" }, /lease name "..\/x" is invalid/);
    bad({ name: "x".repeat(64) }, /lease name/);
    bad({ holder: "" }, /lease holder "" is invalid/);
    bad({ holder: "a b" }, /lease holder/);
    bad({ ttlMs: 0 }, /lease ttlMs 0 is out of range/);
    bad({ ttlMs: 1.5 }, /lease ttlMs/);
    bad({ ttlMs: 9000, renewMs: 4500 }, /renewMs 4500 must be .* under half of ttlMs/);
  });
});

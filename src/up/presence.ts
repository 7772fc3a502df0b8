import { Lease, type LeaseClock, type LeaseRecord, monotonicClock } from "../lease/index.ts";
import type { Logger } from "../log/index.ts";
import type { RecordStore } from "../records/index.ts";

/** The lease record a control plane keeps renewed while it runs. */
const presenceKey = (owner: string) => `presence.${owner}`;
const presencePrefix = "presence.";

export interface PresenceOptions {
  store: RecordStore;
  /** The control plane's transition owner (ControlPlane.owner). */
  owner: string;
  /** Unrenewed this long, it counts as gone. Default 10 s. */
  ttlMs?: number;
  clock?: LeaseClock;
  logger: Logger;
}

/**
 * Control planes sharing a records store (Valkey) each mark the actors they move with a
 * transition naming them (its owner) that expires after 10 minutes, the longest a restore or
 * an upload may take. When one dies (kill -9, its host lost) the leader must not wait that long
 * to settle its actors: each control plane keeps a lease named after itself renewed while it
 * runs (`presence.<owner>`, on the lease's clock rules), and the leader takes over the
 * unexpired transitions of an owner whose lease is released, gone or unrenewed for its ttl.
 * An owner's lease exists before its first transition, so an owner without one is gone.
 */
export class Presence {
  private readonly lease: Lease;
  private readonly clock: LeaseClock;
  /** Each owner's lease version when this process first saw it (leader side). */
  private readonly seen = new Map<string, { version: number; since: number }>();

  constructor(private readonly o: PresenceOptions) {
    this.clock = o.clock ?? monotonicClock;
    this.lease = new Lease({
      store: o.store,
      name: presenceKey(o.owner),
      holder: o.owner,
      ttlMs: o.ttlMs ?? 10_000,
      clock: this.clock,
      logger: o.logger,
    });
  }

  /**
   * Holds this owner's presence until `signal` aborts (then releases it). Resolves once it is
   * held the first time, through `held`.
   */
  run({ signal }: { signal: AbortSignal }, held: () => void = () => {}): Promise<void> {
    return this.lease.run({ signal }, ({ signal: term }) => {
      held();
      return new Promise<void>((resolve) => {
        if (term.aborted) return resolve();
        term.addEventListener("abort", () => resolve(), { once: true });
      });
    });
  }

  /**
   * Marks `owner` gone at once (its presence released): for an owner known to have stopped,
   * e.g. a former run on a state directory now locked by another. True when it was present.
   */
  static release(store: RecordStore, owner: string): Promise<boolean> {
    return Lease.release(store, presenceKey(owner), owner);
  }

  /** Whether `owner` is gone: its presence released, missing, or unrenewed for its ttl. */
  async gone(owner: string): Promise<boolean> {
    if (owner === this.o.owner) return false;
    const rec = (await this.o.store.get("lease", presenceKey(owner))) as LeaseRecord | undefined;
    return this.judge(owner, rec);
  }

  /** Forgets the presence of owners that are gone (so records do not pile up across restarts). */
  async sweep(): Promise<void> {
    const page = await this.o.store.list("lease", { prefix: presencePrefix, limit: 1000 });
    for (const item of page.items) {
      const rec = item as unknown as LeaseRecord;
      const owner = rec.name.slice(presencePrefix.length);
      if (owner === this.o.owner || !this.judge(owner, rec)) continue;
      // Compare-and-set: a presence renewed meanwhile stays. Its owner, if alive after all,
      // takes it again at its next renewal.
      await this.o.store
        .commit([{ kind: "lease", key: rec.name, expectVersion: rec.version }])
        .catch(() => {});
      this.seen.delete(owner);
    }
  }

  private judge(owner: string, rec: LeaseRecord | undefined): boolean {
    if (!rec || rec.holder !== owner) return true;
    const now = this.clock.now();
    const seen = this.seen.get(owner);
    if (seen?.version !== rec.version) {
      this.seen.set(owner, { version: rec.version, since: now });
      return false;
    }
    return now - seen.since >= rec.ttlMs;
  }
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type Logger, silentLogger } from "../log/index.ts";
import type { RecordStore } from "../records/index.ts";
import { type LeaseClock, monotonicClock } from "./clock.ts";

/** The lease's record (kind "lease", key its name). `holder` "" means released. */
export interface LeaseRecord {
  name: string;
  holder: string;
  /** Increases with every new term: work stamped with an older fence is from a former leader. */
  fence: number;
  /** How long the holder's term lasts without a renewal: what others wait for. */
  ttlMs: number;
  /** RFC 3339, by the holder's wall clock: for people only, never compared (see Lease). */
  renewedAt: string;
  version: number;
}

export interface Leadership {
  /** Aborts the moment this process may no longer lead: a renewal failed or was late, the lease was lost, or run's signal aborted. */
  signal: AbortSignal;
  fence: number;
}

export interface LeaseOptions {
  store: RecordStore;
  /** What is led, e.g. "controllers"; the record's key. */
  name: string;
  /** Who asks, unique per process. Default `<hostname>-<pid>-<random>`. */
  holder?: string;
  /** A term without renewal lasts this long. Default 10 000 ms. */
  ttlMs?: number;
  /** The holder renews this often; under ttlMs / 2. Default ttlMs / 3. */
  renewMs?: number;
  clock?: LeaseClock;
  logger?: Logger;
}

interface Term {
  fence: number;
  version: number;
  /** When the last successful write of the record was sent (this process's clock). */
  renewedFrom: number;
}

/**
 * One leader at a time among processes sharing a RecordStore (SQLite on one machine,
 * Redis/Valkey for many), by compare-and-set on one record.
 *
 * Clocks: nothing compares one host's time with another's. A candidate judges a term expired
 * when the record has not changed for ttlMs by its own monotonic clock since it first saw
 * that version (as Kubernetes' leader election does), and the holder stops leading when
 * ttlMs - renewMs has passed by its own clock since it sent its last successful renewal.
 * Since the candidate saw the version only after that renewal was sent, the holder stops at
 * least renewMs before anyone can take over, provided the hosts' clocks run at about the
 * same rate (not that they agree). `renewedAt` in the record is for people only.
 */
export class Lease {
  readonly holder: string;
  private readonly store: RecordStore;
  private readonly name: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly clock: LeaseClock;
  private readonly logger: Logger;

  constructor(options: LeaseOptions) {
    this.store = options.store;
    this.name = checkName(options.name);
    this.holder = checkHolder(
      options.holder ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
    );
    this.ttlMs = options.ttlMs ?? 10_000;
    this.renewMs = options.renewMs ?? Math.floor(this.ttlMs / 3);
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 30 || this.ttlMs > 3_600_000)
      throw new AteError(
        Code.InvalidArgument,
        `lease ttlMs ${options.ttlMs} is out of range: give whole milliseconds from 30 to 3600000 (default 10000)`,
      );
    if (!Number.isInteger(this.renewMs) || this.renewMs < 1 || this.renewMs * 2 >= this.ttlMs)
      throw new AteError(
        Code.InvalidArgument,
        `lease renewMs ${options.renewMs} must be whole milliseconds under half of ttlMs (${this.ttlMs}); default ttlMs / 3`,
      );
    this.clock = options.clock ?? monotonicClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** Who holds the lease now, as the record says (a holder that died still shows until replaced). */
  static async current(
    store: RecordStore,
    name: string,
  ): Promise<{ holder: string; fence: number } | undefined> {
    const rec = (await store.get("lease", checkName(name))) as LeaseRecord | undefined;
    return rec?.holder ? { holder: rec.holder, fence: rec.fence } : undefined;
  }

  /**
   * Ends `holder`'s term at once if it still holds the lease, so another may take it without
   * waiting ttlMs: only for a holder known to be gone (e.g. a former run of a process whose
   * state directory is now locked by its successor). True when it held the lease.
   */
  static async release(store: RecordStore, name: string, holder: string): Promise<boolean> {
    const rec = (await store.get("lease", checkName(name))) as LeaseRecord | undefined;
    if (!rec?.holder || rec.holder !== holder) return false;
    const { version, ...value } = rec;
    try {
      await store.commit([
        {
          kind: "lease",
          key: rec.name,
          expectVersion: version,
          value: { ...value, holder: "", renewedAt: new Date().toISOString() },
        },
      ]);
      return true;
    } catch (err) {
      // Renewed or taken meanwhile: the holder was not gone after all, or another leads now.
      if (isAteError(err, Code.Aborted) || isAteError(err, Code.NotFound)) return false;
      throw err;
    }
  }

  /**
   * Campaigns for the lease until `signal` aborts; while this process holds it, runs `lead`.
   * A term ends when lead's signal aborts or lead returns (or throws: logged); the lease is
   * released once lead has returned, and the process campaigns again. Resolves when the
   * signal has aborted and everything it started has finished.
   */
  async run(
    options: { signal: AbortSignal },
    lead: (leadership: Leadership) => Promise<void>,
  ): Promise<void> {
    const { signal } = options;
    while (!signal.aborted) {
      const term = await this.campaign(signal);
      if (!term) return;
      await this.serve(term, signal, lead);
      // A term that ended on its own (lead returned, a renewal failed): others get a turn first.
      await this.clock.sleep(this.renewMs, signal);
    }
  }

  /** Waits until the lease is free or expired and takes it; undefined when the signal aborts. */
  private async campaign(signal: AbortSignal): Promise<Term | undefined> {
    let seen: { version: number; since: number } | undefined;
    while (!signal.aborted) {
      let wait = this.renewMs;
      try {
        const rec = (await this.store.get("lease", this.name)) as LeaseRecord | undefined;
        const now = this.clock.now(); // after the read: the version was written before this
        if (seen?.version !== rec?.version) seen = rec && { version: rec.version, since: now };
        const free = !rec?.holder || rec.holder === this.holder;
        if (free || (seen && now - seen.since >= rec.ttlMs)) {
          const term = await this.take(rec);
          if (term) return term;
          continue; // someone else wrote first: look again at once
        }
        if (seen) wait = Math.min(wait, seen.since + rec.ttlMs - now); // wake when it expires
      } catch (err) {
        this.logger.warn("lease: cannot read or take the lease; retrying", {
          lease: this.name,
          error: String(err),
        });
      }
      await this.clock.sleep(wait, signal);
    }
    return undefined;
  }

  /** A new term, or undefined when another process changed the record first. */
  private async take(rec: LeaseRecord | undefined): Promise<Term | undefined> {
    const fence = (rec?.fence ?? 0) + 1;
    const renewedFrom = this.clock.now();
    try {
      const [version] = await this.store.commit([
        {
          kind: "lease",
          key: this.name,
          expectVersion: rec?.version ?? 0,
          value: this.value(fence),
        },
      ]);
      this.logger.info("lease: leading", { lease: this.name, holder: this.holder, fence });
      return { fence, version: version as number, renewedFrom };
    } catch (err) {
      if (isAteError(err, Code.Aborted) || isAteError(err, Code.AlreadyExists)) return undefined;
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    }
  }

  /** Runs lead while renewing; releases the lease once lead has returned. */
  private async serve(
    term: Term,
    signal: AbortSignal,
    lead: (leadership: Leadership) => Promise<void>,
  ): Promise<void> {
    const leadership = new AbortController();
    const stop = () => leadership.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const leading = (async () => {
        try {
          await lead({ signal: leadership.signal, fence: term.fence });
        } catch (err) {
          this.logger.error("lease: the leader's work failed; giving up the lease", {
            lease: this.name,
            fence: term.fence,
            error: String(err),
          });
        } finally {
          leadership.abort();
        }
      })();
      await Promise.all([leading, this.renew(term, leadership)]);
    } finally {
      signal.removeEventListener("abort", stop);
    }
    await this.store
      .commit([
        {
          kind: "lease",
          key: this.name,
          expectVersion: term.version,
          value: this.value(term.fence, ""),
        },
      ])
      .catch(() => {}); // lost or unreachable: others take it when it expires
  }

  /** Renews every renewMs; aborts leadership when a renewal fails or is not done in time. */
  private async renew(term: Term, leadership: AbortController): Promise<void> {
    while (!leadership.signal.aborted) {
      await this.clock.sleep(this.renewMs, leadership.signal);
      if (leadership.signal.aborted) return;
      const sent = this.clock.now();
      const late = new AbortController();
      const outcome = await Promise.race([
        this.store
          .commit([
            {
              kind: "lease",
              key: this.name,
              expectVersion: term.version,
              value: this.value(term.fence),
            },
          ])
          .then(
            ([version]) => ({ version: version as number }),
            (err: unknown) => ({ err }),
          ),
        this.clock
          .sleep(term.renewedFrom + this.ttlMs - this.renewMs - sent, late.signal)
          .then(() => ({ err: new Error(`no answer within ${this.ttlMs - this.renewMs} ms`) })),
      ]);
      late.abort();
      if ("err" in outcome) {
        this.logger.warn("lease: renewal failed; no longer leading", {
          lease: this.name,
          fence: term.fence,
          error: String(outcome.err),
        });
        leadership.abort();
        return;
      }
      term.version = outcome.version;
      term.renewedFrom = sent;
    }
  }

  private value(fence: number, holder = this.holder): Record<string, unknown> {
    return {
      name: this.name,
      holder,
      fence,
      ttlMs: this.ttlMs,
      renewedAt: new Date().toISOString(),
    } satisfies Omit<LeaseRecord, "version">;
  }
}

function checkName(name: string): string {
  if (typeof name !== "string" || !/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(name))
    throw new AteError(
      Code.InvalidArgument,
      `lease name "${String(name).slice(0, 80)}" is invalid: use lowercase letters, digits, '-' and '.', at most 63`,
    );
  return name;
}

function checkHolder(holder: string): string {
  if (typeof holder !== "string" || !/^[\x21-\x7e]{1,253}$/.test(holder))
    throw new AteError(
      Code.InvalidArgument,
      `lease holder "${String(holder).slice(0, 80)}" is invalid: give 1 to 253 printable characters without spaces`,
    );
  return holder;
}

import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { AteError, Code } from "../errors/index.ts";
import type { RecordKind, RecordWrite } from "./record-write.ts";

/**
 * The records whose changes a store feeds, in commit order: actors, so that routers (through
 * the Control API's WatchActors) learn of every move however it was made — by the lifecycle,
 * the reconciler, a controller, another control plane. The feed is written in the same atomic
 * step as the records (SQLite: in process, after the transaction; Redis: XADD inside the
 * commit script), so no committed change is ever missing from it.
 */
export const fedKinds: ReadonlySet<RecordKind> = new Set<RecordKind>(["actor"]);

/** How many changes a feed keeps; a reader further behind gets OUT_OF_RANGE and lists again. */
export const feedLength = 10_000;

/** One committed change of a fed record. */
export interface RecordChange {
  /** Its place in the feed: read after it to continue with the next change. */
  cursor: string;
  kind: RecordKind;
  key: string;
  /** The record as committed (its version included); absent: it was deleted. */
  value?: Record<string, unknown>;
}

export interface ChangeReadOptions {
  /** The most changes answered at once. */
  limit: number;
  /** When there is no change yet, how long to wait for one (0: answer at once). */
  waitMs?: number;
  signal?: AbortSignal;
}

/** Reads a feed; holds what a waiting read needs (e.g. a connection) until closed. */
export interface ChangeReader {
  /**
   * The changes after cursor `after`, oldest first. OUT_OF_RANGE when some of them are no
   * longer kept (or `after` is not from this feed, e.g. the store was cleared since);
   * INVALID_ARGUMENT when `after` is no cursor at all.
   */
  read(after: string, o: ChangeReadOptions): Promise<RecordChange[]>;
  close(): void;
}

/** The changes of fed records, as a store commits them. */
export interface ChangeFeed {
  /** The cursor of the latest change: reading after it gives only the changes to come. */
  head(): Promise<string>;
  reader(): ChangeReader;
}

export const outOfRange = (after: string) =>
  new AteError(
    Code.OutOfRange,
    `after: changes since ${JSON.stringify(after.slice(0, 64))} are no longer kept; watch again without a cursor (list, then follow)`,
  );

export const badCursor = (after: string) =>
  new AteError(
    Code.InvalidArgument,
    `after: Invalid value: ${JSON.stringify(after.slice(0, 64))}: not a cursor of this feed; use the cursor of an event, or none`,
  );

/**
 * A feed kept in memory, for a store only one process writes (SQLite). Cursors are
 * `<epoch>:<n>`, the epoch new for each process, so a cursor from before a restart is
 * OUT_OF_RANGE rather than misread.
 */
export class MemoryChangeFeed implements ChangeFeed {
  private readonly epoch = randomBytes(4).toString("hex");
  /** Bodies as JSON, so no reader shares an object with another. */
  private readonly entries: { kind: RecordKind; key: string; body?: string }[] = [];
  /** The number of the newest change (0: none yet). */
  private last = 0;
  private readonly events = new EventEmitter();

  constructor(private readonly max = feedLength) {
    this.events.setMaxListeners(0);
  }

  /** Called by the store once a commit is durable. */
  publish(writes: readonly RecordWrite[], versions: readonly number[]): void {
    let any = false;
    writes.forEach((w, i) => {
      if (!fedKinds.has(w.kind)) return;
      any = true;
      this.last++;
      this.entries.push({
        kind: w.kind,
        key: w.key,
        ...(w.value === undefined
          ? {}
          : { body: JSON.stringify({ ...w.value, version: versions[i] }) }),
      });
    });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
    if (any) this.events.emit("change");
  }

  async head(): Promise<string> {
    return `${this.epoch}:${this.last}`;
  }

  reader(): ChangeReader {
    return { read: (after, o) => this.read(after, o), close: () => {} };
  }

  private async read(after: string, o: ChangeReadOptions): Promise<RecordChange[]> {
    const m = /^([0-9a-f]{8}):(\d{1,15})$/.exec(after);
    if (!m) throw badCursor(after);
    const n = Number(m[2]);
    if (m[1] !== this.epoch || n > this.last) throw outOfRange(after);
    if (n === this.last && o.waitMs) await this.changeOrTimeout(o.waitMs, o.signal);
    const first = this.last - this.entries.length; // the number before the oldest kept
    if (n < first) throw outOfRange(after);
    return this.entries.slice(n - first, n - first + o.limit).map((e, i) => ({
      cursor: `${this.epoch}:${n + i + 1}`,
      kind: e.kind,
      key: e.key,
      ...(e.body === undefined ? {} : { value: JSON.parse(e.body) as Record<string, unknown> }),
    }));
  }

  private changeOrTimeout(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off("change", done);
        signal?.removeEventListener("abort", abort);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const abort = () => {
        cleanup();
        reject(signal?.reason);
      };
      const timer = setTimeout(done, ms);
      this.events.on("change", done);
      if (signal?.aborted) return abort();
      signal?.addEventListener("abort", abort, { once: true });
    });
  }
}

import type { ChangeFeed } from "./change-feed.ts";

export type { RecordKind, RecordWrite } from "./record-write.ts";

import type { RecordKind, RecordWrite } from "./record-write.ts";

export interface RecordPage {
  items: Record<string, unknown>[];
  /** Key of the last item, when more may follow. */
  last?: string;
}

/**
 * The storage under Actor, Worker and Atespace records: versioned JSON values by kind and
 * key, listed in key order, written only by atomic multi-record compare-and-set. SQLite is
 * the embedded default; Redis/Valkey serves many machines. Both pass one contract suite.
 */
export interface RecordStore {
  get(kind: RecordKind, key: string): Promise<Record<string, unknown> | undefined>;
  /** Items whose key starts with prefix and sorts after `after`, in key order. */
  list(
    kind: RecordKind,
    options: { prefix?: string; after?: string; limit: number },
  ): Promise<RecordPage>;
  count(kind: RecordKind, prefix?: string): Promise<number>;
  /** All writes or none; ABORTED (naming the record) when any expectation fails. Returns the new versions. */
  commit(writes: RecordWrite[]): Promise<number[]>;
  /** Removes every record but the tokens (DebugClear must not lock its caller out). */
  clear(): Promise<void>;
  /** Every committed change of the fed kinds (actors), in commit order (see change-feed.ts). */
  readonly changes: ChangeFeed;
  close(): Promise<void>;
}

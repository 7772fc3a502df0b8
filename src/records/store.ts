import type { ChangeFeed } from "./change-feed.ts";

/**
 * `orphans` keeps the snapshots of deleted actors for a garbage collector to find; `token`
 * holds API bearer tokens (src/auth: a hash of the secret, never the secret); `node` the
 * registered nodes and their heartbeats; `lease` who leads the controllers; `activity` each
 * router's latest report of the requests it forwards (src/controlplane/activity*.ts).
 */
export type RecordKind =
  | "actor"
  | "worker"
  | "atespace"
  | "orphans"
  | "token"
  | "node"
  | "lease"
  | "activity";

/**
 * One compare-and-set write. `expectVersion` 0 means "must not exist"; `value` undefined
 * means delete. The stored value gets `version: expectVersion + 1`.
 */
export interface RecordWrite {
  kind: RecordKind;
  key: string;
  expectVersion: number;
  value?: Record<string, unknown>;
}

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

// The kinds of records and the one write shape, apart from the store so that the change feed
// (which the store exposes) can name them without an import cycle.

/**
 * `orphans` keeps the snapshots of deleted actors for a garbage collector to find; `token`
 * holds API bearer tokens (src/auth: a hash of the secret, never the secret); `node` the
 * registered nodes and their heartbeats; `lease` who leads the controllers; `activity` each
 * router's latest report of the requests it forwards (src/controlplane/activity*.ts);
 * `actortoken` each actor's own credential (src/auth/actor-token.ts: a hash, never the secret);
 * `snapshottag` the snapshot tags, each owning its copy of a snapshot (snapshot-tags.ts).
 */
export type RecordKind =
  | "actor"
  | "worker"
  | "atespace"
  | "orphans"
  | "token"
  | "node"
  | "lease"
  | "activity"
  | "actortoken"
  | "snapshottag";

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

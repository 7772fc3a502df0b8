export {
  atLastExternalSnapshot,
  atLastSnapshot,
  withSnapshot,
  workerRef,
} from "./at-last-snapshot.ts";
export {
  type ChangeFeed,
  type ChangeReader,
  type ChangeReadOptions,
  fedKinds,
  feedLength,
  MemoryChangeFeed,
  type RecordChange,
} from "./change-feed.ts";
export { openRecordStore } from "./factory.ts";
export { type ActorPage, checkLabel, maxPageSize, type Orphans, Records } from "./records.ts";
export { RedisRecordStore, type RedisRecordStoreOptions } from "./redis-record-store.ts";
export {
  checkTagRef,
  type SnapshotTag,
  type SnapshotTagPolicy,
  SnapshotTags,
  snapshotTagKey,
} from "./snapshot-tags.ts";
export { SqliteRecordStore } from "./sqlite-record-store.ts";
export type { RecordKind, RecordPage, RecordStore, RecordWrite } from "./store.ts";
export * from "./types.ts";

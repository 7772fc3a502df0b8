export { atLastSnapshot } from "./at-last-snapshot.ts";
export { openRecordStore } from "./factory.ts";
export { type ActorPage, checkLabel, maxPageSize, type Orphans, Records } from "./records.ts";
export { RedisRecordStore, type RedisRecordStoreOptions } from "./redis-record-store.ts";
export { SqliteRecordStore } from "./sqlite-record-store.ts";
export type { RecordKind, RecordPage, RecordStore, RecordWrite } from "./store.ts";
export * from "./types.ts";

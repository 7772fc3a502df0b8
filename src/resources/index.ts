export { type ApplyOutcome, type ApplyResult, applyResource } from "./apply.ts";
export { sameJson } from "./canonical-json.ts";
export { ateHome, openResourceStore, type ResourceStoreConfig } from "./factory.ts";
export {
  adoptNamespacesInUse,
  emptyNamespace,
  ensureDefaultNamespace,
  isNamespaceNotFound,
  namespaceNotFound,
  refuseDefaultDeletion,
} from "./namespaces.ts";
export { RedisResourceStore, type RedisResourceStoreOptions } from "./redis-store.ts";
export { RemoteResourceStore } from "./remote-store.ts";
export { SqliteResourceStore, type SqliteResourceStoreOptions } from "./sqlite-store.ts";
export type {
  ListOptions,
  ResourceList,
  ResourceStore,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from "./store.ts";

import type { Resource, ResourceType } from "../api/schema/index.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent {
  type: WatchEventType;
  /** The object after the change (for DELETED: as it was when deleted, with the deletion's resourceVersion). */
  object: Resource;
}

export interface ListOptions {
  /** Namespaced kinds: only this namespace; undefined means all namespaces. */
  namespace?: string;
  /** kubectl selector syntax, e.g. `pool=a,tier!=b`. */
  labelSelector?: string;
}

export interface ResourceList<T extends Resource = Resource> {
  items: T[];
  /** Watch from here to see every change after this list. */
  resourceVersion: string;
}

export interface WatchOptions {
  /** All kinds when omitted. */
  type?: ResourceType;
  namespace?: string;
  /** Deliver changes after this version (from a list); "" or omitted: from now. */
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface WriteOptions {
  /** Validate and compute the result without storing it. */
  dryRun?: boolean;
}

/**
 * Resources with Kubernetes object semantics: uid, resourceVersion (optimistic concurrency),
 * generation, creationTimestamp; validated on every write exactly as a cluster would. SQLite
 * is the embedded default; Redis/Valkey serves many control planes (both pass contract.ts); a
 * Kubernetes API server can stand behind the same interface at scale. Reads and writes are
 * typed by the ResourceType passed (the store validated what it holds against that type).
 */
export interface ResourceStore {
  get<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
  ): Promise<Resource<Spec, Status>>;
  list<Spec, Status>(
    type: ResourceType<Spec, Status>,
    options?: ListOptions,
  ): Promise<ResourceList<Resource<Spec, Status>>>;
  /** ALREADY_EXISTS when the name is taken; INVALID_ARGUMENT with field errors when invalid. */
  create<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
    options?: WriteOptions,
  ): Promise<Resource<Spec, Status>>;
  /**
   * Replaces metadata (labels, annotations) and spec; status is kept. ABORTED when
   * metadata.resourceVersion is set and no longer current; NOT_FOUND when absent.
   */
  update<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
    options?: WriteOptions,
  ): Promise<Resource<Spec, Status>>;
  /** Replaces only the status (the status subresource). */
  updateStatus<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
  ): Promise<Resource<Spec, Status>>;
  delete<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
    options?: { resourceVersion?: string },
  ): Promise<Resource<Spec, Status>>;
  /** Ordered changes; ends when the signal aborts. OUT_OF_RANGE when resourceVersion is too old. */
  watch(options: WatchOptions): AsyncIterable<WatchEvent>;
  close(): Promise<void>;
}

import { randomUUID } from "node:crypto";
import { admitResource, type Resource, type ResourceType } from "../api/schema/index.ts";
import { NamespaceType } from "../api/v1/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { sameJson } from "./canonical-json.ts";
import { emptyNamespace, refuseDefaultDeletion, requireActiveNamespace } from "./namespaces.ts";
import { conflict } from "./object-errors.ts";
import type {
  ListOptions,
  ResourceList,
  ResourceStore,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from "./store.ts";

/** What must hold when a write commits: the name is free, or the object is at this version. */
export type WriteExpectation = { absent: true } | { version: string };

/**
 * Kubernetes object semantics shared by every backend: what create, update, updateStatus and
 * delete admit and compute (uid, generation, creationTimestamp, status kept apart, no-op
 * updates, optimistic concurrency, dryRun). A backend supplies reads, watch, and one atomic
 * `write` that checks the expectation, gives the object the next resourceVersion and appends
 * its event.
 */
export abstract class ObjectStore implements ResourceStore {
  protected readonly clock: Clock;

  constructor(clock: Clock | undefined) {
    this.clock = clock ?? systemClock;
  }

  abstract get<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
  ): Promise<Resource<Spec, Status>>;
  abstract list<Spec, Status>(
    type: ResourceType<Spec, Status>,
    options?: ListOptions,
  ): Promise<ResourceList<Resource<Spec, Status>>>;
  abstract watch(options: WatchOptions): AsyncIterable<WatchEvent>;
  abstract close(): Promise<void>;

  /**
   * Atomically: checks `expect` (ALREADY_EXISTS, NOT_FOUND or ABORTED when it fails), stores
   * the object under the next resourceVersion (removes it for DELETED) and appends the event
   * carrying it. Returns the object as stored.
   */
  protected abstract write(
    type: ResourceType,
    eventType: WatchEventType,
    object: Resource,
    expect: WriteExpectation,
  ): Promise<Resource>;

  async create<Spec, Status>(
    type: ResourceType<Spec, Status>,
    input: Resource,
    options: WriteOptions = {},
  ): Promise<Resource<Spec, Status>> {
    const { status: _ignored, ...withoutStatus } = input; // status is written only through updateStatus
    const object = admitResource(type, withoutStatus as Resource);
    if (type.scope === "Namespaced") {
      const namespace = nsFor(type, object.metadata.namespace);
      await requireActiveNamespace(
        (ns) => this.get(NamespaceType, undefined, ns),
        type,
        namespace,
        object.metadata.name,
      );
      object.metadata.namespace = namespace;
    }
    object.metadata = {
      ...object.metadata,
      uid: randomUUID(),
      // Kinds without a spec (Secret) have no generation, as in Kubernetes.
      ...(type.spec ? { generation: 1 } : {}),
      creationTimestamp: this.clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z"),
    };
    delete object.metadata.resourceVersion;
    delete object.metadata.deletionTimestamp; // a deletion's mark, never a client's
    if (type.initialStatus !== undefined) object.status = structuredClone(type.initialStatus);
    if (options.dryRun) return object as Resource<Spec, Status>;
    return (await this.write(type, "ADDED", object, { absent: true })) as Resource<Spec, Status>;
  }

  async update<Spec, Status>(
    type: ResourceType<Spec, Status>,
    input: Resource,
    options: WriteOptions = {},
  ): Promise<Resource<Spec, Status>> {
    const old: Resource = await this.get(type, input.metadata?.namespace, requireName(type, input));
    checkVersion(type, input, old);
    const merged: Resource = {
      ...input,
      metadata: {
        ...input.metadata,
        namespace: old.metadata.namespace,
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        generation: old.metadata.generation,
        resourceVersion: old.metadata.resourceVersion,
      },
    };
    // Set by a deletion only (a namespace's: Terminating), never by a client's write.
    if (old.metadata.deletionTimestamp)
      merged.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete merged.metadata.deletionTimestamp;
    if (type.scope === "Cluster") delete merged.metadata.namespace;
    if (old.status !== undefined) merged.status = old.status;
    else delete merged.status;
    const object = admitResource(type, merged, old);
    // A no-op update changes nothing, not even the version.
    if (sameJson(object, old)) return old as Resource<Spec, Status>;
    if (!sameJson(object.spec, old.spec))
      object.metadata.generation = (old.metadata.generation ?? 0) + 1;
    if (options.dryRun) return object as Resource<Spec, Status>;
    return (await this.write(type, "MODIFIED", object, versionOf(old))) as Resource<Spec, Status>;
  }

  async updateStatus<Spec, Status>(
    type: ResourceType<Spec, Status>,
    input: Resource,
  ): Promise<Resource<Spec, Status>> {
    if (!type.status)
      throw new AteError(Code.InvalidArgument, `${type.kind} has no status subresource`);
    const old: Resource = await this.get(type, input.metadata?.namespace, requireName(type, input));
    checkVersion(type, input, old);
    const object = admitResource(type, { ...old, status: input.status }, old);
    if (sameJson(object, old)) return old as Resource<Spec, Status>;
    return (await this.write(type, "MODIFIED", object, versionOf(old))) as Resource<Spec, Status>;
  }

  async delete<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string } = {},
  ): Promise<Resource<Spec, Status>> {
    if (type.kind === NamespaceType.kind) refuseDefaultDeletion(name);
    let old: Resource = await this.get(type, namespace, name);
    if (options.resourceVersion && options.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(type, name);
    if (type.kind === NamespaceType.kind) old = await this.terminate(old);
    return (await this.write(type, "DELETED", old, versionOf(old))) as Resource<Spec, Status>;
  }

  /**
   * A namespace's deletion, as Kubernetes does it: Terminating first (so nothing new lands in
   * it; watchers see the change), then everything in it deleted, then the namespace itself
   * (by the caller). A deletion cut short leaves it Terminating; deleting it again goes on.
   */
  private async terminate(ns: Resource): Promise<Resource> {
    let current = ns;
    if ((ns.status as { phase?: string } | undefined)?.phase !== "Terminating") {
      const terminating: Resource = {
        ...ns,
        metadata: {
          ...ns.metadata,
          deletionTimestamp: this.clock
            .now()
            .toISOString()
            .replace(/\.\d{3}Z$/, "Z"),
        },
        status: { phase: "Terminating" },
      };
      current = await this.write(
        NamespaceType as ResourceType,
        "MODIFIED",
        terminating,
        versionOf(ns),
      );
    }
    await emptyNamespace(this, ns.metadata.name);
    return current;
  }
}

/** The namespace a backend files an object under: "" for cluster-scoped kinds. */
export function nsFor(type: ResourceType, namespace: string | undefined): string {
  return type.scope === "Cluster" ? "" : namespace || "default";
}

/** Whether a watch with these options delivers an event about an object in `namespace`. */
export function watchWants(options: WatchOptions, kind: string, namespace: string): boolean {
  if (options.type && options.type.kind !== kind) return false;
  return (
    options.namespace === undefined ||
    options.type?.scope === "Cluster" ||
    namespace === options.namespace
  );
}

function versionOf(old: Resource): WriteExpectation {
  return { version: old.metadata.resourceVersion ?? "" };
}

function requireName(type: ResourceType, input: Resource): string {
  const name = input.metadata?.name;
  if (typeof name !== "string" || name === "") {
    throw new AteError(
      Code.InvalidArgument,
      `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
    );
  }
  return name;
}

function checkVersion(type: ResourceType, input: Resource, old: Resource): void {
  const rv = input.metadata?.resourceVersion;
  if (rv && rv !== old.metadata.resourceVersion) throw conflict(type, old.metadata.name);
}

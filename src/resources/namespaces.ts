import type { Resource, ResourceType } from "../api/schema/index.ts";
import { defaultNamespace, NamespaceType } from "../api/v1/index.ts";
import { resourceTypes } from "../api/v1alpha1/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { notFound } from "./object-errors.ts";
import type { ResourceStore } from "./store.ts";

// Namespaces as the Kubernetes API server keeps them: namespaced objects live only in declared,
// active namespaces (the NamespaceLifecycle admission plugin), `default` always exists and
// cannot be deleted, and deleting a namespace first marks it Terminating, then deletes what it
// holds, then the namespace (the namespace controller's work, done here within the request).

/** How many times a deletion sweeps its namespace before giving up on a stream of creations. */
const maxSweeps = 5;

/** Creates `default` if it is not there: every server does at start, and the local CLI. */
export async function ensureDefaultNamespace(store: ResourceStore): Promise<void> {
  try {
    await store.get(NamespaceType, undefined, defaultNamespace);
  } catch (err) {
    if (!isAteError(err, Code.NotFound)) throw err;
    await store
      .create(NamespaceType, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: defaultNamespace },
        spec: {},
      })
      .catch((e) => {
        if (!isAteError(e, Code.AlreadyExists)) throw e; // another process made it first
      });
  }
}

/**
 * Declares every namespace that objects already live in: a store written before ate served
 * Namespaces holds objects in namespaces nobody declared, which would otherwise take no new
 * objects. Run by a server at start, after ensureDefaultNamespace.
 */
export async function adoptNamespacesInUse(store: ResourceStore): Promise<string[]> {
  const inUse = new Set<string>();
  for (const type of namespacedTypes())
    for (const item of (await store.list(type)).items)
      if (item.metadata.namespace) inUse.add(item.metadata.namespace);
  const declared = new Set((await store.list(NamespaceType)).items.map((ns) => ns.metadata.name));
  const adopted: string[] = [];
  for (const name of [...inUse].filter((n) => !declared.has(n)).sort()) {
    await store
      .create(NamespaceType, { apiVersion: "v1", kind: "Namespace", metadata: { name }, spec: {} })
      .then(
        () => adopted.push(name),
        (e) => {
          if (!isAteError(e, Code.AlreadyExists)) throw e;
        },
      );
  }
  return adopted;
}

/** NotFound as the API server words it when a namespace is missing. */
export function namespaceNotFound(namespace: string): AteError {
  return notFound(NamespaceType, namespace);
}

/** Whether an error is the one an object in a missing namespace gets (see namespaceNotFound). */
export function isNamespaceNotFound(err: unknown, namespace: string): boolean {
  return isAteError(err, Code.NotFound) && err.message === namespaceNotFound(namespace).message;
}

/**
 * Refuses a namespaced object whose namespace does not exist (NotFound) or is being deleted
 * (Forbidden). `default` needs no look-up: it always exists.
 */
export async function requireActiveNamespace(
  read: (name: string) => Promise<Resource>,
  type: ResourceType,
  namespace: string,
  name: string,
): Promise<void> {
  if (namespace === defaultNamespace) return;
  let ns: Resource;
  try {
    ns = await read(namespace);
  } catch (err) {
    if (isAteError(err, Code.NotFound)) throw namespaceNotFound(namespace);
    throw err;
  }
  if ((ns.status as { phase?: string } | undefined)?.phase === "Terminating")
    throw new AteError(
      Code.PermissionDenied,
      `${type.plural} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
    );
}

export function refuseDefaultDeletion(name: string): void {
  if (name === defaultNamespace)
    throw new AteError(
      Code.PermissionDenied,
      `namespaces "${name}" is forbidden: this namespace may not be deleted`,
    );
}

/** The namespaced kinds a namespace's deletion sweeps. */
const namespacedTypes = () => resourceTypes.filter((t) => t.scope === "Namespaced");

/**
 * Deletes every object in the namespace, kind by kind, until a sweep finds none (an object
 * created just before the namespace turned Terminating may appear after the first). Fails with
 * ABORTED when the namespace will not empty.
 */
export async function emptyNamespace(store: ResourceStore, namespace: string): Promise<void> {
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let found = 0;
    for (const type of namespacedTypes()) {
      const { items } = await store.list(type, { namespace });
      for (const item of items) {
        found++;
        await store.delete(type, namespace, item.metadata.name).catch((err) => {
          if (!isAteError(err, Code.NotFound)) throw err;
        });
      }
    }
    if (found === 0) return;
  }
  throw new AteError(
    Code.Aborted,
    `namespace ${namespace} still holds objects after ${maxSweeps} sweeps (something keeps creating them): it stays Terminating; delete it again to continue`,
  );
}

import type { Resource, ResourceType } from "../api/schema/index.ts";
import { Code, isAteError } from "../errors/index.ts";
import { sameJson } from "./canonical-json.ts";
import type { ResourceStore, WriteOptions } from "./store.ts";

export type ApplyOutcome = "created" | "configured" | "unchanged";

export interface ApplyResult {
  outcome: ApplyOutcome;
  object: Resource;
}

/**
 * Create-or-update, as `kubectl apply` reports it. The applied document owns labels,
 * annotations and its fields (spec, or a Secret's data); status stays with the controllers. A concurrent change between the
 * read and the write surfaces as ABORTED, never as a lost update.
 */
export async function applyResource(
  store: ResourceStore,
  type: ResourceType,
  object: Resource,
  options: WriteOptions = {},
): Promise<ApplyResult> {
  let existing: Resource | undefined;
  try {
    existing = await store.get(type, object.metadata?.namespace, object.metadata?.name);
  } catch (err) {
    if (!isAteError(err, Code.NotFound)) throw err;
  }
  if (!existing) return { outcome: "created", object: await store.create(type, object, options) };
  const desired: Resource = {
    ...object,
    metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion },
  };
  const updated = await store.update(type, desired, options);
  const changed = !sameJson(owned(updated), owned(existing));
  return { outcome: changed ? "configured" : "unchanged", object: updated };
}

/**
 * What an applied document owns: labels, annotations and every top-level field but status
 * (spec; a Secret's type, data and immutable).
 */
function owned(o: Resource): unknown {
  const { status: _status, metadata, ...fields } = o;
  return { labels: metadata.labels, annotations: metadata.annotations, fields };
}

// PATCH on a resource, as kubectl sends it. `kubectl apply` on an existing object sends a JSON
// merge patch (RFC 7386) for custom kinds and a strategic merge patch for built-in ones
// (v1 Namespace, Secret); `kubectl patch` and `kubectl label`/`annotate` send either. The
// patched object then goes through the store's update like a PUT: validated whole, with the
// resourceVersion it was computed from, so a concurrent write is never overwritten.
import type { Resource, ResourceType } from "../api/schema/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import type { Req } from "./http-types.ts";
import { readJsonBody } from "./request-body.ts";

/** A PATCH whose media type ate does not take: HTTP 415 with what to send instead. */
export class UnsupportedPatch extends AteError {
  constructor(message: string) {
    super(Code.InvalidArgument, message);
  }
}

const mergePatch = "application/merge-patch+json";
const strategicPatch = "application/strategic-merge-patch+json";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * A key's value, and setting one, as own properties whatever the key: a patch's `__proto__`
 * key (own in parsed JSON) would otherwise read Object.prototype and, set, replace the
 * object's prototype, through which a removed field (`kind: null`) would still seem there.
 */
const own = (o: Record<string, Json>, key: string): Json | undefined =>
  Object.hasOwn(o, key) ? o[key] : undefined;
const put = (o: Record<string, Json>, key: string, value: Json): void => {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
};

/** RFC 7386: objects merge key by key, null deletes, anything else replaces. */
export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else put(out, key, applyMergePatch(own(out, key), value));
  }
  return out;
}

/**
 * A strategic merge patch for the shapes ate serves: maps merge as in a merge patch; lists are
 * replaced whole (none of ate's kinds has a list merged by key, as core/v1 Pod's containers
 * are); `$setElementOrder/` is ordering only and ignored; `$patch: replace|delete` on a map and
 * `$deleteFromPrimitiveList/` are honoured. Other directives are refused by name.
 */
export function applyStrategicMergePatch(target: Json | undefined, patch: Json, path = ""): Json {
  if (!isObject(patch)) return patch;
  const directive = patch.$patch;
  if (directive !== undefined) {
    const rest = Object.fromEntries(Object.entries(patch).filter(([k]) => k !== "$patch"));
    if (directive === "replace") return applyStrategicMergePatch({}, rest, path);
    if (directive === "delete") return null;
    if (directive !== "merge")
      throw new UnsupportedPatch(
        `strategic merge patch: $patch ${JSON.stringify(directive)} at ${path || "the top"} is not supported: use replace, delete or merge`,
      );
  }
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key.startsWith("$setElementOrder/")) continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const gone = new Set((Array.isArray(value) ? value : []).map((v) => JSON.stringify(v)));
      const list = own(out, field);
      if (Array.isArray(list))
        put(
          out,
          field,
          list.filter((v) => !gone.has(JSON.stringify(v))),
        );
      continue;
    }
    if (key.startsWith("$"))
      throw new UnsupportedPatch(
        `strategic merge patch: directive ${JSON.stringify(key)} at ${path || "the top"} is not supported by ate: send a JSON merge patch (application/merge-patch+json)`,
      );
    const merged =
      value === null ? null : applyStrategicMergePatch(own(out, key), value, `${path}.${key}`);
    if (merged === null) delete out[key];
    else put(out, key, merged);
  }
  return out;
}

/** The patch function for a request's content type, or a 415 naming what ate takes. */
function patcherFor(contentType: string | undefined): (t: Json, p: Json) => Json {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === mergePatch) return applyMergePatch;
  if (type === strategicPatch) return (t, p) => applyStrategicMergePatch(t, p);
  if (type === "application/apply-patch+yaml")
    throw new UnsupportedPatch(
      "server-side apply is not supported by ate: run kubectl apply without --server-side (client-side apply keeps its last-applied annotation)",
    );
  throw new UnsupportedPatch(
    `PATCH content-type ${JSON.stringify(type ?? "")} is not supported: send ${mergePatch} or ${strategicPatch} (kubectl patch --type merge|strategic)`,
  );
}

/** Conflicts retried when the patch names no resourceVersion (the API server does the same). */
const maxAttempts = 5;

/**
 * Applies a PATCH to `namespace/name`: reads the object, patches it, and updates it at the
 * version it was read, again on a conflict unless the patch itself named a resourceVersion.
 */
export async function patchResource(
  store: ResourceStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  req: Req,
  o: { dryRun: boolean; status: boolean },
): Promise<Resource> {
  const patcher = patcherFor(req.headers["content-type"]);
  const patch = (await readJsonBody(req)) as Json;
  if (!isObject(patch))
    throw new AteError(Code.InvalidArgument, "PATCH body is not a JSON object: send a patch");
  const pinned = isObject(patch.metadata) && patch.metadata.resourceVersion !== undefined;
  for (let attempt = 1; ; attempt++) {
    const current = await store.get(type, namespace, name);
    const patched = patcher(current as unknown as Json, patch) as unknown as Resource;
    if (!isObject(patched as unknown) || !isObject(patched.metadata as unknown))
      throw new AteError(Code.InvalidArgument, "the patch removes the object or its metadata");
    // What the object is and where it lives stay as they are: a changed kind would be stored
    // under this kind's key (a Secret that reads as a Namespace).
    const fixed = [
      ["apiVersion", current.apiVersion, patched.apiVersion],
      ["kind", current.kind, patched.kind],
      ["metadata.name", current.metadata.name, patched.metadata.name],
      ["metadata.namespace", current.metadata.namespace, patched.metadata.namespace],
    ] as const;
    for (const [field, before, after] of fixed)
      if (after !== before)
        throw new AteError(
          Code.InvalidArgument,
          `${field}: the patch changes it from ${JSON.stringify(before ?? "")} to ${JSON.stringify(after ?? "").slice(0, 100)}: an object's ${field.replace("metadata.", "")} cannot be changed`,
        );
    if (!pinned) patched.metadata.resourceVersion = current.metadata.resourceVersion as string;
    try {
      if (o.status) return await store.updateStatus(type, patched);
      return await store.update(type, patched, { dryRun: o.dryRun });
    } catch (err) {
      if (pinned || attempt >= maxAttempts || !isAteError(err, Code.Aborted)) throw err;
    }
  }
}

import { GROUP, type ResourceType, VERSION } from "../api/schema/index.ts";
import { typeForName } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";

/** ate's own kinds: `/apis/ate.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME[/status]]`. */
export const apiPrefix = `/apis/${GROUP}/${VERSION}/`;
/** The Kubernetes core kinds ate serves: `/api/v1/namespaces[/NAME]`, `/api/v1/[namespaces/NS/]secrets[/NAME]`. */
export const coreApiPrefix = "/api/v1/";

/** What a REST path names. `namespace` is absent for cluster-scoped kinds and all-namespace lists. */
export interface ResourcePath {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}

/** Whether the path is one of the resource APIs' (ate.dev or core). */
export function isResourcePath(pathname: string): boolean {
  return pathname.startsWith(apiPrefix) || pathname.startsWith(coreApiPrefix);
}

/**
 * Parses a resource path of either API. In the core group `namespaces/NAME` is the Namespace
 * itself (and `namespaces/NAME/status` its status), `namespaces/NS/secrets/...` a namespaced
 * kind in it; a kind is looked up only in the group its prefix names.
 */
export function parseResourcePath(pathname: string, segments: string[]): ResourcePath {
  const core = pathname.startsWith(coreApiPrefix);
  const parts = [...segments];
  let namespace: string | undefined;
  const namespaceItself =
    core && (parts.length <= 2 || (parts.length === 3 && parts[2] === "status"));
  if (parts[0] === "namespaces" && !namespaceItself) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [plural, name, sub] = parts;
  if (!plural || parts.length > 3 || (sub && sub !== "status"))
    throw new AteError(Code.NotFound, `no route for ${pathname}`);
  const type = typeForName(plural, core ? "" : GROUP);
  if (type.scope === "Cluster" && namespace !== undefined)
    throw new AteError(
      Code.NotFound,
      `no route for ${pathname}: ${type.plural} are cluster-scoped, not in a namespace`,
    );
  return { type, namespace, name, sub };
}

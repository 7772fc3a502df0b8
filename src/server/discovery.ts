// Kubernetes API discovery, so that kubectl (and any client-go program) can find ate's kinds:
// /api and /api/v1 for the core group (v1 Namespace, Secret), /apis and /apis/<group>/<version>
// for ate.dev/v1alpha1. Every list is computed from the resource registry, so a kind added
// there is discovered without touching this file.
import { GROUP, groupOf, type ResourceType, VERSION } from "../api/schema/index.ts";
import { resourceTypes } from "../api/v1alpha1/index.ts";
import { ateVersion } from "../version.ts";
import { rbacGroup, rbacKinds } from "./rbac-routes.ts";

/** A kind's API group and version: ate.dev/v1alpha1 unless the registry says otherwise. */
function groupVersionOf(rt: ResourceType): { group: string; version: string } {
  return { group: groupOf(rt), version: rt.version ?? VERSION };
}

/** Writes are refused to non-admins by src/auth; discovery lists what the API serves. */
const verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

/**
 * kubectl's `kubectl get ate` lists every kind of a category; ate's kinds share one. A kind
 * may declare its own in the registry (`categories`).
 */
function categoriesOf(rt: ResourceType): string[] {
  const declared = (rt as ResourceType & { categories?: string[] }).categories;
  if (declared) return declared;
  return groupVersionOf(rt).group === GROUP ? ["ate"] : [];
}

function typesIn(group: string, version: string): ResourceType[] {
  return resourceTypes.filter((rt) => {
    const gv = groupVersionOf(rt);
    return gv.group === group && gv.version === version;
  });
}

/** The groups (other than core) and their versions, in registry order. */
function groups(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const rt of resourceTypes) {
    const { group, version } = groupVersionOf(rt);
    if (!group) continue;
    const versions = found.get(group) ?? [];
    if (!versions.includes(version)) versions.push(version);
    found.set(group, versions);
  }
  // ate.dev is always served, even before any of its kinds are.
  if (!found.has(GROUP)) found.set(GROUP, [VERSION]);
  found.set(rbacGroup, ["v1"]);
  return found;
}

/** meta/v1 APIResourceList of one group version: each kind and its subresources. */
function resourceList(group: string, version: string): Record<string, unknown> {
  const resources: Record<string, unknown>[] = [];
  // Accepted and not stored (rbac-routes.ts): listed so that kubectl sends them.
  if (group === rbacGroup)
    for (const k of rbacKinds)
      resources.push({
        name: k.plural,
        singularName: k.singular,
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ["create", "delete", "get", "list", "watch"],
      });
  for (const rt of typesIn(group, version)) {
    const namespaced = rt.scope === "Namespaced";
    resources.push({
      name: rt.plural,
      singularName: rt.singular,
      namespaced,
      kind: rt.kind,
      verbs,
      ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
      ...(categoriesOf(rt).length ? { categories: categoriesOf(rt) } : {}),
    });
    if (rt.status)
      resources.push({
        name: `${rt.plural}/status`,
        singularName: "",
        namespaced,
        kind: rt.kind,
        verbs: ["get", "patch", "update"],
      });
    // The scale subresource is not served yet (kubectl scale): not listed, so not sent.
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

function apiGroupList(): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups()].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

/**
 * /version as Kubernetes answers it (version.Info), with ate's own `version` beside: kubectl
 * reads gitVersion, ate's CLI reads version.
 */
export function versionInfo(): Record<string, string> {
  const [major = "0", minor = "0"] = ateVersion.split(".");
  return {
    version: ateVersion,
    major,
    minor,
    gitVersion: `v${ateVersion}`,
    gitCommit: "",
    gitTreeState: "",
    buildDate: "",
    goVersion: "",
    compiler: "node",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

/**
 * The discovery document at `pathname`, or undefined when the path is not a discovery path.
 * A group version that ate does not serve is undefined too (the caller's 404).
 */
export function discoveryDocument(pathname: string): Record<string, unknown> | undefined {
  const path = pathname.replace(/\/+$/, "");
  if (path === "/api") {
    const core = typesIn("", "v1").length ? ["v1"] : [];
    return {
      kind: "APIVersions",
      versions: core,
      // client-go reads this list; one entry naming no address is what a proxy-free server says.
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "" }],
    };
  }
  if (path === "/apis") return apiGroupList();
  const core = path.match(/^\/api\/([^/]+)$/);
  if (core) return core[1] === "v1" ? resourceList("", "v1") : undefined;
  const named = path.match(/^\/apis\/([^/]+)(?:\/([^/]+))?$/);
  if (!named) return undefined;
  const [, group, version] = named as unknown as [string, string, string | undefined];
  const versions = groups().get(group);
  if (!versions) return undefined;
  if (!version)
    return {
      kind: "APIGroup",
      apiVersion: "v1",
      name: group,
      versions: versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${group}/${versions[0]}`, version: versions[0] },
    };
  return versions.includes(version) ? resourceList(group, version) : undefined;
}

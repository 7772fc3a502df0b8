import { AteError, Code } from "../../errors/index.ts";
import { API_VERSION, apiVersionOf, groupOf, type ResourceType } from "../schema/resource-type.ts";
import { NamespaceType } from "../v1/namespace.ts";
import { SecretType } from "../v1/secret.ts";
import { ActorTemplateType } from "./actortemplate.ts";
import { SandboxConfigType } from "./sandboxconfig.ts";
import { WorkerPoolType } from "./workerpool.ts";

/**
 * Every kind ate serves, in the order they depend on each other (so also the order `ate
 * apply` writes them in): the Kubernetes core kinds it serves (v1 Namespace, Secret), then
 * ate.dev/v1alpha1's. Each type says its group and version (absent: ate.dev/v1alpha1).
 */
export const resourceTypes: readonly ResourceType[] = [
  NamespaceType as ResourceType,
  SecretType,
  SandboxConfigType as ResourceType,
  WorkerPoolType as ResourceType,
  ActorTemplateType as ResourceType,
];

const served = resourceTypes.map((rt) => `${rt.kind} (${apiVersionOf(rt)})`).join(", ");

/** The type of a decoded document, checking apiVersion and kind like a strict decoder. */
export function typeForObject(apiVersion: unknown, kind: unknown): ResourceType {
  if (typeof kind !== "string" || kind === "") {
    throw new AteError(
      Code.InvalidArgument,
      `Object 'Kind' is missing: every document needs \`kind\` (one of: ${resourceTypes.map((t) => t.kind).join(", ")})`,
    );
  }
  if (typeof apiVersion !== "string" || apiVersion === "") {
    const rt = resourceTypes.find((t) => t.kind === kind);
    throw new AteError(
      Code.InvalidArgument,
      `Object 'apiVersion' is missing in kind ${kind}: set apiVersion: ${rt ? apiVersionOf(rt) : API_VERSION}`,
    );
  }
  const rt = resourceTypes.find((t) => t.kind === kind && apiVersionOf(t) === apiVersion);
  if (!rt) {
    throw new AteError(
      Code.InvalidArgument,
      `no matches for kind "${kind}" in version "${apiVersion}": ate serves ${served}`,
    );
  }
  return rt;
}

/**
 * Resolves what a user typed (`sandboxconfigs`, `SandboxConfig`, `workerpool.ate.dev`, `ns`,
 * `secrets`, ...). `group`: only kinds of that API group ("" the core group), as a REST path
 * names them.
 */
export function typeForName(name: string, group?: string): ResourceType {
  const lower = name.toLowerCase();
  const dot = lower.indexOf(".");
  // `workerpool.ate.dev`: the kind's name, then its group.
  const [wanted, named] =
    dot > 0 ? [lower.slice(0, dot), lower.slice(dot + 1)] : [lower, undefined];
  const rt = resourceTypes.find(
    (t) =>
      (group === undefined || groupOf(t) === group) &&
      (named === undefined || groupOf(t) === named) &&
      (t.plural === wanted ||
        t.singular === wanted ||
        t.kind.toLowerCase() === wanted ||
        t.shortNames.includes(wanted)),
  );
  if (!rt) {
    const known = resourceTypes.filter((t) => group === undefined || groupOf(t) === group);
    throw new AteError(
      Code.InvalidArgument,
      `the server doesn't have a resource type "${name}": known types are ${known.map((t) => t.plural).join(", ")}`,
    );
  }
  return rt;
}

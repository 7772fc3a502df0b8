import { AteError, Code } from "../../errors/index.ts";
import { API_VERSION, GROUP, type ResourceType } from "../schema/resource-type.ts";
import { ActorTemplateType } from "./actortemplate.ts";
import { SandboxConfigType } from "./sandboxconfig.ts";
import { WorkerPoolType } from "./workerpool.ts";

/** Every kind of `ate.dev/v1alpha1`, in the order they depend on each other. */
export const resourceTypes: readonly ResourceType[] = [
  SandboxConfigType as ResourceType,
  WorkerPoolType as ResourceType,
  ActorTemplateType as ResourceType,
];

const kinds = resourceTypes.map((rt) => rt.kind).join(", ");

/** The type of a decoded document, checking apiVersion and kind like a strict decoder. */
export function typeForObject(apiVersion: unknown, kind: unknown): ResourceType {
  if (typeof kind !== "string" || kind === "") {
    throw new AteError(
      Code.InvalidArgument,
      `Object 'Kind' is missing: every document needs \`kind\` (one of: ${kinds})`,
    );
  }
  if (typeof apiVersion !== "string" || apiVersion === "") {
    throw new AteError(
      Code.InvalidArgument,
      `Object 'apiVersion' is missing in kind ${kind}: set apiVersion: ${API_VERSION}`,
    );
  }
  const rt = resourceTypes.find((t) => t.kind === kind);
  if (apiVersion !== API_VERSION || !rt) {
    throw new AteError(
      Code.InvalidArgument,
      `no matches for kind "${kind}" in version "${apiVersion}": ate serves ${API_VERSION} kinds ${kinds}`,
    );
  }
  return rt;
}

/** Resolves what a user typed (`sandboxconfigs`, `SandboxConfig`, `workerpool.ate.dev`, ...). */
export function typeForName(name: string): ResourceType {
  const wanted = name.toLowerCase().replace(new RegExp(`\\.${GROUP.replace(".", "\\.")}$`), "");
  const rt = resourceTypes.find(
    (t) =>
      t.plural === wanted ||
      t.singular === wanted ||
      t.kind.toLowerCase() === wanted ||
      t.shortNames.includes(wanted),
  );
  if (!rt) {
    throw new AteError(
      Code.InvalidArgument,
      `the server doesn't have a resource type "${name}": known types are ${resourceTypes.map((t) => t.plural).join(", ")}`,
    );
  }
  return rt;
}

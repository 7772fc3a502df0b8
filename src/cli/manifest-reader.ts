import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { type CST, Parser, parseAllDocuments } from "yaml";
import type { Resource, ResourceType } from "../api/schema/index.ts";
import { typeForObject } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";

export interface ManifestDocument {
  /** Where it came from, for messages: `file.yaml` or `file.yaml (document 2)`. */
  source: string;
  type: ResourceType;
  object: Resource;
}

const manifestExtensions = new Set([".yaml", ".yml", ".json"]);

/** Deepest nesting a manifest may have: far beyond any resource, far below a stack overflow. */
export const maxManifestDepth = 64;

/** The files `-f` names: a file, every manifest in a directory (sorted), or `-` for stdin. */
export function manifestFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (path === "-") {
      files.push(path);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw new AteError(Code.NotFound, `the path "${path}" does not exist`);
    }
    if (!isDir) files.push(path);
    else {
      const entries = readdirSync(path)
        .filter((f) => manifestExtensions.has(extname(f)))
        .sort();
      if (entries.length === 0)
        throw new AteError(
          Code.InvalidArgument,
          `no manifests (*.yaml, *.yml, *.json) in directory "${path}"`,
        );
      files.push(...entries.map((f) => join(path, f)));
    }
  }
  return files;
}

/**
 * Reads and decodes every document of the named files (multi-document YAML; JSON is YAML
 * too). All of it is decoded before anything is written, so a malformed document anywhere
 * fails the whole command and stores nothing.
 */
export function readManifests(
  paths: readonly string[],
  stdin: () => string = () => readFileSync(0, "utf8"),
  skipped: string[] = [],
): ManifestDocument[] {
  const docs: ManifestDocument[] = [];
  for (const file of manifestFiles(paths)) {
    const text = file === "-" ? stdin() : readFileSync(file, "utf8");
    docs.push(...decodeManifests(text, file === "-" ? "STDIN" : file, skipped));
  }
  return docs;
}

/**
 * The API group of Kubernetes RBAC. Manifests written for Agent Substrate carry Roles and
 * RoleBindings beside their ate.dev documents; ate has no use for them (its API tokens, scoped
 * to atespaces, are its access rules), so they are read, named in `skipped`, and not sent.
 */
const rbacGroup = "rbac.authorization.k8s.io";
const rbacKinds = new Set(["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);

function rbacSkip(object: Record<string, unknown>): string | undefined {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== "string" || !apiVersion.startsWith(`${rbacGroup}/`)) return undefined;
  if (typeof kind !== "string" || !rbacKinds.has(kind)) return undefined;
  const meta = object.metadata as { name?: unknown } | undefined;
  const name = typeof meta?.name === "string" ? meta.name : "";
  return `${kind.toLowerCase()}.${rbacGroup}/${name} skipped: ate enforces its own access rules (API tokens scoped to atespaces), not Kubernetes RBAC`;
}

/** `skipped` gets a line for each document read but not meant for ate (see rbacSkip). */
export function decodeManifests(
  text: string,
  file: string,
  skipped: string[] = [],
): ManifestDocument[] {
  checkDepth(text, file, maxManifestDepth);
  // YAML 1.1, as sigs.k8s.io/yaml reads manifests (so `yes` is a boolean, as kubectl users expect).
  const parsed = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, version: "1.1" });
  const all = Array.isArray(parsed) ? parsed : [parsed];
  const docs: ManifestDocument[] = [];
  all.forEach((doc, i) => {
    const source = all.length > 1 ? `${file} (document ${i + 1})` : file;
    const problem = doc.errors[0];
    if (problem) {
      throw new AteError(
        Code.InvalidArgument,
        `error parsing ${source}: ${(problem.message.split("\n")[0] ?? "").replace(/:$/, "")}: fix the YAML and apply again`,
      );
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
    for (const object of expandLists(value, source)) {
      const skip = rbacSkip(object);
      if (skip) {
        skipped.push(skip);
        continue;
      }
      docs.push({
        source,
        type: decodeType(object, source),
        object: object as unknown as Resource,
      });
    }
  });
  return docs;
}

/**
 * Refuses YAML (or JSON) nested deeper than `max`, measured on the parser's syntax tree without
 * recursion, before anything builds values from it.
 */
function checkDepth(text: string, file: string, max: number): void {
  const stack: [CST.Token | undefined, number][] = [];
  for (const token of new Parser().parse(text)) stack.push([token, 0]);
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [token, depth] = next;
    if (!token) continue;
    if (token.type === "document") stack.push([token.value, depth]);
    else if (
      token.type === "block-map" ||
      token.type === "block-seq" ||
      token.type === "flow-collection"
    ) {
      if (depth + 1 > max)
        throw new AteError(
          Code.InvalidArgument,
          `error parsing ${file}: it nests deeper than ${max} levels: flatten it`,
        );
      for (const item of token.items) {
        if ("key" in item) stack.push([item.key ?? undefined, depth + 1]);
        stack.push([item.value, depth + 1]);
      }
    }
  }
}

function expandLists(value: unknown, source: string): Record<string, unknown>[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AteError(
      Code.InvalidArgument,
      `error decoding ${source}: a manifest must be an object with apiVersion, kind, metadata and spec`,
    );
  }
  const obj = value as Record<string, unknown>;
  if (obj.kind === "List" && Array.isArray(obj.items))
    return obj.items.flatMap((item) => expandLists(item, source));
  return [obj];
}

function decodeType(object: Record<string, unknown>, source: string): ResourceType {
  try {
    return typeForObject(object.apiVersion, object.kind);
  } catch (err) {
    throw new AteError(Code.InvalidArgument, `error decoding ${source}: ${(err as Error).message}`);
  }
}

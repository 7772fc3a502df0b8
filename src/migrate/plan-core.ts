import type { Resource, ResourceType } from "../api/schema/index.ts";
import { defaultNamespace, NamespaceType, SecretType } from "../api/v1/index.ts";
import type { UpState } from "./source.ts";

/** A resource as it goes to the cluster: metadata, spec and (templates) the status to keep. */
export interface PlannedResource {
  type: ResourceType;
  object: Resource;
  status?: unknown;
  what: string;
}

/**
 * The namespaces and Secrets of ate up, planned before anything that lives in them: the
 * cluster refuses an object in a namespace it has not declared. A namespace is declared if ate
 * up declared it or if anything of it lives there (a store from before ate served Namespaces);
 * `default` always exists in the cluster.
 */
export function namespacesAndSecrets(state: UpState): PlannedResource[] {
  const declared = new Map(state.namespaces.map((n) => [n.metadata.name, n]));
  const used = [...state.pools, ...state.templates, ...state.secrets].map(
    (r) => r.metadata.namespace ?? defaultNamespace,
  );
  const names = [...new Set([...declared.keys(), ...used])]
    .filter((n) => n !== defaultNamespace)
    .sort();
  const planned: PlannedResource[] = names.map((name) => {
    const labels = declared.get(name)?.metadata.labels;
    const annotations = declared.get(name)?.metadata.annotations;
    return {
      type: NamespaceType as ResourceType,
      object: {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
        spec: {},
      },
      what: `Namespace ${name}`,
    };
  });
  for (const s of state.secrets) {
    const { apiVersion, kind, metadata: m, status: _s, ...content } = s as Resource;
    planned.push({
      type: SecretType as unknown as ResourceType,
      object: {
        apiVersion,
        kind,
        metadata: {
          name: m.name,
          namespace: m.namespace ?? defaultNamespace,
          ...(m.labels ? { labels: m.labels } : {}),
          ...(m.annotations ? { annotations: m.annotations } : {}),
        },
        ...content,
      } as Resource,
      // Never the values: this line is printed.
      what: `Secret ${m.namespace ?? defaultNamespace}/${m.name}`,
    });
  }
  return planned;
}

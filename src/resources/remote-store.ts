import { apiPathOf, type Resource, type ResourceType } from "../api/schema/index.ts";
import { AteError, Code, fromErrorBody, serverUnreachable } from "../errors/index.ts";
import type {
  ListOptions,
  ResourceList,
  ResourceStore,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from "./store.ts";

/** The resource store of an ate server, over its REST API: what the CLI uses against `ate up`. */
export class RemoteResourceStore implements ResourceStore {
  private readonly auth: Record<string, string>;

  /** `token`: the bearer token sent with every request. */
  constructor(
    private readonly server: string,
    options: { token?: string } = {},
  ) {
    this.auth = options.token ? { authorization: `Bearer ${options.token}` } : {};
  }

  private path(
    type: ResourceType,
    namespace: string | undefined,
    name?: string,
    sub?: string,
  ): string {
    const ns =
      type.scope === "Namespaced" && namespace !== undefined
        ? `namespaces/${encodeURIComponent(namespace)}/`
        : "";
    return `${this.server.replace(/\/+$/, "")}${apiPathOf(type)}/${ns}${type.plural}${name ? `/${encodeURIComponent(name)}` : ""}${sub ? `/${sub}` : ""}`;
  }

  private async call<T>(
    method: string,
    url: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          ...this.auth,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw serverUnreachable(this.server);
    }
    const text = await res.text();
    if (!res.ok) throw fromErrorBody(res.status, text);
    return JSON.parse(text) as T;
  }

  get<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
  ): Promise<Resource<Spec, Status>> {
    return this.call("GET", this.path(type, namespace ?? "default", name));
  }

  async list<Spec, Status>(
    type: ResourceType<Spec, Status>,
    options: ListOptions = {},
  ): Promise<ResourceList<Resource<Spec, Status>>> {
    const q = options.labelSelector
      ? `?labelSelector=${encodeURIComponent(options.labelSelector)}`
      : "";
    const list = await this.call<{
      items: Resource<Spec, Status>[];
      metadata: { resourceVersion: string };
    }>("GET", this.path(type, options.namespace) + q);
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  create<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
    options: WriteOptions = {},
  ): Promise<Resource<Spec, Status>> {
    return this.call(
      "POST",
      this.path(type, object.metadata?.namespace ?? "default") +
        (options.dryRun ? "?dryRun=All" : ""),
      object,
    );
  }

  update<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
    options: WriteOptions = {},
  ): Promise<Resource<Spec, Status>> {
    return this.call(
      "PUT",
      this.path(type, object.metadata?.namespace ?? "default", object.metadata?.name) +
        (options.dryRun ? "?dryRun=All" : ""),
      object,
    );
  }

  updateStatus<Spec, Status>(
    type: ResourceType<Spec, Status>,
    object: Resource,
  ): Promise<Resource<Spec, Status>> {
    return this.call(
      "PUT",
      this.path(type, object.metadata?.namespace ?? "default", object.metadata?.name, "status"),
      object,
    );
  }

  delete<Spec, Status>(
    type: ResourceType<Spec, Status>,
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string } = {},
  ): Promise<Resource<Spec, Status>> {
    const q = options.resourceVersion ? `?resourceVersion=${options.resourceVersion}` : "";
    return this.call("DELETE", this.path(type, namespace ?? "default", name) + q);
  }

  async *watch(options: WatchOptions): AsyncIterable<WatchEvent> {
    if (!options.type)
      throw new AteError(Code.InvalidArgument, "watching over the API needs a kind");
    const url = `${this.path(options.type, options.namespace)}?watch=1&resourceVersion=${options.resourceVersion ?? ""}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: this.auth,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch {
      if (options.signal?.aborted) return;
      throw serverUnreachable(this.server);
    }
    if (!res.ok) throw fromErrorBody(res.status, await res.text());
    if (!res.body) throw new AteError(Code.Unavailable, `watch failed: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent;
          nl = buffered.indexOf("\n");
        }
      }
    } catch (err) {
      if (!options.signal?.aborted) throw err;
    }
  }

  async close(): Promise<void> {}
}

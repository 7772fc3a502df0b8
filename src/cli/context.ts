import { openResourceStore, RemoteResourceStore, type ResourceStore } from "../resources/index.ts";
import type { CliIO } from "./io.ts";

export interface GlobalOptions {
  home?: string;
  store?: string;
  server?: string;
}

/** What every command gets: its IO and a lazily opened client. */
export class CliContext {
  private client?: ResourceStore;

  constructor(
    readonly io: CliIO,
    private readonly global: () => GlobalOptions,
  ) {}

  /** The resource client: the ate server's API when one is named (--server, $ATE_SERVER), else the local store. */
  resources(): ResourceStore {
    if (!this.client) {
      const { home, store, server } = this.global();
      const url = server ?? process.env.ATE_SERVER;
      this.client = url
        ? new RemoteResourceStore(url)
        : openResourceStore({ ...(home ? { home } : {}), ...(store ? { url: store } : {}) });
    }
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

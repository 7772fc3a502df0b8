import { openResourceStore, type ResourceStore } from "../resources/index.ts";
import type { CliIO } from "./io.ts";

export interface GlobalOptions {
  home?: string;
  store?: string;
}

/** What every command gets: its IO and a lazily opened client. */
export class CliContext {
  private client?: ResourceStore;

  constructor(
    readonly io: CliIO,
    private readonly global: () => GlobalOptions,
  ) {}

  /** The resource client; today the local store (the server's API joins it in a later issue). */
  resources(): ResourceStore {
    if (!this.client) {
      const { home, store } = this.global();
      this.client = openResourceStore({
        ...(home ? { home } : {}),
        ...(store ? { url: store } : {}),
      });
    }
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

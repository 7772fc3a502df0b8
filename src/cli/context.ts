import { openResourceStore, RemoteResourceStore, type ResourceStore } from "../resources/index.ts";
import { type ControlClient, controlClient } from "./control-client.ts";
import { resolveServer } from "./endpoint.ts";
import type { CliIO } from "./io.ts";

export interface GlobalOptions {
  home?: string;
  store?: string;
  server?: string;
}

/** What every command gets: its IO and lazily opened clients. */
export class CliContext {
  private client?: ResourceStore;
  private control?: ControlClient;

  constructor(
    readonly io: CliIO,
    private readonly global: () => GlobalOptions,
  ) {}

  /** The API endpoint: --server, $ATE_SERVER, the config file, else the local `ate up`. */
  server(): string {
    return resolveServer(this.global().server);
  }

  /**
   * The resource client: the local store when one is named (--home, --store, $ATE_HOME) and
   * no server is, else the ate server's API.
   */
  resources(): ResourceStore {
    if (!this.client) {
      const { home, store, server } = this.global();
      const local = !server && !process.env.ATE_SERVER && (home || store || process.env.ATE_HOME);
      this.client = local
        ? openResourceStore({ ...(home ? { home } : {}), ...(store ? { url: store } : {}) })
        : new RemoteResourceStore(this.server());
    }
    return this.client;
  }

  /** The Control API (actors, workers, atespaces) of the ate server. */
  controlApi(): ControlClient {
    this.control ??= controlClient(this.server());
    return this.control;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

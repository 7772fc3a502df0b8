import { AteError, Code, isAteError } from "../errors/index.ts";
import { Role } from "../proto/gen/ateapi/admin_pb.ts";
import { openResourceStore, RemoteResourceStore, type ResourceStore } from "../resources/index.ts";
import {
  type AdminClient,
  adminClient,
  type ControlClient,
  controlClient,
} from "./control-client.ts";
import { type Credential, configPath, resolveCredential, resolveServer } from "./endpoint.ts";
import type { CliIO } from "./io.ts";

export interface GlobalOptions {
  home?: string;
  store?: string;
  server?: string;
  token?: string;
}

/** What every command gets: its IO and lazily opened clients. */
export class CliContext {
  private client?: ResourceStore;
  private control?: ControlClient;
  private admin?: AdminClient;
  private ownAtespace?: Promise<string>;

  constructor(
    readonly io: CliIO,
    private readonly global: () => GlobalOptions,
  ) {}

  /** The API endpoint: --server, $ATE_SERVER, the config file, else the local `ate up`. */
  server(): string {
    return resolveServer(this.global().server);
  }

  /** The bearer token for the server: --token, $ATE_TOKEN, else the config file's. */
  credential(): Credential | undefined {
    return resolveCredential(this.server(), this.global().token);
  }

  /** The token's text, if there is one. */
  token(): string | undefined {
    return this.credential()?.token;
  }

  /**
   * The resource client: the local store when one is named (--home, --store, $ATE_HOME) and
   * no server is, else the ate server's API.
   */
  resources(): ResourceStore {
    if (!this.client) {
      const { home, store, server } = this.global();
      const local = !server && !process.env.ATE_SERVER && (home || store || process.env.ATE_HOME);
      if (local)
        this.client = openResourceStore({
          ...(home ? { home } : {}),
          ...(store ? { url: store } : {}),
        });
      else {
        const token = this.token();
        this.client = new RemoteResourceStore(this.server(), token ? { token } : {});
      }
    }
    return this.client;
  }

  /** The Control API (actors, workers, atespaces) of the ate server. */
  controlApi(): ControlClient {
    this.control ??= controlClient(this.server(), this.token());
    return this.control;
  }

  /** The Admin API (tokens) of the ate server. */
  adminApi(): AdminClient {
    this.admin ??= adminClient(this.server(), this.token());
    return this.admin;
  }

  /**
   * The atespace a command works in: -a when given, else a tenant token's own atespace (asked
   * of the server), else "default".
   */
  atespace(flag: string | undefined): Promise<string> {
    if (flag) return Promise.resolve(flag);
    if (!this.token()) return Promise.resolve("default");
    this.ownAtespace ??= this.adminApi()
      .whoAmI({})
      .then(
        ({ token }) => (token?.role === Role.TENANT && token.atespace ? token.atespace : "default"),
        (err) => {
          // A server without the Admin API knows no tenants.
          if (isAteError(err, Code.Unimplemented)) return "default";
          throw err;
        },
      );
    return this.ownAtespace;
  }

  /**
   * The one-line error for a call the server refused for want of a valid token: what was
   * sent, and how to get a token.
   */
  unauthenticated(e: AteError): AteError {
    let server = "";
    let source: string | undefined;
    try {
      server = this.server();
      source = this.credential()?.source;
    } catch {
      // the configuration's own error was reported already
    }
    const sent = source ? `the token from ${source} was refused` : "no token was sent";
    return new AteError(
      Code.Unauthenticated,
      `no valid token for the ate API at ${server} (${sent}: ${e.message.replace(/: ask an admin.*$/, "")}): run ate as the user that ran ate up (it wrote its token to ${configPath()}), or pass --token / ATE_TOKEN`,
    );
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

import { AteError, Code, isAteError } from "../errors/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { cachedAtespace, rememberAtespace } from "./atespace-cache.ts";
import type { AdminClient, ControlClient } from "./control-client.ts";
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
  private client?: Promise<ResourceStore>;
  private control?: Promise<ControlClient>;
  private admin?: Promise<AdminClient>;
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
   * no server is, else the ate server's API. Loaded on first use: the stores bring SQLite
   * and Redis clients that commands on records (`ate get actors`) never need.
   */
  resources(): Promise<ResourceStore> {
    this.client ??= (async () => {
      const { home, store, server } = this.global();
      const local = !server && !process.env.ATE_SERVER && (home || store || process.env.ATE_HOME);
      // Computed before the import, so a bad --server or config file fails as it did.
      const remote = local ? undefined : { server: this.server(), token: this.token() };
      const { ensureDefaultNamespace, openResourceStore, RemoteResourceStore } = await import(
        "../resources/index.ts"
      );
      if (!remote) {
        const opened = openResourceStore({
          ...(home ? { home } : {}),
          ...(store ? { url: store } : {}),
        });
        // As a server does at start: `default` always exists. A store this user cannot write
        // still serves reads; its own error says why at the first write.
        await ensureDefaultNamespace(opened).catch(() => {});
        return opened;
      }
      return new RemoteResourceStore(remote.server, remote.token ? { token: remote.token } : {});
    })();
    return this.client;
  }

  /**
   * The Control API (actors, workers, atespaces) of the ate server. Its client and the API's
   * descriptors load on first use: commands that make no call (version) skip them. The client
   * is the SDK's (src/sdk/unary-client.ts): it answers as control-client.ts's without loading
   * Connect.
   */
  controlApi(): Promise<ControlClient> {
    this.control ??= (async () => {
      const [server, token] = [this.server(), this.token()];
      const [{ unaryClient }, { Control }] = await Promise.all([
        import("../sdk/unary-client.ts"),
        import("../proto/gen/ateapi/control_pb.ts"),
      ]);
      return unaryClient(Control, server, token);
    })();
    return this.control;
  }

  /** The Admin API (tokens) of the ate server; loaded on first use, as controlApi. */
  adminApi(): Promise<AdminClient> {
    this.admin ??= (async () => {
      const [server, token] = [this.server(), this.token()];
      const [{ unaryClient }, { Admin }] = await Promise.all([
        import("../sdk/unary-client.ts"),
        import("../proto/gen/ateapi/admin_pb.ts"),
      ]);
      return unaryClient(Admin, server, token);
    })();
    return this.admin;
  }

  /**
   * The atespace a command works in: -a when given, else a tenant token's own atespace (asked
   * of the server), else "default".
   */
  atespace(flag: string | undefined): Promise<string> {
    if (flag) return Promise.resolve(flag);
    const token = this.token();
    if (!token) return Promise.resolve("default");
    this.ownAtespace ??= (async () => {
      const server = this.server();
      const known = cachedAtespace(server, token);
      if (known) return known;
      const [admin, { Role }] = await Promise.all([
        this.adminApi(),
        import("../proto/gen/ateapi/admin_pb.ts"),
      ]);
      try {
        const { token: who } = await admin.whoAmI({});
        const own = who?.role === Role.TENANT && who.atespace ? who.atespace : "default";
        rememberAtespace(server, token, own);
        return own;
      } catch (err) {
        // A server without the Admin API knows no tenants.
        if (isAteError(err, Code.Unimplemented)) return "default";
        throw err;
      }
    })();
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
    // A store that failed to open has nothing to close; its error was reported already.
    await (await this.client?.catch(() => undefined))?.close();
  }
}

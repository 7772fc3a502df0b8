import { AteError, Code } from "../../errors/index.ts";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** Registries reached over plain HTTP; loopback hosts always are. */
  insecureRegistries?: string[];
  /** Credentials by registry host; anonymous otherwise. */
  credentials?: (registry: string) => RegistryCredentials | undefined;
}

/**
 * The OCI distribution protocol's HTTP layer: anonymous or bearer-token auth (the token
 * service named by `WWW-Authenticate`), basic auth when credentials are given.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly options: RegistryClientOptions = {}) {}

  baseUrl(registry: string): string {
    const host = registry.replace(/:\d+$/, "");
    const insecure =
      ["localhost", "127.0.0.1", "[::1]"].includes(host) ||
      host.startsWith("127.") ||
      (this.options.insecureRegistries ?? []).includes(registry);
    return `${insecure ? "http" : "https"}://${registry}`;
  }

  /** A request to `/v2/<repository>/...`, authenticating when the registry asks to. */
  async request(
    registry: string,
    repository: string,
    path: string,
    init: RequestInit & { signal?: AbortSignal } = {},
  ): Promise<Response> {
    const url = `${this.baseUrl(registry)}/v2/${repository}/${path}`;
    const key = `${registry}/${repository}`;
    const send = (auth?: string) =>
      fetch(url, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string>),
          ...(auth ? { authorization: auth } : {}),
        },
      }).catch((err: Error) => {
        throw new AteError(
          Code.Unavailable,
          `registry ${registry} cannot be reached (${url}): ${err.cause ?? err.message}`,
          [],
          { cause: err },
        );
      });
    let res = await send(this.tokens.get(key));
    if (res.status === 401) {
      const challenge = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel();
      const auth = await this.authenticate(registry, repository, challenge, init.signal);
      this.tokens.set(key, auth);
      res = await send(auth);
    }
    return res;
  }

  private async authenticate(
    registry: string,
    repository: string,
    challenge: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const creds = this.options.credentials?.(registry);
    const basic = creds
      ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`
      : undefined;
    const [scheme = "", ...rest] = challenge.split(" ");
    if (scheme.toLowerCase() === "basic") {
      if (basic) return basic;
      throw new AteError(
        Code.Unauthenticated,
        `registry ${registry} requires a username and password for ${repository}`,
      );
    }
    if (scheme.toLowerCase() !== "bearer") {
      throw new AteError(
        Code.Unauthenticated,
        `registry ${registry} refused ${repository} and offered no usable authentication ("${challenge}")`,
      );
    }
    const params = Object.fromEntries(
      [...rest.join(" ").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!params.realm)
      throw new AteError(
        Code.Unauthenticated,
        `registry ${registry}: bearer challenge without a realm`,
      );
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${repository}:pull`);
    const res = await fetch(tokenUrl, {
      headers: basic ? { authorization: basic } : {},
      ...(signal ? { signal } : {}),
    }).catch((err: Error) => {
      throw new AteError(
        Code.Unavailable,
        `token service ${tokenUrl.origin} for ${registry} cannot be reached: ${err.message}`,
      );
    });
    if (!res.ok)
      throw new AteError(
        Code.Unauthenticated,
        `token service for ${registry} refused ${repository}: HTTP ${res.status}`,
      );
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new AteError(Code.Unauthenticated, `token service for ${registry} returned no token`);
    return `Bearer ${token}`;
  }
}

/** Maps a failed registry response to a clear error. */
export async function registryError(res: Response, what: string): Promise<AteError> {
  const text = await res.text().catch(() => "");
  const code =
    res.status === 404
      ? Code.NotFound
      : res.status === 401
        ? Code.Unauthenticated
        : res.status === 403
          ? Code.PermissionDenied
          : Code.Unavailable;
  return new AteError(
    code,
    `${what}: HTTP ${res.status}${text ? `: ${text.slice(0, 200).trim()}` : ""}`,
  );
}

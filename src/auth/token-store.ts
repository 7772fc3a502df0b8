import { isDNS1123Label } from "../api/names/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { type Atespace, type RecordStore, Records } from "../records/index.ts";
import { ActorTokens, maxActorTokenLength } from "./actor-token.ts";
import { type Principal, type Role, roles, type TokenInfo } from "./principal.ts";
import {
  formatToken,
  hashSecret,
  maxTokenLength,
  newSecret,
  parseToken,
  secretMatches,
} from "./token-text.ts";

/** The stored record: the token's description and its secret's sha256. */
interface TokenRecord extends TokenInfo {
  sha256: string;
  version: number;
  /**
   * Tenants: when the atespace they were made for was created. A token is for that atespace,
   * not for whatever later takes its name: deleted and made again, it is someone else's.
   */
  atespaceCreatedAt?: string;
}

export interface NewToken {
  name: string;
  role: Role;
  /** Required for tenants, refused for every other role. */
  atespace?: string;
  /** Lifetime; absent or 0: never expires. */
  ttlMs?: number;
}

/** Longest lifetime a token may be given (ten years), so expiry stays a valid date. */
export const maxTtlMs = 10 * 365 * 24 * 3600 * 1000;

const notValid = () =>
  new AteError(
    Code.Unauthenticated,
    "the bearer token is not valid (unknown, revoked or wrong secret): ask an admin for a token",
  );

/**
 * Bearer tokens as records (kind `token`, keyed by name) in the records store, so every API
 * server over that store sees a revocation at once. Looked up on every request: one get.
 */
export class TokenStore {
  private readonly records: Records;
  /** Actors' own tokens (/run/ate/token), issued by the control plane at each start. */
  readonly actors: ActorTokens;

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock = systemClock,
  ) {
    this.records = new Records(store);
    this.actors = new ActorTokens(store, clock);
  }

  /**
   * Stores a new token and returns it with its text (shown once, never stored). `replace`
   * overwrites a token of that name (the admin credential `ate up` renews).
   */
  async create(
    t: NewToken,
    o: { replace?: boolean } = {},
  ): Promise<{ token: TokenInfo; text: string }> {
    const problems = isDNS1123Label(t.name);
    if (problems.length)
      throw new AteError(
        Code.InvalidArgument,
        `name: Invalid value: ${JSON.stringify(t.name)}: ${problems.join("; ")}`,
      );
    if (!roles.includes(t.role))
      throw new AteError(
        Code.InvalidArgument,
        `role: Unsupported value: ${JSON.stringify(t.role)}: give one of ${roles.join(", ")}`,
      );
    if (t.role !== "tenant" && t.atespace)
      throw new AteError(
        Code.InvalidArgument,
        `atespace: Forbidden: ${t.role === "admin" ? "an admin" : `a ${t.role}`} token is not limited to an atespace; give none`,
      );
    if (t.role === "tenant") {
      const bad = isDNS1123Label(t.atespace ?? "");
      if (!t.atespace) throw new AteError(Code.InvalidArgument, "atespace: Required value");
      if (bad.length)
        throw new AteError(
          Code.InvalidArgument,
          `atespace: Invalid value: ${JSON.stringify(t.atespace)}: ${bad.join("; ")}`,
        );
    }
    const ttl = t.ttlMs ?? 0;
    if (!Number.isFinite(ttl) || ttl < 0 || ttl > maxTtlMs)
      throw new AteError(
        Code.InvalidArgument,
        `ttl: Invalid value: ${ttl / 1000}s: give 0 (never expires) up to ${maxTtlMs / 1000}s (ten years)`,
      );
    const now = this.clock.now();
    const token: TokenInfo = {
      name: t.name,
      role: t.role,
      ...(t.role === "tenant" ? { atespace: t.atespace as string } : {}),
      createdAt: now.toISOString(),
      ...(ttl ? { expiresAt: new Date(now.getTime() + ttl).toISOString() } : {}),
    };
    let space: Atespace | undefined;
    if (t.role === "tenant") {
      space = await this.atespace(t.atespace as string);
      if (!space)
        throw new AteError(
          Code.FailedPrecondition,
          `atespace ${t.atespace} does not exist: create it first (ate create atespace ${t.atespace})`,
        );
    }
    const secret = newSecret();
    const existing = o.replace ? await this.record(t.name) : undefined;
    try {
      await this.store.commit([
        {
          kind: "token",
          key: t.name,
          expectVersion: existing?.version ?? 0,
          value: {
            ...token,
            sha256: hashSecret(secret),
            ...(space ? { atespaceCreatedAt: space.createdAt } : {}),
          },
        },
      ]);
    } catch (err) {
      if (isAteError(err, Code.AlreadyExists))
        throw new AteError(
          Code.AlreadyExists,
          `token ${t.name} already exists: pick another name, or delete it first (ate delete token ${t.name})`,
        );
      throw err;
    }
    return { token, text: formatToken(t.name, secret) };
  }

  async get(name: string): Promise<TokenInfo> {
    const r = await this.record(name);
    if (!r) throw new AteError(Code.NotFound, `token ${name} not found: see ate get tokens`);
    return info(r);
  }

  async list(): Promise<TokenInfo[]> {
    const out: TokenInfo[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list("token", {
        limit: 1000,
        ...(after !== undefined ? { after } : {}),
      });
      out.push(...page.items.map((r) => info(r as unknown as TokenRecord)));
      if (!page.last) return out;
      after = page.last;
    }
  }

  /** Revokes at once: the next request with the token is refused. */
  async delete(name: string): Promise<void> {
    const r = await this.record(name);
    if (!r) throw new AteError(Code.NotFound, `token ${name} not found: see ate get tokens`);
    await this.store.commit([{ kind: "token", key: name, expectVersion: r.version }]);
  }

  /**
   * Who an `authorization` header's bearer token is; UNAUTHENTICATED when there is none, or
   * it is unknown, revoked, wrong or expired, or its tenant's atespace is gone. An actor's own
   * token (`ateact_…`) is checked by ActorTokens: every API edge that authenticates here
   * knows actors too.
   */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization)
      throw new AteError(
        Code.Unauthenticated,
        'this API needs a token: send the header "authorization: Bearer <token>"',
      );
    // Longer than any "Bearer <token>": refused whole, never cut down to something that matches.
    const longest = Math.max(maxTokenLength, maxActorTokenLength);
    const m =
      authorization.length <= longest + 16 ? /^bearer +(\S+) *$/i.exec(authorization) : null;
    if (!m)
      throw new AteError(
        Code.Unauthenticated,
        'the authorization header is not "Bearer <token>": send the header "authorization: Bearer <token>"',
      );
    if ((m[1] as string).startsWith("ateact_")) return this.actors.authenticate(m[1] as string);
    const parsed = parseToken(m[1] as string);
    if (!parsed) throw notValid();
    const r = await this.record(parsed.name);
    // Compared even when there is no such token, so timing tells nothing about names.
    const matches = secretMatches(parsed.secret, r?.sha256 ?? "0".repeat(64));
    // A role this version does not know (a newer writer's) grants nothing.
    if (!r || !matches || !roles.includes(r.role)) throw notValid();
    if (r.expiresAt && Date.parse(r.expiresAt) <= this.clock.now().getTime())
      throw new AteError(
        Code.Unauthenticated,
        `token ${r.name} expired at ${r.expiresAt}: ask an admin for a new one`,
      );
    if (r.role === "tenant") {
      const space = await this.atespace(r.atespace ?? "");
      if (!space || (r.atespaceCreatedAt && space.createdAt !== r.atespaceCreatedAt))
        throw new AteError(
          Code.Unauthenticated,
          `token ${r.name} was made for atespace ${r.atespace}, which has since been deleted: ask an admin for a new token`,
        );
    }
    return info(r);
  }

  /** The atespace record, if there is one (a bad name is none). */
  private async atespace(name: string): Promise<Atespace | undefined> {
    if (isDNS1123Label(name).length) return undefined;
    return this.records.getAtespace(name).catch((err) => {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    });
  }

  private async record(name: string): Promise<TokenRecord | undefined> {
    if (isDNS1123Label(name).length) return undefined;
    return (await this.store.get("token", name)) as TokenRecord | undefined;
  }
}

function info(r: TokenRecord): TokenInfo {
  return {
    name: r.name,
    role: r.role,
    ...(r.atespace ? { atespace: r.atespace } : {}),
    createdAt: r.createdAt,
    ...(r.expiresAt ? { expiresAt: r.expiresAt } : {}),
  };
}

// Tokens (the API's bearer credentials) through the server's Admin API.

import { humanAge } from "../../api/schema/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import { Role, type Token, TokenSchema } from "../../proto/gen/ateapi/admin_pb.ts";
import type { CliContext } from "../context.ts";
import { parseDuration } from "../duration.ts";
import { parseOutputFormat, renderTable } from "../printers.ts";
import { formatRecords } from "../record-printers.ts";

export interface CreateTokenOptions {
  atespace?: string;
  ttl?: string;
  admin?: boolean;
  node?: boolean;
  router?: boolean;
}

const roleNames: Record<Role, string> = {
  [Role.UNSPECIFIED]: "tenant",
  [Role.ADMIN]: "admin",
  [Role.TENANT]: "tenant",
  [Role.NODE]: "node",
  [Role.ROUTER]: "router",
  [Role.ACTOR]: "actor",
};

/** The role the flags ask for: exactly one of --atespace, --admin, --node, --router. */
function roleOf(name: string, opts: CreateTokenOptions): Role {
  const given = [
    opts.atespace !== undefined && "--atespace",
    opts.admin && "--admin",
    opts.node && "--node",
    opts.router && "--router",
  ].filter((f): f is string => Boolean(f));
  if (given.length > 1)
    throw new AteError(
      Code.InvalidArgument,
      `give one of --atespace, --admin, --node or --router, not ${given.join(" and ")}: a token has one role (only a tenant's is limited to an atespace)`,
    );
  if (opts.admin) return Role.ADMIN;
  if (opts.node) return Role.NODE;
  if (opts.router) return Role.ROUTER;
  if (!opts.atespace)
    throw new AteError(
      Code.InvalidArgument,
      `ate create token ${name}: --atespace NAME is required (the one atespace the token may use), or --admin, --node or --router`,
    );
  return Role.TENANT;
}

/**
 * `ate create token NAME --atespace A [--ttl 24h]` (or `--admin`, `--node`, `--router`):
 * prints the token's text on stdout, once (so `T=$(ate create token …)` captures it); what it
 * is goes to stderr.
 */
export async function createToken(
  ctx: CliContext,
  name: string,
  opts: CreateTokenOptions,
): Promise<void> {
  const role = roleOf(name, opts);
  const ttlMs = opts.ttl !== undefined ? parseDuration(opts.ttl, "--ttl") : 0;
  // 0 is how the API says "never expires": a --ttl of nothing must not come to mean that.
  if (opts.ttl !== undefined && ttlMs === 0)
    throw new AteError(
      Code.InvalidArgument,
      `--ttl ${JSON.stringify(opts.ttl)}: a token must live longer than 0s; leave --ttl out for one that never expires`,
    );
  const { token, secret } = await (await ctx.adminApi()).createToken({
    name,
    role,
    atespace: opts.atespace ?? "",
    // Past what int64 holds, the server's own limit (ten years) is what the user hears.
    ttlSeconds: BigInt(Math.min(Math.ceil(ttlMs / 1000), Number.MAX_SAFE_INTEGER)),
  });
  ctx.io.out(secret);
  const what = role === Role.TENANT ? `tenant of atespace ${token?.atespace}` : roleNames[role];
  const expires = token?.expiresAt ? `, expires ${token.expiresAt}` : "";
  ctx.io.err(
    `token/${name} created (${what}${expires}): it is shown only now; use it with --token or ATE_TOKEN`,
  );
}

function expiresIn(t: Token, now: Date): string {
  if (!t.expiresAt) return "never";
  const left = Date.parse(t.expiresAt) - now.getTime();
  return left > 0 ? `in ${humanAge(left)}` : "expired";
}

/** `ate get tokens [NAME…]`: NAME ROLE ATESPACE AGE EXPIRES, never a secret. */
export async function getTokens(
  ctx: CliContext,
  names: readonly string[],
  output: string | undefined,
): Promise<void> {
  const format = parseOutputFormat(output);
  let tokens = (await (await ctx.adminApi()).listTokens({})).tokens;
  if (names.length) {
    const missing = names.filter((n) => !tokens.some((t) => t.name === n));
    if (missing.length)
      throw new AteError(
        Code.NotFound,
        `token ${missing.join(", ")} not found: see ate get tokens`,
      );
    tokens = tokens.filter((t) => names.includes(t.name));
  }
  if (format === "yaml" || format === "json")
    return ctx.io.out(
      await formatRecords(TokenSchema, tokens, "tokens", format, names.length === 1),
    );
  if (format === "name") return ctx.io.out(tokens.map((t) => `token/${t.name}`).join("\n"));
  if (!tokens.length) return ctx.io.err("No tokens found.");
  const now = ctx.io.now();
  ctx.io.out(
    renderTable(
      ["NAME", "ROLE", "ATESPACE", "AGE", "EXPIRES"],
      tokens.map((t) => [
        t.name,
        roleNames[t.role] ?? `unknown (${t.role})`,
        t.atespace || (t.role === Role.ADMIN || t.role === Role.ROUTER ? "<all>" : "<none>"),
        humanAge(now.getTime() - Date.parse(t.createdAt)),
        expiresIn(t, now),
      ]),
    ),
  );
}

/** `ate delete token NAME…`: revoked at once. Returns the failures, one per name. */
export async function deleteTokens(
  ctx: CliContext,
  names: readonly string[],
  ignoreNotFound: boolean,
): Promise<AteError[]> {
  if (!names.length)
    throw new AteError(Code.InvalidArgument, "name the token to delete: ate delete token NAME");
  const failures: AteError[] = [];
  for (const name of names) {
    try {
      await (await ctx.adminApi()).deleteToken({ name });
      ctx.io.out(`token/${name} deleted`);
    } catch (err) {
      const e = AteError.from(err);
      if (!(ignoreNotFound && e.code === Code.NotFound)) failures.push(e);
    }
  }
  return failures;
}

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { goldenAtespace } from "../controlplane/index.ts";
import { withConnectErrors } from "../errors/connect.ts";
import { AteError, Code } from "../errors/index.ts";
import {
  type Admin,
  Role as RoleMsg,
  type Token as TokenMsg,
  TokenSchema,
} from "../proto/gen/ateapi/admin_pb.ts";
import type { Role, TokenInfo } from "./principal.ts";
import { principalKey } from "./request-principal.ts";
import type { TokenStore } from "./token-store.ts";

/** The name of the admin credential `ate up` keeps in its state dir (admin.token). */
export const localAdminTokenName = "admin";

const roleToWire: Record<Role, RoleMsg> = {
  admin: RoleMsg.ADMIN,
  tenant: RoleMsg.TENANT,
  node: RoleMsg.NODE,
  router: RoleMsg.ROUTER,
  actor: RoleMsg.ACTOR,
};

/** A wire role as ours; unspecified is a tenant (the proto's documented default). */
function roleFromWire(r: RoleMsg): Role {
  if (r === RoleMsg.UNSPECIFIED) return "tenant";
  const found = (Object.entries(roleToWire) as [Role, RoleMsg][]).find(([, w]) => w === r);
  if (!found)
    throw new AteError(
      Code.InvalidArgument,
      `role: Unsupported value: ${r}: give ROLE_ADMIN, ROLE_TENANT, ROLE_NODE or ROLE_ROUTER`,
    );
  return found[0];
}

export function tokenToWire(t: TokenInfo): TokenMsg {
  return create(TokenSchema, {
    name: t.name,
    role: roleToWire[t.role],
    atespace: t.atespace ?? "",
    actor: t.actor ?? "",
    createdAt: t.createdAt,
    expiresAt: t.expiresAt ?? "",
  });
}

const wrap = withConnectErrors;

/**
 * The ateapi.Admin service: tokens. Who may call what is decided at the API server's edge
 * (authorizeAdmin); this only does it.
 */
export function adminService(tokens: TokenStore): ServiceImpl<typeof Admin> {
  return {
    createToken: wrap(async (req) => {
      const role = roleFromWire(req.role);
      if (req.name === localAdminTokenName || /^admin-[0-9a-f]{8}$/.test(req.name))
        throw new AteError(
          Code.InvalidArgument,
          `name: Invalid value: "${req.name}": reserved for the admin credentials ate up and control planes keep in their state dirs (admin.token); pick another name`,
        );
      if (role === "tenant" && req.atespace === goldenAtespace)
        throw new AteError(
          Code.PermissionDenied,
          `atespace ${goldenAtespace} is reserved for ate's golden snapshots: no token can be made for it`,
        );
      const ttl = Number(req.ttlSeconds);
      const { token, text } = await tokens.create({
        name: req.name,
        role,
        ...(req.atespace ? { atespace: req.atespace } : {}),
        ttlMs: ttl * 1000,
      });
      return { token: tokenToWire(token), secret: text };
    }),
    listTokens: wrap(async () => ({ tokens: (await tokens.list()).map(tokenToWire) })),
    deleteToken: wrap(async (req) => {
      await tokens.delete(req.name);
      return {};
    }),
    whoAmI: wrap(async (_req, ctx) => {
      const who = ctx.values.get(principalKey);
      if (!who || who instanceof AteError)
        throw new AteError(Code.Unauthenticated, "no principal for this call");
      return { token: tokenToWire(who) };
    }),
  };
}

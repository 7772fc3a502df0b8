import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { goldenAtespace } from "../controlplane/index.ts";
import { AteError, Code, withConnectErrors } from "../errors/index.ts";
import {
  type Admin,
  Role as RoleMsg,
  type Token as TokenMsg,
  TokenSchema,
} from "../proto/gen/ateapi/admin_pb.ts";
import type { TokenInfo } from "./principal.ts";
import { principalKey } from "./request-principal.ts";
import type { TokenStore } from "./token-store.ts";

/** The name of the admin credential `ate up` keeps in its state dir (admin.token). */
export const localAdminTokenName = "admin";

export function tokenToWire(t: TokenInfo): TokenMsg {
  return create(TokenSchema, {
    name: t.name,
    role: t.role === "admin" ? RoleMsg.ADMIN : RoleMsg.TENANT,
    atespace: t.atespace ?? "",
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
      const role = req.role === RoleMsg.ADMIN ? "admin" : "tenant";
      if (req.name === localAdminTokenName)
        throw new AteError(
          Code.InvalidArgument,
          `name: Invalid value: "${req.name}": reserved for the admin credential ate up keeps in its state dir (admin.token); pick another name`,
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

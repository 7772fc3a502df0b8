import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type GcReport, goldenAtespace } from "../controlplane/index.ts";
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

/** One collector run, as ControlPlane.collectGarbage does it. */
export type CollectGarbage = (o: {
  dryRun?: boolean;
  graceMs?: number;
  signal?: AbortSignal;
}) => Promise<GcReport>;

/** Past this a grace is refused: a year (no copy is on its way that long). */
const maxGraceMs = 365 * 86_400_000;

/**
 * The ateapi.Admin service: tokens, and the snapshot collector's runs on demand. Who may call
 * what is decided at the API server's edge (authorizeAdmin); this only does it.
 */
export function adminService(tokens: TokenStore, gc?: CollectGarbage): ServiceImpl<typeof Admin> {
  return {
    collectGarbage: wrap(async (req, ctx) => {
      if (!gc) throw new AteError(Code.Unimplemented, "this server runs no snapshot collector");
      if (req.graceMs !== undefined && req.graceMs > BigInt(maxGraceMs))
        throw new AteError(
          Code.InvalidArgument,
          `grace_ms: Invalid value: ${req.graceMs}: at most ${maxGraceMs} (a year)`,
        );
      const report = await gc({
        dryRun: req.dryRun,
        ...(req.graceMs !== undefined ? { graceMs: Number(req.graceMs) } : {}),
        signal: ctx.signal,
      });
      return {
        removals: report.removals.map((r) => ({
          uri: r.uri,
          bytes: BigInt(r.bytes),
          reason: r.reason,
        })),
        skipped: report.skipped,
        bytes: BigInt(report.bytes),
        recordsChanged: report.recordsChanged,
      };
    }),
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

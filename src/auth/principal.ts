/** admin: everything. tenant: actors and their logs in one atespace, and reading ActorTemplates. */
export type Role = "admin" | "tenant";

/** A token as lists show it (never its secret), and who a request authenticated as. */
export interface TokenInfo {
  name: string;
  role: Role;
  /** tenant: the one atespace it may use. */
  atespace?: string;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339; absent: never expires. */
  expiresAt?: string;
}

export type Principal = TokenInfo;

/** How messages name the caller: `admin token "admin"`, `token "ci" (tenant of atespace a)`. */
export function describePrincipal(p: Principal): string {
  return p.role === "admin"
    ? `admin token "${p.name}"`
    : `token "${p.name}" (tenant of atespace ${p.atespace})`;
}

/**
 * admin: everything. tenant: actors and their logs in one atespace, and reading ActorTemplates.
 * node: registering and heartbeating as a node, fetching runtime assets. router: reading
 * actors and templates, watching actors, resuming them and reporting their activity.
 */
export type Role = "admin" | "tenant" | "node" | "router";

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

/** Every role, for checking what comes from storage or the wire. */
export const roles: readonly Role[] = ["admin", "tenant", "node", "router"];

/**
 * How messages name the caller: `admin token "admin"`, `token "ci" (tenant of atespace a)`,
 * `node token "n1"`, `router token "r1"`.
 */
export function describePrincipal(p: Principal): string {
  return p.role === "tenant"
    ? `token "${p.name}" (tenant of atespace ${p.atespace})`
    : `${p.role} token "${p.name}"`;
}

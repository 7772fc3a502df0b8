/**
 * admin: everything. tenant: actors and their logs in one atespace, and reading ActorTemplates.
 * node: registering and heartbeating as a node, fetching runtime assets. router: reading
 * actors and templates, watching actors, resuming them and reporting their activity. actor:
 * the credential ate gives each running actor (/run/ate/token, see actor-token.ts): getting,
 * suspending and pausing that actor itself, nothing else.
 */
export type Role = "admin" | "tenant" | "node" | "router" | "actor";

/** A token as lists show it (never its secret), and who a request authenticated as. */
export interface TokenInfo {
  name: string;
  role: Role;
  /** tenant: the one atespace it may use; actor: the actor's atespace. */
  atespace?: string;
  /** actor: the actor (its id in `atespace`) the token is for. */
  actor?: string;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339; absent: never expires. */
  expiresAt?: string;
}

export type Principal = TokenInfo;

/**
 * The roles of tokens an admin makes (TokenStore), for checking what comes from storage or the
 * wire. Not `actor`: ate issues those itself, one per running actor (ActorTokens).
 */
export const roles: readonly Role[] = ["admin", "tenant", "node", "router"];

/**
 * How messages name the caller: `admin token "admin"`, `token "ci" (tenant of atespace a)`,
 * `node token "n1"`, `router token "r1"`, `the actor token of default/alice`.
 */
export function describePrincipal(p: Principal): string {
  if (p.role === "actor") return `the actor token of ${p.atespace}/${p.actor}`;
  return p.role === "tenant"
    ? `token "${p.name}" (tenant of atespace ${p.atespace})`
    : `${p.role} token "${p.name}"`;
}

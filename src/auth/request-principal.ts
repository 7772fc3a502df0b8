import { createContextKey } from "@connectrpc/connect";
import type { AteError } from "../errors/index.ts";
import type { Principal } from "./principal.ts";

/**
 * Who a Control or Admin call comes from, as the API server's edge found it: the principal,
 * or why the request has none (so the call fails UNAUTHENTICATED in its own protocol).
 * Undefined (never set) is refused too.
 */
export const principalKey = createContextKey<Principal | AteError | undefined>(undefined, {
  description: "the caller's principal",
});

import { AteError, Code } from "../../errors/index.ts";

/** `ateact_<atespace>_<actor>_<64 hex>` (src/auth/actor-token.ts), at most 199 characters. */
const shape = /^ateact_[a-z0-9][-a-z0-9]{0,62}_[a-z0-9][-a-z0-9]{0,62}_[0-9a-f]{64}$/;

/**
 * The actor token of a Run or Restore, checked before the node writes it into the sandbox's
 * /run/ate/token: only the shape ate issues. Never echoed in the error: it is a credential.
 */
export function actorTokenFromWire(value: string): string {
  if (shape.test(value)) return value;
  throw new AteError(
    Code.InvalidArgument,
    `actor_token: Invalid value: not an actor token (ateact_<atespace>_<actor>_<64 hex digits>, ${value.length} characters given)`,
  );
}

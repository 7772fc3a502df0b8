import { createHash, timingSafeEqual } from "node:crypto";
import { Code as ConnectCode, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AteError, Code } from "../../errors/index.ts";

/** Shortest call secret accepted: a node makes 32 random bytes; anything guessable is refused. */
const minSecretLength = 16;

function checkSecret(secret: string): void {
  if (secret.length < minSecretLength || /\s/.test(secret))
    throw new AteError(
      Code.InvalidArgument,
      `a node call secret must be at least ${minSecretLength} characters without spaces (make one with randomBytes(32))`,
    );
}

/** Sends `Authorization: Bearer <secret>` with every call. */
export function bearer(secret: string): Interceptor {
  checkSecret(secret);
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${secret}`);
    return next(req);
  };
}

/**
 * Refuses every call without exactly `Authorization: Bearer <secret>` (UNAUTHENTICATED). The
 * compare runs over digests of equal length, so its time says nothing about the secret.
 */
export function requireBearer(secret: string): Interceptor {
  checkSecret(secret);
  const want = createHash("sha256").update(`Bearer ${secret}`).digest();
  return (next) => (req) => {
    const got = createHash("sha256")
      .update(req.header.get("authorization") ?? "")
      .digest();
    if (!timingSafeEqual(got, want))
      throw new ConnectError(
        "this node API needs the bearer secret the node registered with",
        ConnectCode.Unauthenticated,
      );
    return next(req);
  };
}
